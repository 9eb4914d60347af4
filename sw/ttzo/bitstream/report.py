"""The build report: one typed record that the build writes (``build_report.json`` and
``.md``) and the CLI, the benchmarks and ``docs/results.md`` read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ttzo.records import record_from_dict
from ttzo.spec.boards import RESOURCES

__all__ = ["BuildReport", "sweep_summary"]

#: Resources the report counts (the board's): (field prefix, name).
RESOURCE_FIELDS = tuple(zip(("luts", "ffs", "dsp", "bram"), RESOURCES, strict=True))
#: Fields written only by builds that checked every endpoint (``--endpoints``).
ENDPOINT_FIELDS = ("failing_endpoints", "worst_slack_ns", "failing_groups", "failing_sources")


@dataclass
class BuildReport:
    """A finished build: what was built, how fast it runs, what it uses, how it was made.

    Resource counts are nextpnr's (``None`` where a family's cell holds two resources, as the
    iCE40's logic cell holds the LUT and the flip-flop); ``estimate`` is the analytic estimate
    before synthesis. Fields that records from before a field existed lack are ``None``.
    """

    model: str
    lanes: int
    input_groups: int
    params: int
    clock_requested_mhz: float
    fmax_mhz: float
    timing_met: bool
    seed: int
    seed_sweep: list[dict[str, Any]]
    luts_used: int | None
    luts_available: int | None
    dsp_used: int
    dsp_available: int
    bram_used: int
    bram_available: int
    estimate: dict[str, dict[str, int]]
    cycles_per_group: int
    forward_queries_per_s: float
    query_batch: int
    samples_per_s: float
    build_time_s: float
    steps: list[dict[str, Any]]
    bitstream_bytes: int
    tools: dict[str, str]
    board: str | None = None
    part: str | None = None
    clock_pll_mhz: float | None = None
    clocks: dict[str, dict[str, float]] = field(default_factory=dict)
    baud: int | None = None
    placer: str = "heap"
    ffs_used: int | None = None
    ffs_available: int | None = None
    # ECP5 netlist passes (None on families without them)
    bram_output_registers: int | None = None
    dsp_input_registers: int | None = None
    dsp_output_registers: int | None = None
    bram_register_copies: int | None = None
    fanout_register_copies: int | None = None
    fanout_lut_copies: int | None = None
    # with --endpoints only
    failing_endpoints: int | None = None
    worst_slack_ns: float | None = None
    failing_groups: list[dict[str, Any]] | None = None
    failing_sources: list[dict[str, Any]] | None = None
    # with --module-stats only: the largest modules' own cells
    module_stats: list[dict[str, Any]] | None = None
    bitstream: str | None = None
    machine: dict[str, Any] | None = None
    date: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildReport:
        """The report in ``data`` (a build report, or a benchmark record holding one and more);
        a missing required field raises a ``ValueError`` naming it."""
        return record_from_dict(cls, data, "build report")

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the endpoint fields only when they were checked)."""
        out = asdict(self)
        if self.failing_endpoints is None:
            for key in ENDPOINT_FIELDS:
                out.pop(key)
        if self.module_stats is None:
            out.pop("module_stats")
        return out

    def resource(self, name: str) -> tuple[int | None, int | None]:
        """``(used, available)`` of resource ``name`` (LUT, FF, DSP or BRAM)."""
        prefix = dict((n, p) for p, n in RESOURCE_FIELDS)[name]
        return getattr(self, f"{prefix}_used"), getattr(self, f"{prefix}_available")

    def markdown(self) -> str:
        """The report as a Markdown page (``build_report.md``)."""
        lines = [
            f"# ttzo build: {self.model} on {self.board} ({self.part})", "",
            f"- lanes {self.lanes}, input groups {self.input_groups}, {self.params} parameters",
            f"- clock: requested {self.clock_requested_mhz} MHz (PLL {self.clock_pll_mhz} MHz), "
            f"achieved Fmax **{self.fmax_mhz} MHz** ({'met' if self.timing_met else 'NOT met'})",
            f"- forward queries/s at min(Fmax, clock), batch {self.query_batch}: "
            f"{self.forward_queries_per_s} ({self.samples_per_s:,} samples/s)",
            f"- build time {self.build_time_s} s, placer {self.placer}, seed {self.seed}, "
            f"bitstream {self.bitstream_bytes} bytes",
            *(["- place and route per seed: " + sweep_summary(self.seed_sweep)]
              if len(self.seed_sweep) > 1 else []),
            "",
            "| resource | used | available | estimate |", "|---|---:|---:|---:|",
        ]
        for _, name in RESOURCE_FIELDS:
            used, available = self.resource(name)
            lines.append(f"| {name} | {'' if used is None else used} | "
                         f"{'' if used is None else available} | "
                         f"{self.estimate['used'].get(name, '')} |")
        lines += ["", "| clock | achieved MHz | requested MHz |", "|---|---:|---:|"]
        lines += [f"| `{n}` | {c['achieved_mhz']} | {c['requested_mhz']} |"
                  for n, c in self.clocks.items()]
        lines += self._endpoint_lines()
        if self.module_stats:
            lines += ["", "Largest modules (own cells, hierarchy kept; `module_stats.json` has "
                      "all):", "", "| module | LUT | FF | carry | DSP | BRAM |",
                      "|---|---:|---:|---:|---:|---:|"]
            lines += [f"| `{r['module']}` | {r['LUT']} | {r['FF']} | {r['carry']} | {r['DSP']} "
                      f"| {r['BRAM']} |" for r in self.module_stats]
        lines += ["", "| step | seconds | log |", "|---|---:|---|"]
        lines += [f"| {s['step']} | {s['seconds']} | {s['log']} |" for s in self.steps]
        lines += ["", "Tools: " + ", ".join(f"{k} ({v})" for k, v in self.tools.items()), ""]
        return "\n".join(lines)

    def _endpoint_lines(self) -> list[str]:
        if self.failing_endpoints is None:
            return []
        if not self.failing_endpoints:
            return ["", "Every endpoint meets the requested clock (worst slack "
                    f"{self.worst_slack_ns} ns)."]
        lines = ["", f"{self.failing_endpoints} endpoints fail at the requested clock "
                 "(`endpoints.txt`); by part of the design:", "",
                 "| part | failing endpoints | worst slack ns | worst path starts at |",
                 "|---|---:|---:|---|"]
        lines += [f"| `{g['group']}` | {g['count']} | {g['worst_ns']} | `{g['start']}` |"
                  for g in self.failing_groups or []]
        lines += ["", "By the source line of the endpoint's flip-flop:", "",
                  "| source | failing endpoints | worst slack ns |", "|---|---:|---:|"]
        lines += [f"| `{g['source']}` | {g['count']} | {g['worst_ns']} |"
                  for g in self.failing_sources or []]
        return lines


def sweep_summary(sweep: list[dict[str, Any]]) -> str:
    """One line for a seed sweep: each seed's Fmax and place-and-route time."""
    return ", ".join(f"seed {r['seed']}: {r['fmax_mhz']} MHz ({r['seconds']:.0f} s)"
                     for r in sweep)
