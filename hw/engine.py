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

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ttzo.hw.bram import READ_LATENCY, BankedMemory, RowStreamer
from ttzo.hw.rng import PerturbationRNG, rng_latency
from ttzo.hw.stream import SkidBuffer
from ttzo.spec.model import LayerSpec
from ttzo.spec.numerics import NumericsSpec, activation_table
from ttzo.spec.perturb import MODES
from ttzo.spec.schedule import DRAIN_BETWEEN, LayerSchedule, drain_last, layer_schedule

__all__ = [
    "TTLayerEngine", "TTMLPEngine", "PerturbMode", "perturb_layout", "lanes_layout", "param_layout",
]


class PerturbMode(enum.Enum, shape=2):
    NONE = MODES.index("none")
    COORDINATE = MODES.index("coordinate")
    RADEMACHER = MODES.index("rademacher")
    GAUSS = MODES.index("gauss")


def perturb_layout(index_width: int) -> data.StructLayout:
    """The perturbation of a query: mode, step ``mu`` in LSBs, sign, RNG seed, coordinate."""
    return data.StructLayout({
        "mode": PerturbMode, "negate": unsigned(1), "mu": unsigned(8), "seed": unsigned(32),
        "index": unsigned(index_width),
    })


def lanes_layout(width: int, lanes: int) -> data.ArrayLayout:
    """One beat of a lane-parallel stream: element ``i`` of every lane's sample."""
    return data.ArrayLayout(signed(width), lanes)


def param_layout(addr_width: int, width: int) -> data.StructLayout:
    """A parameter write: layer-local ``theta`` index (weights, then biases) and value."""
    return data.StructLayout({"addr": unsigned(addr_width), "data": signed(width)})


def _round_shift(value, shift: int):
    """Round half up and shift right (``shift <= 0`` shifts left), as in the golden model."""
    if shift <= 0:
        return value << -shift
    return (value + (1 << (shift - 1))) >> shift


