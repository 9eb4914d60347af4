"""The bitstream build: the steps of :mod:`.steps` run in order in one build folder.

Amaranth's build plan supplies the exact tool commands for the board (its ``build_*.sh``); the
steps run them one by one with the YoWASP tools, keep every step's log in the build folder, and
stop at the first failing step with an error naming it and its log. The last step joins
nextpnr's ``report.json`` (utilization, achieved clock) with the estimate and the build facts
into a :class:`~.report.BuildReport`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttzo.records import write_text_atomic
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.boards import Board

from .report import BuildReport, sweep_summary
from .steps import (
    DEFAULT_STEPS,
    PLACERS,
    QUERY_BATCH,
    YOSYS_AFTER_READ,
    BuildContext,
    BuildOptions,
    Step,
)
from .tools import BuildError, parse_steps, tool_versions

#: The steps a dry run keeps: no synthesis of the netlist, no place and route.
DRY_RUN_STEPS = ("estimate", "elaborate", "stats")

__all__ = ["BuildError", "BuildResult", "BuildReport", "PLACERS", "QUERY_BATCH", "Step",
           "YOSYS_AFTER_READ", "build", "parse_steps", "run_steps", "sweep_summary",
           "tool_versions"]


@dataclass
class BuildResult:
    """What a build wrote: its report (``None`` when the steps stop before it), folder,
    bitstream, a record (step, seconds, log) per step run, and the build plan's tool script
    and commands."""

    report: BuildReport | None
    build_dir: Path
    bitstream: Path | None
    steps: list[dict[str, Any]] = field(default_factory=list)
    script: str = ""
    commands: dict[str, list[str]] = field(default_factory=dict)


def run_steps(ctx: BuildContext, steps: Sequence[Step]) -> None:
    """Run ``steps`` in order on ``ctx``: each step's report fields join ``ctx.fields`` and its
    record ``ctx.records``. The synthesized netlist is read before the first of a run of
    netlist steps and written back, atomically, after the last."""
    netlist = ctx.out_dir / "ttzo.json"
    for index, step in enumerate(steps):
        if step.netlist and ctx.design is None:
            try:
                ctx.design = json.loads(netlist.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise BuildError(step.name, netlist, f"{type(exc).__name__}: {exc}") from exc
        start = time.monotonic()
        try:
            fields = step.run(ctx)
        except (OSError, ValueError, KeyError) as exc:
            if not step.netlist:
                raise
            failed = ctx.out_dir / step.log  # a netlist pass met a netlist it cannot handle
            failed.write_text(f"{type(exc).__name__}: {exc}\n")
            raise BuildError(step.name, failed, f"{type(exc).__name__}: {exc}") from exc
        if fields is not None:
            ctx.fields.update(fields)
            ctx.records.append({"step": step.name, "seconds": round(time.monotonic() - start, 1),
                                "log": ctx.logs.get(step.name, step.log)})
        last_of_run = index + 1 == len(steps) or not steps[index + 1].netlist
        if step.netlist and last_of_run and ctx.design is not None:
            write_text_atomic(netlist, json.dumps(ctx.design))
            ctx.design = None


def build(board: Board, config: DeviceConfig, out_dir: Path, clock_mhz: float, baud: int,
          seed: int | Sequence[int] = 1, allow_timing_fail: bool = True,
          endpoints: bool = False, jobs: int = 1, placer: str = PLACERS[0],
          dry_run: bool = False, module_stats: bool = False,
          steps: Sequence[Step] | None = None, log=print) -> BuildResult:
    """Build the accelerator of ``config`` for ``board`` into ``out_dir``.

    With several seeds, place and route runs once per seed (``jobs`` in parallel, each in a
    folder ``pnr-seed<N>``) and the build continues with the one of highest Fmax; the report's
    ``seed_sweep`` lists every seed's Fmax and time.

    With ``endpoints``, nextpnr also writes the routed design's delays (``ttzo.sdf``) and a last
    step checks every endpoint against the requested clock (:mod:`.sta`): ``endpoints.txt``
    lists the failing ones, the report counts them and groups them by design hierarchy and by
    the source line of each endpoint's flip-flop.

    With ``dry_run``, the build stops after the estimate and the elaboration: the folder holds
    ``estimate.json`` and Amaranth's build plan (RTLIL, constraints, ``build_ttzo.sh``), and no
    tool runs (but Yosys for ``module_stats``).

    With ``module_stats``, the design is also synthesized with its hierarchy kept, and each
    module's own LUTs, flip-flops, carry cells, multipliers and block RAMs go to
    ``module_stats.json`` and the report (:mod:`.stats`): where the resources go.

    ``placer`` is nextpnr's placer (:data:`PLACERS`): ``heap`` (analytic placement, then
    simulated-annealing refinement) reaches the highest Fmax; ``static`` (electrostatic
    placement) places several times faster and lower (on the MNIST accelerator 71 MHz in 13.8
    minutes instead of 86-95 MHz in about 24), for quick iterations.

    ``steps`` replaces :data:`~.steps.DEFAULT_STEPS` (an edited copy: a pass added, the flow cut
    short).

    Raises
    ------
    BuildError
        A step failed, or the estimate shows the design cannot fit (step ``estimate``).
    ValueError
        ``seed`` is not an integer or a list of distinct integers, ``jobs`` is not positive, or
        ``placer`` is not one of :data:`PLACERS`.
    """
    options = BuildOptions(clock_mhz, baud, (seed,) if isinstance(seed, int) else tuple(seed),
                           jobs, placer, allow_timing_fail, endpoints, module_stats)
    steps = list(DEFAULT_STEPS if steps is None else steps)
    if dry_run:  # up to the last of the steps that run no place and route
        names = [s.name for s in steps]
        planning = [names.index(n) for n in DRY_RUN_STEPS if n in names]
        steps = steps[:max(planning) + 1] if planning else steps
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = BuildContext(board, config, out_dir, options, log)
    run_steps(ctx, steps)
    bitstream = (out_dir / ctx.report.bitstream) if ctx.report and ctx.report.bitstream else None
    return BuildResult(ctx.report, out_dir, bitstream, ctx.records, ctx.script, ctx.commands)
