"""Streaming TT-contraction engine: one layer of a TT-MLP, ``lanes`` samples at a time.

Golden twin: :meth:`ttzo.golden.model.GoldenModel.layer_int` at parameters perturbed by
:func:`ttzo.golden.perturb.apply_perturbation`; the schedule it runs is
:func:`ttzo.spec.schedule.layer_schedule` (emulated in Python by ``emulate_layer``). The cocotb
testbench in ``sim/`` and ``tests/test_hw_engine.py`` compare gateware and golden model.

Operation, per group of ``lanes`` samples (lane ``l`` holds sample ``l``):

1. LOAD: ``N`` beats on ``i_stream``, beat ``n`` carrying input element ``n`` of every lane,
   are written to state buffer 0. The perturbation on ``perturb`` is latched at the first beat.
2. For every core ``k``: RUN issues the core's loop nest, one iteration per cycle: every lane
   multiplies the same (perturbed) weight with its own state element and accumulates; each
   finished sum is rounded and saturated and written to the other buffer. DRAIN then waits for
   the pipeline to empty, so that core ``k+1`` reads complete data.
3. OUT: ``M`` beats on ``o_stream``, beat ``i`` carrying output element ``i`` of every lane.

Parameters are written through ``p_stream`` between groups (``ready`` only then).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ttzo.hw.bram import READ_LATENCY, BankedMemory, RowStreamer
from ttzo.hw.loopnest import LoopNest
from ttzo.hw.mac import MacLanes
from ttzo.hw.perturbation import ParameterPerturber, PerturbMode, perturb_layout
from ttzo.hw.requantize import Requantizer
from ttzo.hw.rng import PerturbationRNG, rng_latency
from ttzo.hw.stream import SkidBuffer
from ttzo.spec.model import LayerSpec
from ttzo.spec.numerics import NumericsSpec
from ttzo.spec.schedule import DRAIN_BETWEEN, LayerSchedule, drain_last, layer_schedule

__all__ = [
    "TTLayerEngine", "TTMLPEngine", "PerturbMode", "perturb_layout", "lanes_layout", "param_layout",
]


def lanes_layout(width: int, lanes: int) -> data.ArrayLayout:
    """One beat of a lane-parallel stream: element ``i`` of every lane's sample."""
    return data.ArrayLayout(signed(width), lanes)


def param_layout(addr_width: int, width: int) -> data.StructLayout:
    """A parameter write: layer-local ``theta`` index (weights, then biases) and value."""
    return data.StructLayout({"addr": unsigned(addr_width), "data": signed(width)})


class _Phase(enum.Enum, shape=2):
    LOAD = 0
    RUN = 1
    DRAIN = 2
    OUT = 3