def _saturate(value, width: int):
    """Clamp a signed value to ``signed(width)``. A value fits when its bits from ``width - 1``
    up are all equal: two reduction trees instead of two wide comparisons (carry chains)."""
    value = Value.cast(value)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if not value.shape().signed:
        return Mux(value > hi, hi, value)
    if value.shape().width <= width:
        return value
    top = value[width - 1:]
    fits = top.all() | ~top.any()
    return Mux(fits, value[:width].as_signed(), Mux(value[-1], lo, hi))


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
        if layer.activation not in ("relu", "none", "sine", "tanh"):
            raise ValueError(
                f"the engine implements activations relu, none, sine and tanh, not "
                f"{layer.activation!r}"
            )
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

    def _table_lookup(self, m: Module, lane: int, value):
        """``sine``/``tanh`` of an activation-format value: the golden model's table, indexed by
        the value's top ``lut_bits`` bits (offset to unsigned), read combinationally."""
        fmt = self.numerics.activation
        table = [int(v) for v in _table(self)]
        bits = min(self.numerics.lut_bits, fmt.width)
        rom = Memory(shape=signed(fmt.width), depth=len(table), init=table)
        m.submodules[f"act_rom{lane}"] = rom
        port = rom.read_port(domain="comb")
        clipped = Signal(signed(fmt.width), name=f"act_in{lane}")
        m.d.comb += [clipped.eq(value),
                     port.addr.eq((clipped >> (fmt.width - bits)) + (1 << (bits - 1)))]
        return port.data

    def elaborate(self, platform):  # noqa: C901 - one datapath, kept in one place on purpose
        m = Module()
        nm = self.numerics
        sched = self.schedule
        lanes = self.lanes
        depth = sched.buffer_depth
        addr_w = max(1, (depth - 1).bit_length())
        w_addr_w = max(1, (self.n_weight - 1).bit_length())
        out_features = self.layer.out_features
        acc_w = nm.accumulator_width

        # -- memories ------------------------------------------------------------------------
        # Banked memories read in two cycles (see hw/bram.py): block RAM outputs are registered
        # beside their blocks before any multiplexer.
        buf_shape = lanes_layout(self.buffer_width, lanes)
        bufs = []
        for b in range(2):
            bufs.append(BankedMemory(buf_shape, depth, self.block_shapes,
                                     deep_banks=self.deep_banks))
            m.submodules[f"buf{b}"] = bufs[b]
        wmem = BankedMemory(signed(nm.weight.width), self.n_weight, self.block_shapes,
                            deep_banks=self.deep_banks)
        m.submodules.wmem = wmem
        has_bias = self.layer.bias
        if has_bias:
            bmem = BankedMemory(signed(nm.bias.width), out_features, self.block_shapes,
                                deep_banks=self.deep_banks)
            m.submodules.bmem = bmem

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
        # after, so the register never admits a write during a group, and the port's ready
        # leaves a flip-flop instead of the phase decode.
        p_ok = Signal(init=1)
        m.d.comb += self.p_stream.ready.eq(p_ok)
        p = self.p_stream.payload
        p_fire = self.p_stream.valid & p_ok
        # An accepted write is registered (which memory, its address and value) before it
        # reaches the memories, so that the handshake and the address comparison do not feed
        # the banks' address decoders in the same cycle. It lands one cycle later; the first
        # read of a group comes at least rng_latency cycles after the group's first input beat.
        to_w = Signal()
        w_addr_q = Signal(w_addr_w, reset_less=True)
        p_data_q = Signal.like(p.data, reset_less=True)
        m.d.sync += [to_w.eq(p_fire & (p.addr < self.n_weight)), w_addr_q.eq(p.addr[:w_addr_w]),
                     p_data_q.eq(p.data)]
        m.d.comb += [wmem.wr_addr.eq(w_addr_q), wmem.wr_data.eq(p_data_q), wmem.wr_en.eq(to_w)]
        if has_bias:
            to_b = Signal()
            b_addr_q = Signal.like(bmem.wr_addr, reset_less=True)
            m.d.sync += [to_b.eq(p_fire & (p.addr >= self.n_weight)),
                         b_addr_q.eq(p.addr - self.n_weight)]
            m.d.comb += [bmem.wr_addr.eq(b_addr_q), bmem.wr_data.eq(p_data_q),
                         bmem.wr_en.eq(to_b)]

        # -- loop-nest address generator ---------------------------------------------------------
        nest = [core_s.bounds for core_s in sched.cores]
        max_bound = [max(b[lv] for b in nest) for lv in range(7)]
        ctr = [Signal(range(max(2, max_bound[lv])), name=f"ctr_{lv}") for lv in range(7)]
        # Whether each counter is at its last value (bound - 1) is a register, set whenever the
        # counter changes: from the counter's penultimate value (bound - 2, latched per core) when
        # it steps, from whether the bound is 1 when it wraps to 0. The step decision then starts
        # at registers, not at seven comparators.
        pen = [Signal(range(max(2, max_bound[lv])), name=f"pen_{lv}") for lv in range(7)]
        single = [Signal(name=f"single_{lv}") for lv in range(7)]
        at_max = [Signal(name=f"at_max_{lv}", init=1) for lv in range(7)]
        streams = ("src", "dst", "weight")
        # Address arithmetic modulo 2**addr_bits: carry deltas may be negative, every address
        # the nest produces is non-negative and below 2**(addr_bits - 1).
        addr_bits = max(addr_w, w_addr_w, (out_features - 1).bit_length()) + 2
        addr = {s: Signal(signed(addr_bits), name=f"addr_{s}") for s in streams}
        delta = {s: [Signal(signed(addr_bits), name=f"delta_{s}_{lv}") for lv in range(7)]
                 for s in streams}

        def core_config(cs):
            stmts = [addr["src"].eq(0), addr["dst"].eq(0), addr["weight"].eq(cs.weight_base)]
            for lv in range(7):
                stmts += [pen[lv].eq(max(cs.bounds[lv] - 2, 0)),
                          single[lv].eq(int(cs.bounds[lv] == 1)),
                          at_max[lv].eq(int(cs.bounds[lv] == 1))]
                for s, strides in zip(streams, (cs.src_strides, cs.dst_strides,
                                                cs.weight_strides)):
                    stmts.append(delta[s][lv].eq(cs.carry_deltas(strides)[lv]))
            return stmts

        def load_core(k_expr):
            """Latch bounds, carry deltas and start addresses of core ``k_expr``."""
            m.d.sync += [c.eq(0) for c in ctr]
            with m.Switch(k_expr):
                for k, cs in enumerate(sched.cores):
                    with m.Case(k):
                        m.d.sync += core_config(cs)

        # The nest steps every cycle of RUN (``step``: a register set and cleared with the phase,
        # so that the counters it enables do not wait for a decode of the phase register). The
        # addresses follow a cycle later (ADDRESS_LAG): the level that stepped is registered
        # one-hot (``stepped``) and selects the carry deltas added then, so the counters' step
        # decision and the address adders (three streams, and behind them the RNG index adders)
        # are separate stages. An iteration is issued (``issue``) with its addresses, one cycle
        # after its counters; its flags are registered alongside.
        step = Signal()
        nest_done = Signal()
        m.d.comb += nest_done.eq(_all(at_max))
        stepped = Signal(7)
        m.d.sync += stepped.eq(0)
        with m.If(step):
            # Step the innermost loop that is not at its bound; inner loops wrap to 0.
            for lv in range(7):
                inner_wrap = _all(at_max[lv + 1:])
                with m.If(inner_wrap & ~at_max[lv]):
                    m.d.sync += [ctr[lv].eq(ctr[lv] + 1), at_max[lv].eq(ctr[lv] == pen[lv]),
                                 stepped[lv].eq(1)]
                    m.d.sync += [ctr[j].eq(0) for j in range(lv + 1, 7)]
                    m.d.sync += [at_max[j].eq(single[j]) for j in range(lv + 1, 7)]
        for s in streams:
            carry = Const(0, signed(addr_bits))
            for lv in range(7):  # one-hot: an AND-OR choice, no priority chain
                carry = carry | Mux(stepped[lv], delta[s][lv], 0)
            m.d.sync += addr[s].eq(addr[s] + carry)
        issue = Signal()
        first_iter = Signal()
        last_iter = Signal()
        issue_final, issue_first_core, issue_sel = Signal(), Signal(), Signal()
        m.d.sync += [issue.eq(step), first_iter.eq((ctr[5] == 0) & (ctr[6] == 0)),
                     last_iter.eq(at_max[5] & at_max[6]), issue_final.eq(core_is_last),
                     issue_first_core.eq(core_first), issue_sel.eq(core[0])]

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
        # The loop nest is loaded throughout LOAD (core 0) and throughout each DRAIN before
        # another core (the next one): nothing uses it then. ``nest_load`` and ``nest_core`` are
        # registers set with the phase, so that the enable of the nest's hundreds of flip-flops
        # and the choice of their values leave flip-flops, not a decode of the phase.
        nest_load = Signal(init=1)
        nest_core = Signal(range(max(2, n_cores)))
        with m.If(nest_load):
            load_core(nest_core)
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
                with m.If(nest_done):
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
        # Stage 0 (issue): addresses; RNG requests for the weight and, on the last core, the bias.
        gidx_w = Signal(unsigned(self.index_width))
        m.d.comb += gidx_w.eq(self.param_offset + addr["weight"])
        gidx_b = Signal(unsigned(self.index_width))
        m.d.comb += gidx_b.eq(self.param_offset + self.n_weight + addr["dst"])
        # The seed is latched per group and the pipeline drains before the next group's seed.
        m.submodules.rng_w = rng_w = PerturbationRNG(self.index_width, stable_seed=True,
                                                     stage_ops=self.rng_stage_ops)
        m.submodules.rng_b = rng_b = PerturbationRNG(self.index_width, stable_seed=True,
                                                     stage_ops=self.rng_stage_ops)
        for rng_unit, gidx in ((rng_w, gidx_w), (rng_b, gidx_b)):
            m.d.comb += [
                rng_unit.i_stream.valid.eq(issue),
                rng_unit.i_stream.payload.seed.eq(pert.seed),
                rng_unit.i_stream.payload.index.eq(gidx),
                rng_unit.o_stream.ready.eq(1),
            ]

        # Delay line for the control word until the RNG output is ready.
        ctl_layout = data.StructLayout({
            "valid": 1, "first": 1, "last": 1, "final": 1, "first_core": 1, "sel": 1,
            "src": unsigned(addr_w), "dst": unsigned(max(addr_w, 1)),
            "w": unsigned(w_addr_w),
        })
        ctl0 = Signal(ctl_layout)
        m.d.comb += [
            ctl0.valid.eq(issue), ctl0.first.eq(first_iter), ctl0.last.eq(last_iter),
            ctl0.final.eq(issue_final), ctl0.first_core.eq(issue_first_core),
            ctl0.sel.eq(issue_sel),
            ctl0.src.eq(addr["src"]), ctl0.dst.eq(addr["dst"]), ctl0.w.eq(addr["weight"]),

        ]
        line = [ctl0]
        for i in range(self.rng_latency + 1):
            nxt = Signal(ctl_layout, name=f"ctl_delay{i}")
            m.d.sync += nxt.eq(line[-1])
            line.append(nxt)
        # The RNG output for this control word was valid one cycle ago; its product with mu is
        # registered, and the perturbation is formed and registered while the memory reads
        # issued now complete (multiply, rounding and saturating add in separate cycles).
        ctl_r = line[-1]

        # Banked reads take READ_LATENCY cycles: state reads issue READ_LATENCY - 1 stages
        # before ctl_r, weight and bias reads one stage earlier still, so that all three land
        # when the perturbation is ready.
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
        if has_bias:
            m.d.comb += [bmem.rd_addr.eq(param_issue.dst), bmem.rd_en.eq(1)]

        # Stage 1: the perturbation of each read entry, from the RNG output and the latched
        # query; registered next to the memory data.
        # The query's step with and without its sign, registered from the latched query (a
        # group's query is latched at its first input beat, long before its first perturbed
        # read), so that no negation sits in the per-entry path.
        mu_pos, mu_neg, mu_signed = (Signal(signed(9), name=n, reset_less=True)
                                     for n in ("mu_pos", "mu_neg", "mu_signed"))
        m.d.sync += [mu_pos.eq(pert.mu), mu_neg.eq(-pert.mu),
                     mu_signed.eq(Mux(pert.negate, -pert.mu, pert.mu))]

        def delta_of(width, is_coordinate, direction):
            # registered product (g times the signed step); data registers of the datapath
            # have no reset (the control words' valid bits do), which keeps the reset net's
            # fanout small
            gauss_t = Signal(signed(len(direction.gauss) + len(mu_signed)),
                             name=f"gauss_t_{width}", reset_less=True)
            sign_t = Signal(name=f"sign_t_{width}", reset_less=True)
            m.d.sync += [gauss_t.eq(direction.gauss * mu_signed), sign_t.eq(direction.sign)]
            gauss_d = _round_shift(gauss_t, 2)
            rad_d = Mux(sign_t ^ pert.negate, mu_neg, mu_pos)
            delta_v = Signal(signed(18), name=f"pdelta_{width}")
            with m.Switch(pert.mode):
                with m.Case(PerturbMode.NONE):
                    m.d.comb += delta_v.eq(0)
                with m.Case(PerturbMode.COORDINATE):
                    m.d.comb += delta_v.eq(Mux(is_coordinate, mu_signed, 0))
                with m.Case(PerturbMode.RADEMACHER):
                    m.d.comb += delta_v.eq(rad_d)
                with m.Case(PerturbMode.GAUSS):
                    m.d.comb += delta_v.eq(gauss_d)
            delta_r = Signal(signed(18), name=f"pdelta_r_{width}", reset_less=True)
            m.d.sync += delta_r.eq(delta_v)
            return delta_r

        # Coordinate perturbations compare layer-local addresses with the perturbed index made
        # layer-local once per group (the global index does not travel down the delay line).
        coord_w = Signal(signed(self.index_width + 2))
        coord_b = Signal(signed(self.index_width + 2))
        m.d.sync += [coord_w.eq(pert.index - self.param_offset),
                     coord_b.eq(pert.index - (self.param_offset + self.n_weight))]
        delta_w = delta_of(nm.weight.width, ctl_r.w == coord_w, rng_w.o_stream.payload)
        if has_bias:
            delta_b = delta_of(nm.bias.width, ctl_r.dst == coord_b, rng_b.o_stream.payload)
        ctl1 = Signal(ctl_layout)
        m.d.sync += ctl1.eq(ctl_r)

        # Stage 2: memory data (registered bank outputs, then the bank select) plus the
        # perturbation: the perturbed weight (and bias) before saturation.
        w_sum = Signal(signed(max(nm.weight.width, 18) + 1), reset_less=True)
        s_reg = Signal(buf_shape, reset_less=True)
        ctl2a = Signal(ctl_layout)
        m.d.sync += [w_sum.eq(wmem.rd_data + delta_w), ctl2a.eq(ctl1)]
        if has_bias:
            b_sum = Signal(signed(max(nm.bias.width, 18) + 1), reset_less=True)
            m.d.sync += b_sum.eq(bmem.rd_data + delta_b)

        # Stage 3: the perturbed weight (and bias), saturated to its format; the state row
        # (read two cycles after the weight's address was issued one cycle earlier) lands.
        w_p = Signal(signed(nm.weight.width), reset_less=True)
        m.d.sync += w_p.eq(_saturate(w_sum, nm.weight.width))
        if has_bias:
            b_p = Signal(signed(nm.bias.width), reset_less=True)
            m.d.sync += b_p.eq(_saturate(b_sum, nm.bias.width))
        m.d.sync += s_reg.eq(Mux(ctl2a.sel, bufs[1].rd_data, bufs[0].rd_data))
        ctl2 = Signal(ctl_layout)
        m.d.sync += ctl2.eq(ctl2a)

        # Stage 4: the operands again, in plain registers that the ECP5 build packs into the
        # multipliers' input registers (ttzo.bitstream.dspreg). w_p cannot be packed itself:
        # synthesis may fold the saturation into its sign bit's synchronous reset.
        w_q = Signal(signed(nm.weight.width), reset_less=True)
        s_q = Signal(buf_shape, reset_less=True)
        ctl2b = Signal(ctl_layout)
        m.d.sync += [w_q.eq(w_p), s_q.eq(s_reg), ctl2b.eq(ctl2)]
        if has_bias:
            b_q = Signal(signed(nm.bias.width), reset_less=True)
            m.d.sync += b_q.eq(b_p)

        # Stage 5: products (one multiplier per lane; the build packs these registers into the
        # multipliers' output registers).
        prod_w = nm.weight.width + self.buffer_width
        prods = [Signal(signed(prod_w), name=f"prod{lane}", reset_less=True)
                 for lane in range(lanes)]
        m.d.sync += [prods[lane].eq(w_q * s_q[lane]) for lane in range(lanes)]
        ctl3 = Signal(ctl_layout)
        m.d.sync += ctl3.eq(ctl2b)
        if has_bias:
            b3 = Signal(signed(nm.bias.width), reset_less=True)
            m.d.sync += b3.eq(b_q)

        # Stage 6: accumulate; a finished sum moves on with its destination. The accumulators
        # load every cycle (no enable net reaching every bit of every lane): RUN issues one
        # iteration per cycle, so an output's iterations, from the one marked first to the one
        # marked last, are consecutive, and what the accumulators take in between is never
        # used.
        accs = [Signal(signed(acc_w), name=f"acc{lane}", reset_less=True) for lane in range(lanes)]
        sums = [Mux(ctl3.first, prods[lane], accs[lane] + prods[lane]) for lane in range(lanes)]
        m.d.sync += [accs[lane].eq(sums[lane]) for lane in range(lanes)]
        done = [Signal(signed(acc_w), name=f"sum{lane}", reset_less=True) for lane in range(lanes)]
        ctl4 = Signal(ctl_layout)
        m.d.sync += [done[lane].eq(sums[lane]) for lane in range(lanes)]
        m.d.sync += [ctl4.eq(ctl3), ctl4.valid.eq(ctl3.valid & ctl3.last)]
        if has_bias:
            b4 = Signal(signed(nm.bias.width), reset_less=True)
            m.d.sync += b4.eq(b3)

        # Stages 7-9: bias; rounding; saturation and activation; then write. Each of the three
        # carry chains has its own cycle.
        def reg(expr, name):
            r = Signal(Value.cast(expr).shape(), name=name, reset_less=True)
            m.d.sync += r.eq(expr)
            return r

        results = Signal(buf_shape, reset_less=True)
        first_frac = sched.cores[0].in_frac
        later_frac = sched.cores[1].in_frac if len(sched.cores) > 1 else first_frac
        last_frac = nm.weight.frac + sched.cores[-1].in_frac
        ctl5, ctl6, ctl7 = (Signal(ctl_layout, name=f"ctl{i}") for i in (5, 6, 7))
        m.d.sync += [ctl5.eq(ctl4), ctl6.eq(ctl5), ctl7.eq(ctl6)]
        for lane in range(lanes):
            value = done[lane]
            biased = value + (b4 << (last_frac - nm.bias.frac)) if has_bias else value
            biased5 = reg(biased, f"biased{lane}")
            value5 = reg(value, f"value{lane}")
            act6 = reg(_round_shift(biased5, last_frac - nm.activation.frac), f"act_r{lane}")
            state6 = reg(Mux(ctl5.first_core,
                             _round_shift(value5, nm.weight.frac + first_frac - nm.state.frac),
                             _round_shift(value5, nm.weight.frac + later_frac - nm.state.frac)),
                         f"state_r{lane}")
            out_act = _saturate(act6, nm.activation.width)
            if self.layer.activation == "relu":
                out_act = Mux(out_act < 0, 0, out_act)
            elif self.layer.activation in ("sine", "tanh"):
                out_act = self._table_lookup(m, lane, out_act)
            state_val = _saturate(state6, nm.state.width)
            m.d.sync += results[lane].eq(Mux(ctl6.final, out_act, state_val))
        with m.If(loading):
            m.d.comb += [bufs[0].wr_addr.eq(count), bufs[0].wr_en.eq(i_fire)]
            for lane in range(lanes):
                m.d.comb += bufs[0].wr_data[lane].eq(self.i_stream.payload[lane])
        with m.Else():
            for b in range(2):
                # core k writes buffer (k + 1) % 2, i.e. buffer 1 when sel (= k % 2) is 0
                m.d.comb += [
                    bufs[b].wr_addr.eq(ctl7.dst),
                    bufs[b].wr_data.eq(results),
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


def _table(engine: TTLayerEngine):
    return activation_table(engine.layer.activation, engine.numerics.activation,
                            engine.numerics.lut_bits)


def _all(values):
    """AND of a list of 1-bit values (1 for an empty list)."""
    result = Const(1, 1)
    for v in values:
        result = result & v
    return result


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
    index_width : int
        Bits of global parameter indices.
    block_shapes : tuple of (depth, width), optional
        The device's block RAM shapes (see :class:`TTLayerEngine`).
    rng_stage_ops : int
        Threefry operations per RNG pipeline stage (see :class:`TTLayerEngine`).
    deep_banks : bool
        Memory banks as deep as the block shapes allow (see :class:`ttzo.hw.bram.BankedMemory`).

    Attributes
    ----------
    i_stream : In(stream.Signature(lanes_layout(input width, lanes)))
    o_stream : Out(stream.Signature(lanes_layout(activation width, lanes)))
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
