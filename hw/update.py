"""Update pass: theta <- sat(theta - round_half_up(sum_q c_q u_q(seed_q) / 2**shift)).

Golden twin: :func:`ttzo.golden.perturb.apply_update`; ``tests/test_hw_update.py`` compares the
two. With it only the seeds and one scalar per query cross the host link for an RGE step: the
device regenerates every direction entry from ``(seed_q, index)`` with the same Threefry unit
as the forward queries.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ttzo.hw.mux import select
from ttzo.hw.rng import PerturbationRNG

__all__ = ["UpdateUnit", "registered_lookup", "update_config_layout", "update_item_layout"]


def update_config_layout(max_directions: int, coef_width: int) -> data.StructLayout:
    """Pass configuration: direction kind (0 Rademacher, 1 Gauss), count, shift, seeds, coefs."""
    return data.StructLayout({
        "gauss": unsigned(1),
        "count": unsigned(max(1, max_directions.bit_length())),
        "shift": unsigned(6),
        "seeds": data.ArrayLayout(unsigned(32), max_directions),
        "coefs": data.ArrayLayout(signed(coef_width), max_directions),
    })


def update_item_layout(index_width: int, value_width: int) -> data.StructLayout:
    """One parameter: its global index, its value, and whether it is a bias (format width)."""
    return data.StructLayout({"index": unsigned(index_width), "value": signed(value_width),
                              "bias": unsigned(1)})


class _State(enum.Enum, shape=3):
    IDLE, PREP, ISSUE, WAIT, SHIFT, SUBTRACT, SATURATE, EMIT = range(8)


#: Entries a table lookup's first registered stage chooses among (one LUT-and-mux level).
LOOKUP_GROUP = 4


def registered_lookup(m: Module, table, index: Value, name: str) -> Signal:
    """``table[index]`` two cycles later, through two registered 4-way choices.

    The first stage picks, in every group of :data:`LOOKUP_GROUP` entries, the entry at the
    index's low bits; the second picks the group at its high bits (delayed with the first
    stage). No register has an enable or a reset, so each stage is one small multiplexer,
    however far the placer puts the table's registers (a 16 x 32-bit seed table read in one cycle
    was the update unit's critical path: a long route into four LUT levels). Indices past the
    table give an unspecified entry.
    """
    size = len(table)
    low_bits = (LOOKUP_GROUP - 1).bit_length()
    low, high = index[:low_bits], index[low_bits:]
    groups = []
    for g in range(0, size, LOOKUP_GROUP):
        reg = Signal.like(table[0], name=f"{name}_group{g // LOOKUP_GROUP}", reset_less=True)
        m.d.sync += reg.eq(select(low, [table[i] for i in range(g, min(g + LOOKUP_GROUP, size))]))
        groups.append(reg)
    high_q = Signal.like(high, name=f"{name}_high", reset_less=True)
    m.d.sync += high_q.eq(high)
    out = Signal.like(table[0], name=name, reset_less=True)
    m.d.sync += out.eq(select(high_q, groups))
    return out


class UpdateUnit(wiring.Component):
    """Streams parameters through the update rule, one at a time.

    Per parameter: one cycle for the seed table lookup, ``count`` RNG requests on consecutive
    cycles, the products ``c_q * u_q`` accumulated exactly as they return, then one rounding and
    one saturation (to ``weight_width`` or ``bias_width``). That is about ``count + 30`` cycles
    per parameter: a pass over the 3,962 MNIST parameters with 10 directions takes about 158,000
    cycles (1.6 ms at 100 MHz), once per optimizer step.

    Parameters
    ----------
    weight_width, bias_width : int
        Format widths of weights and biases (saturation bounds).
    max_directions : int
        Capacity of the seed and coefficient tables.
    coef_width : int
        Bits of each integer coefficient ``c_q``.
    index_width : int
        Bits of global parameter indices.

    Attributes
    ----------
    config : In(update_config_layout(max_directions, coef_width))
        Must stay stable during a pass.
    i_stream : In(stream.Signature(update_item_layout(index_width, value width)))
    o_stream : Out(stream.Signature(update_item_layout(index_width, value width)))
    """

    def __init__(self, weight_width: int = 8, bias_width: int = 16, max_directions: int = 16,
                 coef_width: int = 16, index_width: int = 24):
        if not isinstance(max_directions, int) or max_directions < 1:
            raise ValueError(f"max_directions must be a positive integer, not {max_directions!r}")
        self.weight_width = weight_width
        self.bias_width = bias_width
        self.max_directions = max_directions
        self.coef_width = coef_width
        self.index_width = index_width
        value_width = max(weight_width, bias_width)
        item = update_item_layout(index_width, value_width)
        super().__init__({
            "config": In(update_config_layout(max_directions, coef_width)),
            "i_stream": In(stream.Signature(item)),
            "o_stream": Out(stream.Signature(item)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.rng = rng = PerturbationRNG(self.index_width)
        state = Signal(_State)
        item = Signal.like(self.i_stream.payload)
        issued = Signal(range(self.max_directions + 1))
        received = Signal(range(self.max_directions + 1))
        summed = Signal(range(self.max_directions + 1))
        acc_width = self.coef_width + 8 + self.max_directions.bit_length()
        acc = Signal(signed(acc_width))

        # RNG requests for the current item, seed q on the q-th cycle of ISSUE. The seed comes
        # from a two-stage registered lookup at ``next_seed``, the table position two cycles
        # ahead: 0 while idle (EMIT clears it), 1 in the cycle an item is taken, 2 in PREP (the
        # cycle the lookup needs), then one more every ISSUE cycle.
        next_seed = Signal(range(self.max_directions + 3))
        seed_q = registered_lookup(m, cfg.seeds, next_seed, "seed_q")
        m.d.comb += [
            rng.i_stream.valid.eq(state == _State.ISSUE),
            rng.i_stream.payload.index.eq(item.index),
            rng.i_stream.payload.seed.eq(seed_q),
            rng.o_stream.ready.eq(1),
        ]
        # Each returning direction gives c_q * u_q (u: +-1, or g with two fraction bits), which
        # is registered, then accumulated: a multiply and an add never share a cycle.
        # Six registered steps: coefficient lookup (two, the direction waiting beside it),
        # the multiplier's operands, product (and the +-c_q of a sign, in two steps beside it),
        # the term of the direction's kind, accumulation.
        coef = registered_lookup(m, cfg.coefs, received, "coef")
        direction_a = Signal.like(rng.o_stream.payload)
        direction = Signal.like(rng.o_stream.payload)
        picked_a = Signal()
        picked = Signal()
        m.d.sync += [direction_a.eq(rng.o_stream.payload), picked_a.eq(rng.o_stream.valid),
                     direction.eq(direction_a), picked.eq(picked_a)]
        # The operand and product registers load nothing else and have no reset, so that the
        # build packs them into the multiplier block (ttzo.bitstream.dspreg): the product routed
        # from a far block into fabric flip-flops was the ULX3S build's critical path.
        mul_coef = Signal.like(coef, name="mul_coef", reset_less=True)
        mul_gauss = Signal.like(direction.gauss, name="mul_gauss", reset_less=True)
        product = Signal(signed(acc_width), reset_less=True)
        m.d.sync += [mul_coef.eq(coef), mul_gauss.eq(direction.gauss),
                     product.eq(mul_coef * mul_gauss)]
        signed_coef_a = Signal(signed(self.coef_width + 1))
        signed_coef = Signal(signed(self.coef_width + 1))
        operands_valid = Signal()
        product_valid = Signal()
        m.d.sync += [signed_coef_a.eq(Mux(direction.sign, -coef, coef)),
                     signed_coef.eq(signed_coef_a),
                     operands_valid.eq(picked), product_valid.eq(operands_valid)]
        term = Signal(signed(acc_width))
        term_valid = Signal()
        m.d.sync += [term.eq(Mux(cfg.gauss, product, signed_coef)),
                     term_valid.eq(product_valid)]
        with m.If(rng.o_stream.valid):
            m.d.sync += received.eq(received + 1)
        with m.If(term_valid):
            m.d.sync += [acc.eq(acc + term), summed.eq(summed + 1)]

        # Rounding, shift, subtraction and saturation: one registered step each (ROUND, SHIFT,
        # SUBTRACT, SATURATE) so that the pass runs at the engine's clock.
        shift = cfg.shift
        half = Signal(unsigned(acc_width))  # 2**(shift-1), or 0 for no shift; cfg is stable
        m.d.sync += half.eq(Mux(shift == 0, 0, Const(1, 1) << (shift - 1)[:6]))
        acc_half = Signal(signed(acc_width + 1))
        rounded = Signal(signed(acc_width + 1))
        updated = Signal(signed(max(acc_width + 1, len(item.value)) + 1))
        lo_w, hi_w = -(1 << (self.weight_width - 1)), (1 << (self.weight_width - 1)) - 1
        lo_b, hi_b = -(1 << (self.bias_width - 1)), (1 << (self.bias_width - 1)) - 1
        lo = Mux(item.bias, lo_b, lo_w)
        hi = Mux(item.bias, hi_b, hi_w)
        result = Signal.like(self.o_stream.payload)

        with m.Switch(state):
            with m.Case(_State.IDLE):
                m.d.comb += self.i_stream.ready.eq(1)
                with m.If(self.i_stream.valid):
                    m.d.sync += [item.eq(self.i_stream.payload), issued.eq(0), received.eq(0),
                                 summed.eq(0), acc.eq(0), next_seed.eq(1)]
                    m.d.sync += state.eq(Mux(cfg.count == 0, _State.EMIT, _State.PREP))
            with m.Case(_State.PREP):
                m.d.sync += [next_seed.eq(2), state.eq(_State.ISSUE)]
            with m.Case(_State.ISSUE):
                with m.If(issued == cfg.count - 1):
                    m.d.sync += state.eq(_State.WAIT)
                m.d.sync += [issued.eq(issued + 1), next_seed.eq(next_seed + 1)]
            with m.Case(_State.WAIT):
                with m.If(summed == cfg.count):
                    m.d.sync += [acc_half.eq(acc + half), state.eq(_State.SHIFT)]
            with m.Case(_State.SHIFT):
                m.d.sync += [rounded.eq(acc_half >> shift), state.eq(_State.SUBTRACT)]
            with m.Case(_State.SUBTRACT):
                m.d.sync += [updated.eq(item.value - rounded), state.eq(_State.SATURATE)]
            with m.Case(_State.SATURATE):
                m.d.sync += [
                    result.index.eq(item.index), result.bias.eq(item.bias),
                    result.value.eq(Mux(updated > hi, hi, Mux(updated < lo, lo, updated))),
                    state.eq(_State.EMIT),
                ]
            with m.Case(_State.EMIT):
                m.d.sync += next_seed.eq(0)
                m.d.comb += self.o_stream.valid.eq(1)
                with m.If(self.o_stream.ready):
                    m.d.sync += state.eq(_State.IDLE)
        m.d.comb += self.o_stream.payload.eq(result)
        # count == 0: nothing to subtract; the value passes through unchanged.
        with m.If((state == _State.IDLE) & self.i_stream.valid & (cfg.count == 0)):
            m.d.sync += [result.index.eq(self.i_stream.payload.index),
                         result.bias.eq(self.i_stream.payload.bias),
                         result.value.eq(self.i_stream.payload.value)]
        return m