class TTLayerEngine(wiring.Component):
    """One TT (or dense) layer of a TT-MLP, computed ``lanes`` samples at a time.

    Parameters
    ----------
    layer : LayerSpec
        Modes, ranks, activation (``relu``, ``none``, or ``sine``/``tanh`` through the golden
        model's lookup table, one ROM read per lane) and bias.
    numerics : NumericsSpec
        Fixed-point formats; the gateware rounds and saturates exactly as the golden model.
    index : int
        Position of the layer in the network (selects the input format).
    lanes : int
        MAC lanes, i.e. samples processed together. Each lane has one multiplier.
    param_offset : int
        Position of the layer's first parameter in ``theta``: the RNG index of a parameter is
        its global position.
    index_width : int
        Bits of global parameter indices (RNG counter and coordinate selection).
    block_shapes : tuple of (depth, width), optional
        The device's block RAM shapes, which size the memory banks
        (see :class:`ttzo.hw.bram.BankedMemory`; default ECP5).
    rng_stage_ops : int
        Threefry operations per RNG pipeline stage (see :class:`ttzo.hw.rng.PerturbationRNG`).
    deep_banks : bool
        Memory banks as deep as the block shapes allow (see :class:`ttzo.hw.bram.BankedMemory`).

    Attributes
    ----------
    i_stream : In(stream.Signature(lanes_layout(input width, lanes)))
    o_stream : Out(stream.Signature(lanes_layout(activation width, lanes)))
    p_stream : In(stream.Signature(param_layout(...)))
        Parameter writes, accepted only between groups.
    perturb : In(perturb_layout(index_width))
        The perturbation for the next group, latched at its first input beat.
    perturb_out : Out(perturb_layout(index_width))
        The latched perturbation of the group in flight, for the next layer to latch.
    busy : Out(1)
        High from the first input beat of a group until its last output beat.
    """

    def __init__(self, layer: LayerSpec, numerics: NumericsSpec, index: int = 0, lanes: int = 4,
                 param_offset: int = 0, index_width: int = 24, block_shapes=None,
                 rng_stage_ops: int = 1, deep_banks: bool = False):
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
        if param_offset + layer.params > (1 << index_width):
            raise ValueError(
                f"index_width {index_width} cannot address parameter {param_offset + layer.params}"
            )
        self.layer = layer
        self.numerics = numerics
        self.index = index
        self.lanes = lanes
        self.param_offset = param_offset
        self.index_width = index_width
        self.block_shapes = block_shapes
        self.deep_banks = deep_banks
        self.schedule: LayerSchedule = layer_schedule(layer, numerics, index)
        self.in_width = numerics.layer_input(index).width
        self.buffer_width = max(self.in_width, numerics.state.width, numerics.activation.width)
        self.n_weight = layer.weight_params
        self.param_width = max(numerics.weight.width, numerics.bias.width)
        self.param_addr_width = max(1, (layer.params - 1).bit_length())
        self.rng_stage_ops = rng_stage_ops
        self.rng_latency = rng_latency(rng_stage_ops)
        super().__init__({
            "i_stream": In(stream.Signature(lanes_layout(self.in_width, lanes))),
            "o_stream": Out(stream.Signature(lanes_layout(numerics.activation.width, lanes))),
            "p_stream": In(stream.Signature(param_layout(self.param_addr_width,
                                                         self.param_width))),
            "perturb": In(perturb_layout(index_width)),
            "perturb_out": Out(perturb_layout(index_width)),
            "busy": Out(1),
        })

    @property
    def drain_between(self) -> int:
        """DRAIN cycles between two cores (see :data:`ttzo.spec.schedule.DRAIN_BETWEEN`)."""
        return DRAIN_BETWEEN

    @property
    def drain_last(self) -> int:
        """DRAIN cycles after the last core, before the output streamer reads."""
        return drain_last(self.rng_latency)

    def cycles_per_group(self) -> int:
        """The analytic cycle model (:meth:`LayerSchedule.cycles_per_group`)."""
        return self.schedule.cycles_per_group(self.rng_latency)

    def elaborate(self, platform):
        m = Module()
        nm, sched, lanes = self.numerics, self.schedule, self.lanes
        depth = sched.buffer_depth
        addr_w = max(1, (depth - 1).bit_length())
        w_addr_w = max(1, (self.n_weight - 1).bit_length())
        out_features = self.layer.out_features
        has_bias = self.layer.bias

        # -- memories ------------------------------------------------------------------------
        # Banked memories read in two cycles (see hw/bram.py): block RAM outputs are registered
        # beside their blocks before any multiplexer.
        buf_shape = lanes_layout(self.buffer_width, lanes)
        bufs = []
        for b in range(2):
            bufs.append(BankedMemory(buf_shape, depth, self.block_shapes,
                                     deep_banks=self.deep_banks))
            m.submodules[f"buf{b}"] = bufs[b]
        m.submodules.wmem = wmem = BankedMemory(signed(nm.weight.width), self.n_weight,
                                                self.block_shapes, deep_banks=self.deep_banks)
        bmem = None
        if has_bias:
            m.submodules.bmem = bmem = BankedMemory(signed(nm.bias.width), out_features,
                                                    self.block_shapes, deep_banks=self.deep_banks)

        # -- control state --------------------------------------------------------------------
        phase = Signal(_Phase)
        core = Signal(range(max(2, len(sched.cores))))
        count = Signal(range(max(depth, self.drain_last, out_features, self.layer.in_features) + 2))
        pert = Signal(perturb_layout(self.index_width))
        n_cores = len(sched.cores)
        in_last = self.layer.in_features - 1
        # Flags kept beside ``count`` and ``core`` and set with them, so that the phase's next
        # state starts at registers rather than at comparators: whether count is 0, whether it
        # is the phase's last value (the input beat count in LOAD, the drain length in DRAIN),
        # and whether the core is the first or the last.
        count_zero = Signal(init=1)
        count_end = Signal(init=int(in_last == 0))
        core_first = Signal(init=1)
        core_is_last = Signal(init=int(n_cores == 1))

        def restart_count(end) -> list:
            return [count.eq(0), count_zero.eq(1), count_end.eq(end)]

        def step_count(end) -> list:
            return [count.eq(count + 1), count_zero.eq(0), count_end.eq(end)]

        def set_core(first: bool):
            if first:
                return [core.eq(0), core_first.eq(1), core_is_last.eq(int(n_cores == 1))]
            return [core.eq(core + 1), core_first.eq(0), core_is_last.eq(core == n_cores - 2)]

        # ``loading`` is ``phase == LOAD`` kept as a flip-flop (set and cleared with the phase):
        # it is the input stream's ready and enables the loop nest's loading, hundreds of
        # flip-flops, which should not wait for a decode of the phase.
        loading = Signal(init=1)
        m.d.comb += [self.busy.eq(~loading | ~count_zero),
                     self.perturb_out.eq(pert)]

        # -- parameter writes (between groups only) ---------------------------------------------
        # Writes are taken while the engine waits for a group's first beat. ``p_ok`` registers
        # "waiting, and no beat arrives": an engine in that state is still waiting the cycle
        # after, so the register never admits a write during a group.
        p_ok = Signal(init=1)
        self._parameter_writes(m, p_ok, wmem, bmem)

        # -- loop-nest address generator ---------------------------------------------------------
        # The nest steps every cycle of RUN (``step``: a register set and cleared with the phase,
        # so that the counters it enables do not wait for a decode of the phase register). It is
        # loaded throughout LOAD (core 0) and throughout each DRAIN before another core (the next
        # one): nothing uses it then. ``nest_load`` and ``nest_core`` are registers set with the
        # phase, so that the enable of the nest's flip-flops and the choice of their values
        # leave flip-flops, not a decode of the phase.
        addr_bits = max(addr_w, w_addr_w, (out_features - 1).bit_length()) + 2
        m.submodules.nest = nest = LoopNest(sched.cores, addr_bits)
        step = Signal()
        nest_load = Signal(init=1)
        nest_core = Signal(range(max(2, n_cores)))
        m.d.comb += [nest.step.eq(step), nest.load.eq(nest_load), nest.core.eq(nest_core)]
        # the issued iteration's core flags, registered alongside its counters' flags
        issue_final, issue_first_core, issue_sel = Signal(), Signal(), Signal()
        m.d.sync += [issue_final.eq(core_is_last), issue_first_core.eq(core_first),
                     issue_sel.eq(core[0])]

        # The perturbation is latched from the group's first beat in two register steps: its
        # value and the "first beat" condition are registered, then loaded. The load enable
        # drives the whole word (spread over both RNGs' seed inputs) straight from a flip-flop,
        # and the word is in place when the first issue reads it (two cycles after the first
        # beat at the earliest).
        pert_in = Signal.like(pert)
        pert_load = Signal()
        m.d.sync += [pert_in.eq(self.perturb),
                     pert_load.eq(loading & count_zero)]
        with m.If(pert_load):
            m.d.sync += pert.eq(pert_in)

        # -- FSM ---------------------------------------------------------------------------------
        i_fire = self.i_stream.valid & self.i_stream.ready
        m.d.sync += p_ok.eq(loading & count_zero & ~i_fire)
        m.d.comb += self.i_stream.ready.eq(loading)
        drain_between, drain_last = self.drain_between, self.drain_last
        with m.Switch(phase):
            with m.Case(_Phase.LOAD):
                with m.If(i_fire):
                    with m.If(count_end):
                        m.d.sync += [phase.eq(_Phase.RUN), loading.eq(0), nest_load.eq(0),
                                     step.eq(1), *set_core(True), *restart_count(0)]
                    with m.Else():
                        m.d.sync += step_count(count == in_last - 1)
            with m.Case(_Phase.RUN):
                with m.If(nest.done):
                    m.d.sync += [phase.eq(_Phase.DRAIN), step.eq(0),
                                 nest_load.eq(~core_is_last), nest_core.eq(core + 1),
                                 *restart_count(Mux(core_is_last, drain_last == 1,
                                                       drain_between == 1))]
            with m.Case(_Phase.DRAIN):
                with m.If(count_end):
                    m.d.sync += [*restart_count(0), nest_load.eq(0)]
                    with m.If(core_is_last):
                        m.d.sync += phase.eq(_Phase.OUT)
                    with m.Else():
                        m.d.sync += [phase.eq(_Phase.RUN), step.eq(1), *set_core(False)]
                with m.Else():
                    drain = Mux(core_is_last, drain_last, drain_between)
                    m.d.sync += step_count(count == drain - 2)
            with m.Case(_Phase.OUT):
                pass  # handled by the output streamer below

        # -- compute pipeline ----------------------------------------------------------------------
        # Issue: RNG requests for the weight and, on the last core, the bias. The seed is latched
        # per group and the pipeline drains before the next group's seed.
        rngs = []
        for name, first_index, addr in (("w", self.param_offset, nest.weight),
                                        ("b", self.param_offset + self.n_weight, nest.dst)):
            gidx = Signal(unsigned(self.index_width), name=f"gidx_{name}")
            m.d.comb += gidx.eq(first_index + addr)
            rng_unit = PerturbationRNG(self.index_width, stable_seed=True,
                                       stage_ops=self.rng_stage_ops)
            m.submodules[f"rng_{name}"] = rng_unit
            m.d.comb += [
                rng_unit.i_stream.valid.eq(nest.issue),
                rng_unit.i_stream.payload.seed.eq(pert.seed),
                rng_unit.i_stream.payload.index.eq(gidx),
                rng_unit.o_stream.ready.eq(1),
            ]
            rngs.append(rng_unit)

        # The control word of each iteration travels down a delay line beside the data.
        ctl_layout = data.StructLayout({
            "valid": 1, "first": 1, "last": 1, "final": 1, "first_core": 1, "sel": 1,
            "src": unsigned(addr_w), "dst": unsigned(max(addr_w, 1)),
            "w": unsigned(w_addr_w),
        })
        ctl0 = Signal(ctl_layout)
        m.d.comb += [
            ctl0.valid.eq(nest.issue), ctl0.first.eq(nest.first), ctl0.last.eq(nest.last),
            ctl0.final.eq(issue_final), ctl0.first_core.eq(issue_first_core),
            ctl0.sel.eq(issue_sel),
            ctl0.src.eq(nest.src), ctl0.dst.eq(nest.dst), ctl0.w.eq(nest.weight),
        ]
        # the RNG's output for a word comes rng_latency cycles after it; the word enters the
        # perturbers a cycle later still (their product with mu is registered first)
        line = _delay(m, ctl0, self.rng_latency + 1, "ctl_delay")
        ctl_r = line[-1]

        # Reads: banked reads take READ_LATENCY cycles; state reads issue READ_LATENCY - 1
        # stages before ctl_r, weight and bias reads one stage earlier still, so that the
        # parameters reach the perturbers a cycle after their addresses and the state row lands
        # with the perturbed weight.
        state_issue, param_issue = line[-(READ_LATENCY - 1)], line[-READ_LATENCY]
        out_rd_addr = Signal(unsigned(addr_w))
        out_sel = len(sched.cores) % 2
        for b in range(2):
            # Reads never stall (the output streamer checks credits instead), so no bank
            # register needs a clock enable.
            m.d.comb += bufs[b].rd_en.eq(1)
            with m.If(phase == _Phase.OUT):
                if b == out_sel:
                    m.d.comb += bufs[b].rd_addr.eq(out_rd_addr)
            with m.Else():
                m.d.comb += bufs[b].rd_addr.eq(state_issue.src)
        m.d.comb += [wmem.rd_addr.eq(param_issue.w), wmem.rd_en.eq(1)]

        # Perturbation stage: the weight (and bias) as the query perturbs it.
        m.submodules.perturb_w = perturb_w = ParameterPerturber(
            nm.weight.width, w_addr_w, self.param_offset, self.index_width)
        # an entry enters the perturbers with its RNG output, one stage before ctl_r
        ctl_rng = line[-2]
        m.d.comb += [perturb_w.query.eq(pert), perturb_w.direction.eq(rngs[0].o_stream.payload),
                     perturb_w.addr.eq(ctl_rng.w), perturb_w.value.eq(wmem.rd_data)]
        if has_bias:
            m.d.comb += [bmem.rd_addr.eq(param_issue.dst), bmem.rd_en.eq(1)]
            m.submodules.perturb_b = perturb_b = ParameterPerturber(
                nm.bias.width, max(addr_w, 1), self.param_offset + self.n_weight,
                self.index_width)
            m.d.comb += [perturb_b.query.eq(pert),
                         perturb_b.direction.eq(rngs[1].o_stream.payload),
                         perturb_b.addr.eq(ctl_rng.dst), perturb_b.value.eq(bmem.rd_data)]
        ctl1, ctl2a, ctl2 = _delay(m, ctl_r, ParameterPerturber.LATENCY - 1, "ctl_p")[1:]
        # the state row, read two cycles after the weight's address was issued one cycle
        # earlier, lands with the perturbed weight
        s_reg = Signal(buf_shape, reset_less=True)
        m.d.sync += s_reg.eq(Mux(ctl2a.sel, bufs[1].rd_data, bufs[0].rd_data))

        # MAC lanes; a finished sum moves on with its destination.
        m.submodules.mac = mac = MacLanes(lanes, nm.weight.width, self.buffer_width,
                                          nm.accumulator_width)
        m.d.comb += [mac.weight.eq(perturb_w.perturbed), mac.state.eq(s_reg),
                     mac.first.eq(ctl2.first)]
        ctl3 = _delay(m, ctl2, MacLanes.LATENCY - 1, "ctl_m")[-1]
        ctl4 = Signal(ctl_layout)
        m.d.sync += [ctl4.eq(ctl3), ctl4.valid.eq(ctl3.valid & ctl3.last)]

        # Result stage: bias, rounding, saturation and activation, then the write.
        m.submodules.requantize = requantize = Requantizer(
            sched, nm, lanes, nm.accumulator_width, self.buffer_width)
        m.d.comb += [requantize.sums.eq(mac.sums), requantize.first_core.eq(ctl4.first_core),
                     requantize.final.eq(ctl4.final)]
        if has_bias:
            bias = _delay(m, perturb_b.perturbed, MacLanes.LATENCY, "bias_d", reset_less=True)
            m.d.comb += requantize.bias.eq(bias[-1])
        ctl7 = _delay(m, ctl4, Requantizer.LATENCY, "ctl_q")[-1]
        with m.If(loading):
            m.d.comb += [bufs[0].wr_addr.eq(count), bufs[0].wr_en.eq(i_fire)]
            for lane in range(lanes):
                m.d.comb += bufs[0].wr_data[lane].eq(self.i_stream.payload[lane])
        with m.Else():
            for b in range(2):
                # core k writes buffer (k + 1) % 2, i.e. buffer 1 when sel (= k % 2) is 0
                m.d.comb += [
                    bufs[b].wr_addr.eq(ctl7.dst),
                    bufs[b].wr_data.eq(requantize.results),
                    bufs[b].wr_en.eq(ctl7.valid & (ctl7.sel == (1 - b))),
                ]

        # -- output streamer ---------------------------------------------------------------------
        # Rows leave through a RowStreamer: reads issue only when its FIFO has room, so the
        # buffer's read pipeline never stalls and no block RAM output reaches the next layer.
        m.submodules.out_streamer = streamer = RowStreamer(
            lanes_layout(nm.activation.width, lanes), addr_w, out_features)
        out_data = Signal(lanes_layout(nm.activation.width, lanes))
        for lane in range(lanes):
            m.d.comb += out_data[lane].eq(bufs[out_sel].rd_data[lane])
        m.d.comb += [
            out_rd_addr.eq(streamer.rd_addr),
            streamer.rd_data.eq(out_data), streamer.count.eq(out_features),
            streamer.start.eq((phase == _Phase.DRAIN) & core_is_last & count_end),
        ]
        wiring.connect(m, streamer.o_stream, wiring.flipped(self.o_stream))
        with m.If((phase == _Phase.OUT) & streamer.done):
            m.d.sync += [phase.eq(_Phase.LOAD), loading.eq(1), nest_load.eq(1), nest_core.eq(0),
                         *restart_count(in_last == 0)]
        return m

    def _parameter_writes(self, m: Module, p_ok: Signal, wmem: BankedMemory,
                          bmem: BankedMemory | None) -> None:
        """Parameter writes from ``p_stream`` into the weight (and bias) memory while ``p_ok``.

        An accepted write is registered (which memory, its address and value) before it
        reaches the memories, so that the handshake and the address comparison do not feed
        the banks' address decoders in the same cycle. It lands one cycle later; the first
        read of a group comes at least rng_latency cycles after the group's first input beat.
        """
        w_addr_w = len(wmem.wr_addr)
        m.d.comb += self.p_stream.ready.eq(p_ok)
        p = self.p_stream.payload
        p_fire = self.p_stream.valid & p_ok
        to_w = Signal()
        w_addr_q = Signal(w_addr_w, reset_less=True)
        p_data_q = Signal.like(p.data, reset_less=True)
        m.d.sync += [to_w.eq(p_fire & (p.addr < self.n_weight)), w_addr_q.eq(p.addr[:w_addr_w]),
                     p_data_q.eq(p.data)]
        m.d.comb += [wmem.wr_addr.eq(w_addr_q), wmem.wr_data.eq(p_data_q), wmem.wr_en.eq(to_w)]
        if bmem is not None:
            to_b = Signal()
            b_addr_q = Signal.like(bmem.wr_addr, reset_less=True)
            m.d.sync += [to_b.eq(p_fire & (p.addr >= self.n_weight)),
                         b_addr_q.eq(p.addr - self.n_weight)]
            m.d.comb += [bmem.wr_addr.eq(b_addr_q), bmem.wr_data.eq(p_data_q),
                         bmem.wr_en.eq(to_b)]


