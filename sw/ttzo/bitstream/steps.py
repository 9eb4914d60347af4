"""The build's steps: each a function of the build's context that returns report fields.

:data:`DEFAULT_STEPS` is the flow, in order; a list of :class:`Step` can be edited (a pass
inserted after synthesis, the flow cut after elaboration) and handed to
:func:`ttzo.bitstream.flow.build`. A step that does not apply (the ECP5 netlist passes on an
iCE40, the endpoint check without ``--endpoints``) returns ``None`` and leaves no record.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttzo.estimate import estimate
from ttzo.provenance import machine
from ttzo.records import write_text_atomic
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.boards import Board
from ttzo.spec.schedule import BANK_MEMORY

from .dspreg import pack_dsp_registers
from .fanout import replicate_fanout_registers
from .outreg import pack_output_registers
from .replicate import replicate_block_registers
from .report import RESOURCE_FIELDS, BuildReport
from .sta import by_source, endpoint_slacks, summarize
from .stats import module_resources, stats_script
from .tools import BuildError, parse_steps, run_tool, tool_versions

__all__ = ["BuildContext", "BuildOptions", "DEFAULT_STEPS", "PLACERS", "QUERY_BATCH", "Step",
           "YOSYS_AFTER_READ", "pnr_sweep"]

#: Samples per forward query in the report's throughput (the MNIST training batch).
QUERY_BATCH = 128
#: nextpnr placers a build may use (the first is the default).
PLACERS = ("heap", "static")
#: Yosys commands run right after reading the design. Amaranth names a wire for every element
#: of an array-shaped signal (``s_reg[3]``); Yosys 0.70's ABC9 reintegration maps bits by name
#: and fails on such names in wide designs ("GetSize(conn.first) == GetSize(conn.second)"), so
#: they are renamed to plain identifiers (``s_reg_3_``); hiding them (``rename -hide``) works
#: too, but leaves timing reports with cell names that say nothing about the design.
#: Then the read ports of banked memories are declared "don't care" on a read/write collision
#: (ttzo.hw.bram: the design never uses such a read), so Yosys adds no bypass logic behind the
#: blocks and every block's data output drives its bank register alone (see :mod:`.outreg`).
YOSYS_AFTER_READ = ("rename -unescape w:*[[]*; "
                    f"setparam -set COLLISION_X_MASK 1 t:$memrd_v2 r:MEMID=\\\\{BANK_MEMORY}* %i")


@dataclass(frozen=True)
class BuildOptions:
    """How to build: clock and baud rate, place-and-route seeds (the build keeps the fastest),
    seeds run in parallel, placer, whether a missed clock still gives a bitstream, and whether
    every endpoint is checked against the clock afterwards."""

    clock_mhz: float
    baud: int
    seeds: tuple[int, ...] = (1,)
    jobs: int = 1
    placer: str = PLACERS[0]
    allow_timing_fail: bool = True
    endpoints: bool = False
    module_stats: bool = False

    def __post_init__(self) -> None:
        seeds = self.seeds
        if not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
            raise ValueError(f"place-and-route seeds must be integers, not {list(seeds)!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"place-and-route seeds repeat: {list(seeds)}")
        if self.placer not in PLACERS:
            raise ValueError(f"placer must be one of {PLACERS}, not {self.placer!r}")
        if not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs must be a positive integer, not {self.jobs!r}")


@dataclass
class BuildContext:
    """What the steps share: the inputs, and what earlier steps produced."""

    board: Board
    config: DeviceConfig
    out_dir: Path
    options: BuildOptions
    log: Callable[[str], None] = print
    started: float = field(default_factory=time.monotonic)
    #: one record (step, seconds, log) per step run
    records: list[dict[str, Any]] = field(default_factory=list)
    #: report fields returned by the steps so far
    fields: dict[str, Any] = field(default_factory=dict)
    #: log file of a step whose name is not fixed (the elaboration's tool script)
    logs: dict[str, str] = field(default_factory=dict)
    #: the build plan's tool script, and each tool step's command from it
    script: str = ""
    commands: dict[str, list[str]] = field(default_factory=dict)
    #: the synthesized netlist while netlist steps run on it
    design: dict[str, Any] | None = None
    report: BuildReport | None = None


@dataclass(frozen=True)
class Step:
    """A build step: ``run(ctx)`` returns report fields (``None``: the step does not apply).

    ``log`` is the file it leaves in the build folder; ``netlist`` steps work on the
    synthesized netlist, read before the first of them and written back (atomically) after the
    last of a run of them.
    """

    name: str
    run: Callable[[BuildContext], dict[str, Any] | None]
    log: str
    netlist: bool = False


def run_estimate(ctx: BuildContext) -> dict[str, Any]:
    """Refuse early what cannot fit (DSP and block RAM counts are exact; LUT and FF counts are
    a fit, so exceeding them only warns: place and route has the last word)."""
    config = ctx.config
    est = estimate(config.spec, config.lanes, ctx.board.name, ctx.options.clock_mhz,
                   batch=config.lanes * config.input_groups, config=config)
    (ctx.out_dir / "estimate.json").write_text(json.dumps(est.to_dict(), indent=2) + "\n")
    exact = [k for k in est.exceeded if k in ("DSP", "BRAM")]
    if exact:
        detail = ", ".join(f"{k} {est.used[k]} > {est.available[k]}" for k in exact)
        raise BuildError("estimate", ctx.out_dir / "estimate.json",
                         f"the design does not fit {ctx.board.name}: {detail}")
    for k in est.exceeded:
        ctx.log(f"[ttzo build] warning: estimated {k} {est.used[k]} exceeds "
                f"{est.available[k]} (an approximate count; trying anyway)")
    return {"estimate": {"used": est.used, "available": est.available},
            "cycles_per_group": est.group_interval_cycles}


def run_elaborate(ctx: BuildContext) -> dict[str, Any]:
    """Amaranth's build plan: RTLIL, constraints and the tool script, with each tool's
    command."""
    from ttzo.hw.top import BoardTop

    board, opts = ctx.board, ctx.options
    ctx.log(f"[ttzo build] elaborating for {board.name} ({board.device.part})")
    top = BoardTop(ctx.config, opts.clock_mhz * 1e6, opts.baud, board.device.bank_shapes)
    os.environ.setdefault("OPENFPGALOADER", "true")  # only checked, never run, by the plan
    try:
        plan = board.platform().prepare(
            top, name="ttzo",
            synth_opts=board["synth_opts"],
            script_after_read="; ".join(c for c in (YOSYS_AFTER_READ, board["yosys_after_read"])
                                        if c),
            nextpnr_opts=(f"--report report.json --seed {opts.seeds[0]} "
                          + ("--timing-allow-fail " if opts.allow_timing_fail else "")
                          + ("--sdf ttzo.sdf " if opts.endpoints else "")
                          + (f"--placer {opts.placer} " if opts.placer != PLACERS[0] else "")
                          + board["nextpnr_opts"]),
        )
    except Exception as exc:  # noqa: BLE001 - any elaboration error is this step's failure
        raise BuildError("elaborate", None, f"{type(exc).__name__}: {exc}") from exc
    plan.extract(ctx.out_dir)
    ctx.script = next(n for n in plan.files if n.startswith("build_") and n.endswith(".sh"))
    ctx.logs["elaborate"] = ctx.script
    ctx.commands = dict(parse_steps(plan.files[ctx.script]))
    return {"board": board.name, "part": board.device.part, "model": ctx.config.spec.name,
            "lanes": ctx.config.lanes, "input_groups": ctx.config.input_groups,
            "params": ctx.config.spec.params, "clock_requested_mhz": opts.clock_mhz,
            "clock_pll_mhz": round(top.clock.achieved / 1e6, 4), "baud": opts.baud,
            "placer": opts.placer}


def run_stats(ctx: BuildContext) -> dict[str, Any] | None:
    """With ``module_stats``: synthesis with the hierarchy kept, each module's resources
    (:mod:`.stats`) in ``module_stats.json`` and the report (the largest 25)."""
    if not ctx.options.module_stats:
        return None
    plan = ctx.out_dir / "ttzo.ys"
    try:
        script = stats_script(plan.read_text())
    except (OSError, ValueError) as exc:
        raise BuildError("stats", plan, str(exc)) from exc
    (ctx.out_dir / "module_stats.ys").write_text(script)
    ctx.log(f"[ttzo build] stats: synthesis per module (log: {ctx.out_dir / 'stats.log'})")
    run_tool("stats", ["YOSYS", "-q", "module_stats.ys"], ctx.out_dir)
    device = ctx.board.device
    rows = module_resources((ctx.out_dir / "module_stats.txt").read_text(), device.dsp_name,
                            device.bram_name)
    write_text_atomic(ctx.out_dir / "module_stats.json", json.dumps(rows, indent=2) + "\n")
    return {"module_stats": rows[:25]}


def tool_step(name: str) -> Callable[[BuildContext], dict[str, Any]]:
    """A step that runs the build plan's command for ``name`` (synth, pack)."""
    def run(ctx: BuildContext) -> dict[str, Any]:
        if name not in ctx.commands:
            raise BuildError(name, None, f"the build plan has no {name} command")
        argv = ctx.commands[name]
        ctx.log(f"[ttzo build] {name}: {argv[0]} ... (log: {ctx.out_dir / (name + '.log')})")
        record = run_tool(name, argv, ctx.out_dir)
        ctx.log(f"[ttzo build] {name}: done in {record['seconds']} s")
        return {}
    run.__name__ = f"run_{name}"
    return run


