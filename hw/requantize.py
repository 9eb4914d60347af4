"""The result stage of the engine: bias, rounding, saturation and activation of finished sums.

Golden twin: the end of each core in :func:`ttzo.spec.schedule.emulate_layer` (``state`` or
``activation`` ``requantize``, then :meth:`ttzo.golden.model.GoldenModel.activate` on the last
core); ``tests/test_hw_requantize.py`` compares them on random and corner sums.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ttzo.hw.fixed import round_shift, saturate
from ttzo.spec.numerics import NumericsSpec, activation_table
from ttzo.spec.schedule import LayerSchedule

__all__ = ["Requantizer", "ACTIVATIONS"]

#: Activations the gateware implements (``sine`` and ``tanh`` through the golden model's table).
ACTIVATIONS = ("relu", "none", "sine", "tanh")


class Requantizer(wiring.Component):
    """Finished sums of ``lanes`` lanes, turned into the values a core writes back.

    A sum of an inner core is rounded and saturated to the state format; a sum of the last core
    gets the bias, is rounded and saturated to the activation format and activated. Three
    register stages, one per carry chain: bias add, rounding, saturation (with the activation).

    Parameters
    ----------
    schedule : LayerSchedule
        The layer's schedule (each core's input fraction bits, the activation, the bias).
    numerics : NumericsSpec
        Fixed-point formats and the activation tables' size.
    lanes : int
        Lanes.
    acc_width : int
        Width of the sums.
    out_width : int
        Width of the written values (the engine's state buffer width).

    Attributes
    ----------
    sums : In(data.ArrayLayout(signed(acc_width), lanes))
        Each lane's finished sum.
    bias : In(signed(numerics.bias.width))
        The output element's (perturbed) bias, with the sums; used on the last core.
    first_core : In(1)
        The sums belong to core 0 (whose input has the layer input's fraction bits).
    final : In(1)
        The sums belong to the last core.
    results : Out(data.ArrayLayout(signed(out_width), lanes))
        The values, :data:`LATENCY` cycles after the sums.
    """

    #: Cycles from sums to results.
    LATENCY = 3

    def __init__(self, schedule: LayerSchedule, numerics: NumericsSpec, lanes: int,
                 acc_width: int, out_width: int):
        if schedule.layer.activation not in ACTIVATIONS:
            raise ValueError(f"the engine implements activations {', '.join(ACTIVATIONS)}, not "
                             f"{schedule.layer.activation!r}")
        self.schedule = schedule
        self.numerics = numerics
        self.lanes = lanes
        super().__init__({
            "sums": In(data.ArrayLayout(signed(acc_width), lanes)),
            "bias": In(signed(numerics.bias.width)),
            "first_core": In(1), "final": In(1),
            "results": Out(data.ArrayLayout(signed(out_width), lanes)),
        })

    def _table_lookup(self, m: Module, lane: int, value):
        """``sine``/``tanh`` of an activation-format value: the golden model's table, indexed by
        the value's top ``lut_bits`` bits (offset to unsigned), read combinationally."""
        nm = self.numerics
        fmt = nm.activation
        table = [int(v) for v in activation_table(self.schedule.layer.activation, fmt,
                                                  nm.lut_bits)]
        bits = min(nm.lut_bits, fmt.width)
        rom = Memory(shape=signed(fmt.width), depth=len(table), init=table)
        m.submodules[f"act_rom{lane}"] = rom
        port = rom.read_port(domain="comb")
        clipped = Signal(signed(fmt.width), name=f"act_in{lane}")
        m.d.comb += [clipped.eq(value),
                     port.addr.eq((clipped >> (fmt.width - bits)) + (1 << (bits - 1)))]
        return port.data

    def elaborate(self, platform):
        m = Module()
        nm, cores = self.numerics, self.schedule.cores
        activation = self.schedule.layer.activation

        def reg(expr, name):
            r = Signal(Value.cast(expr).shape(), name=name, reset_less=True)
            m.d.sync += r.eq(expr)
            return r

        # the flags travel with the sums (registers with a reset, as the engine's control words)
        first_core = Signal()
        final = [Signal(name=f"final_d{i}") for i in range(2)]
        m.d.sync += [first_core.eq(self.first_core), final[0].eq(self.final),
                     final[1].eq(final[0])]
        first_frac = cores[0].in_frac
        later_frac = cores[1].in_frac if len(cores) > 1 else first_frac
        last_frac = nm.weight.frac + cores[-1].in_frac
        for lane in range(self.lanes):
            value = self.sums[lane]
            if self.schedule.layer.bias:
                biased = value + (self.bias << (last_frac - nm.bias.frac))
            else:
                biased = value
            biased1 = reg(biased, f"biased{lane}")
            value1 = reg(value, f"value{lane}")
            act2 = reg(round_shift(biased1, last_frac - nm.activation.frac), f"act_r{lane}")
            state2 = reg(Mux(first_core,
                             round_shift(value1, nm.weight.frac + first_frac - nm.state.frac),
                             round_shift(value1, nm.weight.frac + later_frac - nm.state.frac)),
                         f"state_r{lane}")
            out_act = saturate(act2, nm.activation.width)
            if activation == "relu":
                out_act = Mux(out_act < 0, 0, out_act)
            elif activation in ("sine", "tanh"):
                out_act = self._table_lookup(m, lane, out_act)
            result = reg(Mux(final[1], out_act, saturate(state2, nm.state.width)),
                         f"result{lane}")
            m.d.comb += self.results[lane].eq(result)
        return m
