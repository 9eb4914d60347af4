"""Setup slack of every endpoint of a routed design, from nextpnr's SDF back-annotation.

nextpnr reports the worst path per clock only; closing timing on a large design needs all of
them. :func:`endpoint_slacks` reads the SDF nextpnr writes (``--sdf``: every cell's delays and
setup checks, every routed connection's delay) and runs a plain single-clock static timing
analysis over it: arrival times from every clocked output forward through combinational cell
arcs and interconnect, slack at every setup check. Delays are the SDF's maximum values, as
nextpnr's own Fmax uses; clock skew is taken as zero (the clock is on a global network).
:func:`summarize` groups the failing endpoints by design hierarchy.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Endpoint", "TimingGraph", "endpoint_slacks", "summarize", "by_source"]

#: Cell input pins that are clocks: an arc from one of them launches a path.
CLOCK_PINS = {"CLK", "CLKA", "CLKB", "CLKW", "CLKR", "CLK0", "CLK1", "CLK2", "CLK3", "WCK"}

_TRIPLE = r"\((-?[\d.]*):(-?[\d.]*):(-?[\d.]*)\)"
_IOPATH = re.compile(r"\(IOPATH (?:\((?:posedge|negedge) )?(\S+?)\)? (\S+) " + _TRIPLE)
_INTERCONNECT = re.compile(r"\(INTERCONNECT (\S+) (\S+) " + _TRIPLE)
_SETUP = re.compile(r"\(SETUP(?:HOLD)? \((?:posedge|negedge) (\S+)\) \((?:posedge|negedge) "
                    r"(\S+)\) " + _TRIPLE)
_INSTANCE = re.compile(r"\(INSTANCE ?(.*)\)")


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def _max_ps(groups: tuple[str, str, str]) -> float:
    return max(float(v) for v in groups if v not in ("", "-"))


@dataclass
class Endpoint:
    """A setup check: the data pin, its slack in ns and the path's start point."""

    pin: str
    slack_ns: float
    start: str


@dataclass
class TimingGraph:
    """Pins (``instance/port``) with their incoming arcs, launches and setup checks, in ps."""

    arcs: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    launch: dict[str, float] = field(default_factory=dict)
    setup: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_sdf(cls, path: Path) -> TimingGraph:
        graph = cls()
        instance = ""
        with open(path) as fh:
            for line in fh:
                line = line.strip()
                if line.startswith("(INTERCONNECT"):
                    m = _INTERCONNECT.match(line)
                    if m:
                        graph.arcs[_unescape(m[2])].append((_unescape(m[1]),
                                                            _max_ps(m.groups()[2:5])))
                elif line.startswith("(IOPATH"):
                    m = _IOPATH.match(line)
                    if m:
                        src, dst = f"{instance}/{m[1]}", f"{instance}/{m[2]}"
                        delay = _max_ps(m.groups()[2:5])
                        if m[1] in CLOCK_PINS:
                            graph.launch[dst] = max(graph.launch.get(dst, 0.0), delay)
                        else:
                            graph.arcs[dst].append((src, delay))
                elif line.startswith("(SETUP"):
                    m = _SETUP.match(line)
                    if m and m[2] in CLOCK_PINS:
                        pin = f"{instance}/{m[1]}"
                        graph.setup[pin] = max(graph.setup.get(pin, 0.0),
                                               _max_ps(m.groups()[2:5]))
                elif line.startswith("(INSTANCE"):
                    m = _INSTANCE.match(line)
                    instance = _unescape(m[1].strip()) if m else ""
        return graph

    def arrivals(self) -> dict[str, tuple[float, str]]:
        """Latest arrival (ps) at every pin reached from a launch, and that path's start."""
        done: dict[str, tuple[float, str]] = {}
        visiting: set[str] = set()
        for root in self.setup:
            stack = [root]
            while stack:  # iterative depth-first: paths are thousands of pins long
                pin = stack[-1]
                if pin in done:
                    stack.pop()
                    continue
                if pin not in visiting:
                    visiting.add(pin)
                    pending = [src for src, _ in self.arcs.get(pin, ())
                               if src not in done and src not in visiting]
                    if pending:
                        stack.extend(pending)
                        continue
                best = (self.launch[pin], pin) if pin in self.launch else (float("-inf"), "")
                for src, delay in self.arcs.get(pin, ()):
                    t, start = done.get(src, (float("-inf"), ""))  # absent: a loop, cut
                    if t + delay > best[0]:
                        best = (t + delay, start)
                done[pin] = best
                visiting.discard(pin)
                stack.pop()
        return done