def _ecp5_pass(name: str, transform: Callable[[dict[str, Any]], Any],
               fields: Callable[[Any], dict[str, Any]], message: Callable[[Any], str]):
    """The netlist step ``name``: ``transform`` on an ECP5 design, its result's ``log_text`` in
    ``<name>.log``, ``fields`` of the result for the report; on other families it does not
    apply."""
    def run(ctx: BuildContext) -> dict[str, Any] | None:
        if ctx.board.family != "ecp5":
            return None
        result = transform(ctx.design)
        (ctx.out_dir / f"{name}.log").write_text(result.log_text())
        ctx.log(f"[ttzo build] {name}: {message(result)}")
        return fields(result)
    run.__name__ = f"run_{name}"
    return run


run_outreg = _ecp5_pass(
    "outreg", pack_output_registers, lambda r: {"bram_output_registers": len(r.packed)},
    lambda r: f"{len(r.packed)} block RAM output registers packed")
run_dspreg = _ecp5_pass(
    "dspreg", pack_dsp_registers,
    lambda r: {"dsp_input_registers": len(r.inputs), "dsp_output_registers": len(r.outputs)},
    lambda r: f"{len(r.inputs)} multiplier input and {len(r.outputs)} output registers packed")
run_replicate = _ecp5_pass(
    "replicate", replicate_block_registers, lambda r: {"bram_register_copies": r.copies},
    lambda r: f"{len(r.replicated)} registers driving several block RAMs or multipliers copied "
              f"per block ({r.copies} copies)")
