"""The loop-nest address generator of a TT layer: one iteration of a core's loop nest per step.

Golden twin: :func:`ttzo.spec.schedule.loop_addresses` (the addresses of every stream in loop
order, which :func:`~ttzo.spec.schedule.emulate_layer` also runs); ``tests/test_hw_loopnest.py``
compares the two for the cores of several layers.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ttzo.hw.fixed import all_of
from ttzo.spec.schedule import LOOP_NAMES, CoreSchedule

__all__ = ["LoopNest", "STREAMS"]

#: The address streams of a loop nest: state read, state write, weight read.
STREAMS = ("src", "dst", "weight")

_LEVELS = len(LOOP_NAMES)


def _last_address(core: CoreSchedule, stream: str) -> int:
    """The largest address ``stream`` reaches in ``core``'s loop nest."""
    base = core.weight_base if stream == "weight" else 0
    strides = getattr(core, f"{stream}_strides")
    return base + sum((b - 1) * st for b, st in zip(core.bounds, strides))


class LoopNest(wiring.Component):
    """Counters and addresses of the loop nests of one layer's cores.

    The seven loops of a core (:data:`ttzo.spec.schedule.LOOP_NAMES`) step as one odometer; the
    three stream addresses follow by adding, per step, the carry delta of the loop that stepped
    (:meth:`~ttzo.spec.schedule.CoreSchedule.carry_deltas`), so no address is ever multiplied.

    Parameters
    ----------
    cores : sequence of CoreSchedule
        The layer's cores (``LayerSchedule.cores``); their bounds, strides and weight bases are
        constants of the gateware.
    addr_bits : int
        Width of the (signed) address registers; carry deltas may be negative, every address is
        non-negative and below ``2**(addr_bits - 1)``.

    Attributes
    ----------
    load : In(1)
        While high, the nest loads core ``core``: counters to 0, that core's bounds, carry deltas
        and start addresses. Loading and stepping never coincide.
    core : In(range(len(cores)))
        The core to load.
    step : In(1)
        Step to the next iteration. A step issues the current iteration.
    done : Out(1)
        The counters are at the core's last iteration (a step now issues it).
    issue : Out(1)
        An iteration is issued: one cycle after its step, with ``first``, ``last`` and the
        addresses below.
    first, last : Out(1)
        The issued iteration is the first (last) of its output element's reduction.
    src, dst, weight : Out(signed(addr_bits))
        Addresses of the issued iteration: state read, state write, weight (layer-local).
    """

    def __init__(self, cores: Sequence[CoreSchedule], addr_bits: int):
        cores = tuple(cores)
        if not cores:
            raise ValueError("a loop nest needs at least one core")
        needed = max(_last_address(c, s) for c in cores for s in STREAMS)
        if not isinstance(addr_bits, int) or addr_bits < needed.bit_length() + 1:
            raise ValueError(f"addr_bits {addr_bits!r} cannot hold address {needed} (signed)")
        self.cores = cores
        self.addr_bits = addr_bits
        super().__init__({
            "load": In(1), "core": In(range(max(2, len(cores)))), "step": In(1),
            "done": Out(1), "issue": Out(1), "first": Out(1), "last": Out(1),
            **{s: Out(signed(addr_bits)) for s in STREAMS},
        })

    def elaborate(self, platform):
        m = Module()
        max_bound = [max(c.bounds[lv] for c in self.cores) for lv in range(_LEVELS)]
        ctr = [Signal(range(max(2, max_bound[lv])), name=f"ctr_{lv}") for lv in range(_LEVELS)]
        # Whether each counter is at its last value (bound - 1) is a register, set whenever the
        # counter changes: from the counter's penultimate value (bound - 2, latched per core) when
        # it steps, from whether the bound is 1 when it wraps to 0. The step decision then starts
        # at registers, not at seven comparators.
        pen = [Signal(range(max(2, max_bound[lv])), name=f"pen_{lv}") for lv in range(_LEVELS)]
        single = [Signal(name=f"single_{lv}") for lv in range(_LEVELS)]
        at_max = [Signal(name=f"at_max_{lv}", init=1) for lv in range(_LEVELS)]
        addr = {s: Signal(signed(self.addr_bits), name=f"addr_{s}") for s in STREAMS}
        delta = {s: [Signal(signed(self.addr_bits), name=f"delta_{s}_{lv}")
                     for lv in range(_LEVELS)] for s in STREAMS}
        m.d.comb += self.done.eq(all_of(at_max))

        # The addresses follow the counters a cycle later: the level that stepped is registered
        # one-hot (``stepped``) and selects the carry deltas added then, so the counters' step
        # decision and the address adders (three streams, and behind them the RNG index adders)
        # are separate stages. An iteration is issued with its addresses, one cycle after its
        # counters; its flags are registered alongside.
        stepped = Signal(_LEVELS)
        m.d.sync += stepped.eq(0)
        with m.If(self.step):
            # Step the innermost loop that is not at its bound; inner loops wrap to 0.
            for lv in range(_LEVELS):
                with m.If(all_of(at_max[lv + 1:]) & ~at_max[lv]):
                    m.d.sync += [ctr[lv].eq(ctr[lv] + 1), at_max[lv].eq(ctr[lv] == pen[lv]),
                                 stepped[lv].eq(1)]
                    m.d.sync += [ctr[j].eq(0) for j in range(lv + 1, _LEVELS)]
                    m.d.sync += [at_max[j].eq(single[j]) for j in range(lv + 1, _LEVELS)]
        for s in STREAMS:
            carry = Const(0, signed(self.addr_bits))
            for lv in range(_LEVELS):  # one-hot: an AND-OR choice, no priority chain
                carry = carry | Mux(stepped[lv], delta[s][lv], 0)
            m.d.sync += addr[s].eq(addr[s] + carry)
            m.d.comb += getattr(self, s).eq(addr[s])
        # the reduction loops are the two innermost (a, n): an output element's first and last
        m.d.sync += [self.issue.eq(self.step), self.first.eq((ctr[5] == 0) & (ctr[6] == 0)),
                     self.last.eq(at_max[5] & at_max[6])]

        with m.If(self.load):
            m.d.sync += [c.eq(0) for c in ctr]
            with m.Switch(self.core):
                for k, cs in enumerate(self.cores):
                    with m.Case(k):
                        m.d.sync += [addr["src"].eq(0), addr["dst"].eq(0),
                                     addr["weight"].eq(cs.weight_base)]
                        for lv in range(_LEVELS):
                            m.d.sync += [pen[lv].eq(max(cs.bounds[lv] - 2, 0)),
                                         single[lv].eq(int(cs.bounds[lv] == 1)),
                                         at_max[lv].eq(int(cs.bounds[lv] == 1))]
                            for s in STREAMS:
                                strides = getattr(cs, f"{s}_strides")
                                m.d.sync += delta[s][lv].eq(cs.carry_deltas(strides)[lv])
        return m