def _delay(m: Module, value, cycles: int, name: str, reset_less: bool = False) -> list:
    """``value`` and its copies delayed by 1 to ``cycles`` cycles (a list of ``cycles + 1``)."""
    line = [value]
    for i in range(cycles):
        stage = Signal.like(value, name=f"{name}{i}", reset_less=reset_less)
        m.d.sync += stage.eq(line[-1])
        line.append(stage)
    return line


class TTMLPEngine(wiring.Component):
    """A whole TT-MLP: one :class:`TTLayerEngine` per layer, chained by their streams.

    Golden twin: :meth:`ttzo.golden.model.GoldenModel.forward_perturbed`. While layer ``l``
    computes a group, layer ``l - 1`` can already work on the next one.

    Parameters
    ----------
    spec : ModelSpec
        The network and its numerics (the one model description).
    lanes : int
        MAC lanes per layer (samples per group).
    index_width, block_shapes, rng_stage_ops, deep_banks
        Passed to every layer (see :class:`TTLayerEngine`).

    Attributes
    ----------
    i_stream, o_stream
        The first layer's input and the last layer's output (see :class:`TTLayerEngine`).
    p_stream : In(stream.Signature(param_layout(...)))
        Writes to global ``theta`` indices, routed to the layer that owns them.
    perturb : In(perturb_layout(index_width))
        Latched by the first layer at a group's first input beat; every later layer takes it
        from the layer before, so it travels with its group.
    busy : Out(1)
    """

    def __init__(self, spec, lanes: int = 4, index_width: int = 24, block_shapes=None,
                 rng_stage_ops: int = 1, deep_banks: bool = False):
        if spec.params > (1 << index_width):
            raise ValueError(f"index_width {index_width} cannot address {spec.params} parameters")
        self.spec = spec
        self.lanes = lanes
        self.index_width = index_width
        self.layers = []
        offset = 0
        for index, layer in enumerate(spec.layers):
            self.layers.append(TTLayerEngine(layer, spec.numerics, index, lanes, offset,
                                             index_width, block_shapes, rng_stage_ops,
                                             deep_banks))
            offset += layer.params
        nm = spec.numerics
        self.param_width = max(nm.weight.width, nm.bias.width)
        super().__init__({
            "i_stream": In(stream.Signature(lanes_layout(nm.input.width, lanes))),
            "o_stream": Out(stream.Signature(lanes_layout(nm.activation.width, lanes))),
            "p_stream": In(stream.Signature(param_layout(index_width, self.param_width))),
            "perturb": In(perturb_layout(index_width)),
            "busy": Out(1),
        })

    def cycles_per_group(self) -> int:
        """Latency of one group through all layers (no overlap, no stream stalls), with one
        cycle per skid buffer between layers."""
        return sum(engine.cycles_per_group() for engine in self.layers) + len(self.layers) - 1

    def elaborate(self, platform):
        m = Module()
        engines = self.layers
        for index, engine in enumerate(engines):
            m.submodules[f"layer{index}"] = engine
        m.d.comb += engines[0].perturb.eq(self.perturb)
        wiring.connect(m, wiring.flipped(self.i_stream), engines[0].i_stream)
        # Between layers a skid buffer registers the handshake both ways (each layer's phase
        # decodes its own ready and valid). The perturbation rides along with every beat, so the
        # next layer latches the one that belongs to the beat it takes.
        for index, (prev, nxt) in enumerate(zip(engines, engines[1:])):
            skid = SkidBuffer(data.StructLayout({
                "beat": prev.o_stream.payload.shape(),
                "perturb": perturb_layout(self.index_width),
            }))
            m.submodules[f"skid{index}"] = skid
            m.d.comb += [
                skid.i_stream.valid.eq(prev.o_stream.valid),
                skid.i_stream.payload.beat.eq(prev.o_stream.payload),
                skid.i_stream.payload.perturb.eq(prev.perturb_out),
                prev.o_stream.ready.eq(skid.i_stream.ready),
                nxt.i_stream.valid.eq(skid.o_stream.valid),
                nxt.i_stream.payload.eq(skid.o_stream.payload.beat),
                nxt.perturb.eq(skid.o_stream.payload.perturb),
                skid.o_stream.ready.eq(nxt.i_stream.ready),
            ]
        wiring.connect(m, engines[-1].o_stream, wiring.flipped(self.o_stream))
        p = self.p_stream.payload
        ready = Const(0, 1)
        for engine in engines:
            lo, hi = engine.param_offset, engine.param_offset + engine.layer.params
            mine = (p.addr >= lo) & (p.addr < hi)
            m.d.comb += [
                engine.p_stream.payload.addr.eq(p.addr - lo),
                engine.p_stream.payload.data.eq(p.data),
                engine.p_stream.valid.eq(self.p_stream.valid & mine),
            ]
            ready = ready | (mine & engine.p_stream.ready)
        m.d.comb += self.p_stream.ready.eq(ready)
        busy = Const(0, 1)
        for engine in engines:
            busy = busy | engine.busy
        m.d.comb += self.busy.eq(busy)
        return m