run_fanout = _ecp5_pass(
    "fanout", replicate_fanout_registers,
    lambda r: {"fanout_register_copies": r.copies, "fanout_lut_copies": r.lut_copies},
    lambda r: f"{len(r.replicated)} high-fanout pipeline registers and {len(r.luts)} lookup "
              f"tables copied per group of loads ({r.copies} and {r.lut_copies} copies)")


def _system_fmax(report: dict[str, Any]) -> float:
    """The achieved Fmax of the clock with the least margin over its constraint."""
    clocks = report.get("fmax", {}).values()
    worst = min(clocks, key=lambda c: float(c["achieved"]) - float(c["constraint"]), default=None)
    return 0.0 if worst is None else float(worst["achieved"])


def pnr_sweep(argv: list[str], seeds: list[int], cwd: Path, jobs: int,
              log) -> dict[str, Any]:
    """Place and route once per seed (``jobs`` at a time), each in ``pnr-seed<N>/``; the seed
    with the highest achieved Fmax wins and its outputs are copied into ``cwd``.

    nextpnr's result depends on its seed as much as on most design changes (several MHz on the
    MNIST accelerator), so a sweep is the usual way to take the best of a few placements.
    """
    if "--seed" not in argv:
        raise BuildError("pnr", None, "the place-and-route command has no --seed option")
    at = argv.index("--seed") + 1
    inputs = {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--json", "--lpf", "--pcf")}

    def run(seed: int) -> dict[str, Any]:
        folder = cwd / f"pnr-seed{seed}"
        folder.mkdir(exist_ok=True)
        for name in inputs:  # the YoWASP tools see only their working folder
            target = folder / name
            target.unlink(missing_ok=True)
            try:
                os.link(cwd / name, target)
            except OSError:
                shutil.copyfile(cwd / name, target)
        record = run_tool("pnr", argv[:at] + [str(seed)] + argv[at + 1:], folder)
        placed = _placement(folder, seed, record, f"{folder.name}/")
        log(f"[ttzo build] pnr: seed {seed}: {placed['fmax_mhz']} MHz in {record['seconds']} s")
        return placed

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(seeds)))) as pool:
        results = list(pool.map(run, seeds))
    best = max(results, key=lambda r: r["fmax_mhz"])  # the first of equals
    folder = cwd / f"pnr-seed{best['seed']}"
    for path in folder.iterdir():
        if path.name not in inputs:
            shutil.copyfile(path, cwd / path.name)
    return {"seed": best["seed"], "seed_sweep": results}