def endpoint_slacks(sdf: str | Path, period_ns: float) -> list[Endpoint]:
    """Setup slack of every endpoint reached by a clocked path, worst first.

    Parameters
    ----------
    sdf : path
        nextpnr's SDF of the routed design.
    period_ns : float
        The clock period to check against.
    """
    graph = TimingGraph.from_sdf(Path(sdf))
    arrival = graph.arrivals()
    out = []
    for pin, setup in graph.setup.items():
        t, start = arrival.get(pin, (float("-inf"), ""))
        if t > float("-inf"):
            out.append(Endpoint(pin, round(period_ns - (t + setup) / 1000.0, 3), start))
    return sorted(out, key=lambda e: e.slack_ns)


def _group(pin: str, depth: int) -> str:
    name = pin.rsplit("/", 1)[0]
    return ".".join(re.split(r"[._$]", name)[:depth]) if "." in name else name


def _failing_by(endpoints: list[Endpoint], key) -> dict[str, tuple[Endpoint, int]]:
    """Failing endpoints (worst first, as :func:`endpoint_slacks` sorts them) grouped by
    ``key(endpoint)``: each group's worst endpoint and its size."""
    groups: dict[str, tuple[Endpoint, int]] = {}
    for e in endpoints:
        if e.slack_ns >= 0:
            break
        k = key(e)
        worst, count = groups.get(k, (e, 0))
        groups[k] = (worst, count + 1)
    return groups


def summarize(endpoints: list[Endpoint], depth: int = 3) -> list[dict]:
    """Failing endpoints (negative slack) grouped by the first ``depth`` levels of their
    instance name: count, worst slack and the worst path's start and end."""
    groups = _failing_by(endpoints, lambda e: _group(e.pin, depth))
    return sorted(({"group": k, "count": n, "worst_ns": w.slack_ns, "end": w.pin,
                    "start": w.start} for k, (w, n) in groups.items()),
                  key=lambda g: g["worst_ns"])


def by_source(endpoints: list[Endpoint], netlist: dict, root: str = "") -> list[dict]:
    """Failing endpoints grouped by the source line of their flip-flop (the ``src`` attribute
    Yosys keeps from the RTL; cell names are often borrowed from neighbouring nets), with
    ``root`` cut from the file paths: count and worst slack, the largest groups first.

    A line outside ``root`` is library code: Amaranth 0.5 gives an FSM's state register the
    line of ``contextlib`` that enters ``with m.FSM()``, so such groups are labelled FSM state
    (the synthesized netlist keeps no name to tell the FSMs apart)."""
    src = {}
    for module in netlist.get("modules", {}).values():
        for name, cell in module.get("cells", {}).items():
            where = cell.get("attributes", {}).get("src", "").split("|")[0]
            if not where:
                src[name] = "?"
            elif root and not where.startswith(root):
                file = Path(where).name
                src[name] = f"FSM state ({file})" if file.startswith("contextlib.py") else file
            else:
                src[name] = where.replace(root, "", 1)
    groups = _failing_by(endpoints, lambda e: src.get(e.pin.rsplit("/", 1)[0], "?"))
    return sorted(({"source": k, "count": n, "worst_ns": w.slack_ns}
                   for k, (w, n) in groups.items()),
                  key=lambda g: (-g["count"], g["worst_ns"]))