def _placement(folder: Path, seed: int, record: dict[str, Any], prefix: str = "") -> dict:
    """One place and route's seed, Fmax (from its ``report.json``), time and log."""
    try:
        report = json.loads((folder / "report.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError("pnr", folder / "report.json", f"unreadable: {exc}") from exc
    return {"seed": seed, "fmax_mhz": round(_system_fmax(report), 2),
            "seconds": record["seconds"], "log": prefix + record["log"]}


def run_pnr(ctx: BuildContext) -> dict[str, Any]:
    """Place and route: once, or once per seed keeping the fastest (:func:`pnr_sweep`). A
    design with more cells than the chip is refused naming both counts."""
    argv, seeds = ctx.commands["pnr"], list(ctx.options.seeds)
    ctx.log(f"[ttzo build] pnr: {argv[0]} ... (log: {ctx.out_dir / 'pnr.log'})")
    try:
        if len(seeds) > 1:
            return pnr_sweep(argv, seeds, ctx.out_dir, ctx.options.jobs, ctx.log)
        record = run_tool("pnr", argv, ctx.out_dir)
    except BuildError as err:
        raise _overfull(err, ctx.board) or err from err
    ctx.log(f"[ttzo build] pnr: done in {record['seconds']} s")
    return {"seed": seeds[0], "seed_sweep": [_placement(ctx.out_dir, seeds[0], record)]}


def _overfull(err: BuildError, board: Board) -> BuildError | None:
    """``err`` restated when nextpnr's placer found more cells of a kind than the chip has
    ("Failed to expand region ... of N <cell>s"); ``None`` otherwise."""
    try:
        text = err.log.read_text(errors="replace") if err.log else ""
    except OSError:
        return None
    match = re.search(r"Failed to expand region .* of (\d+) (\w+?)s\b", text)
    if not match:
        return None
    needed, cell = int(match.group(1)), match.group(2)
    kinds = [r for r, c in board.cells.items() if c == cell]
    available = board.device.available[kinds[0]] if kinds else None
    have = f", the {board.device.part} has {available:,}" if available is not None else ""
    return BuildError("pnr", err.log, f"the design does not fit {board.name}: it needs "
                                      f"{needed:,} {cell} cells{have}")


def run_sta(ctx: BuildContext) -> dict[str, Any] | None:
    """With ``endpoints``: every endpoint's setup slack at the requested clock, from the SDF
    nextpnr wrote; ``endpoints.txt`` lists the failing ones (:mod:`.sta`)."""
    if not ctx.options.endpoints:
        return None
    cwd, clock_mhz = ctx.out_dir, ctx.options.clock_mhz
    try:
        ends = endpoint_slacks(cwd / "ttzo.sdf", 1000.0 / clock_mhz)
    except OSError as exc:
        raise BuildError("sta", cwd / "ttzo.sdf", f"{type(exc).__name__}: {exc}") from exc
    failing = [e for e in ends if e.slack_ns < 0]
    try:
        netlist = json.loads((cwd / "ttzo.json").read_text())
    except (OSError, json.JSONDecodeError):
        netlist = {}
    root = str(Path(__file__).resolve().parents[3]) + "/"  # the checkout: hw/..., sw/...
    (cwd / "endpoints.txt").write_text(
        f"# {len(failing)} of {len(ends)} endpoints fail at {clock_mhz} MHz: slack (ns), "
        "endpoint, start of its worst path\n"
        + "".join(f"{e.slack_ns:8.3f}  {e.pin}  <-  {e.start}\n" for e in failing))
    ctx.log(f"[ttzo build] sta: {len(failing)} endpoints fail at {clock_mhz} MHz (list: "
            f"{cwd / 'endpoints.txt'})")
    return {"failing_endpoints": len(failing),
            "worst_slack_ns": ends[0].slack_ns if ends else None,
            "failing_groups": summarize(failing)[:12],
            "failing_sources": by_source(failing, netlist, root)[:12]}


def _utilization(pnr: dict, board: Board) -> dict[str, Any]:
    """nextpnr's used and available cells of each resource, as report fields."""
    cells = pnr.get("utilization", {})
    out = {}
    for prefix, name in RESOURCE_FIELDS:
        entry = cells.get(board.cells[name], {"used": 0, "available": 0})
        out[f"{prefix}_used"], out[f"{prefix}_available"] = (int(entry["used"]),
                                                             int(entry["available"]))
    if board.cells["FF"] == board.cells["LUT"]:
        out["ffs_used"] = out["ffs_available"] = None  # logic cells hold both; see LUT
    return out


def run_report(ctx: BuildContext) -> dict[str, Any]:
    """Join nextpnr's report (utilization, achieved clocks) with the estimate and the build
    facts into ``build_report.json`` and ``build_report.md``."""
    out_dir, config = ctx.out_dir, ctx.config
    # ecppack writes ttzo.bit, icepack ttzo.bin
    bitstream = next((out_dir / n for n in ("ttzo.bit", "ttzo.bin")
                      if (out_dir / n).exists() and (out_dir / n).stat().st_size), None)
    if bitstream is None:
        raise BuildError("pack", out_dir / "pack.log", "no bitstream was written")
    try:
        pnr = json.loads((out_dir / "report.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError("report", out_dir / "report.json", f"unreadable: {exc}") from exc
    clocks = {name: {"achieved_mhz": round(float(c["achieved"]), 2),
                     "requested_mhz": round(float(c["constraint"]), 2)}
              for name, c in pnr.get("fmax", {}).items()}
    fmax = round(_system_fmax(pnr), 2)
    at_fmax = estimate(config.spec, config.lanes, ctx.board.name,
                       min(fmax, ctx.options.clock_mhz), batch=QUERY_BATCH, config=config)
    report = BuildReport(**{
        **ctx.fields, **_utilization(pnr, ctx.board),
        "fmax_mhz": fmax, "clocks": clocks,
        "timing_met": all(c["achieved_mhz"] >= c["requested_mhz"] for c in clocks.values()),
        "forward_queries_per_s": round(at_fmax.forward_queries_per_s, 2),
        "query_batch": QUERY_BATCH, "samples_per_s": round(at_fmax.samples_per_s, 1),
        "build_time_s": round(time.monotonic() - ctx.started, 1), "steps": list(ctx.records),
        "bitstream": bitstream.name, "bitstream_bytes": bitstream.stat().st_size,
        "tools": tool_versions(ctx.board.family), "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    })
    ctx.report = report
    write_text_atomic(out_dir / "build_report.json", json.dumps(report.to_dict(), indent=2) + "\n")
    write_text_atomic(out_dir / "build_report.md", report.markdown())
    return {}


#: The flow, in order.
DEFAULT_STEPS: tuple[Step, ...] = (
    Step("estimate", run_estimate, "estimate.json"),
    Step("elaborate", run_elaborate, "build_ttzo.sh"),
    Step("stats", run_stats, "module_stats.json"),
    Step("synth", tool_step("synth"), "synth.log"),
    Step("outreg", run_outreg, "outreg.log", netlist=True),
    Step("dspreg", run_dspreg, "dspreg.log", netlist=True),
    Step("replicate", run_replicate, "replicate.log", netlist=True),
    Step("fanout", run_fanout, "fanout.log", netlist=True),
    Step("pnr", run_pnr, "pnr.log"),
    Step("pack", tool_step("pack"), "pack.log"),
    Step("sta", run_sta, "endpoints.txt"),
    Step("report", run_report, "build_report.json"),
)
