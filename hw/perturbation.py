"""The perturbation stage: a parameter as a query perturbs it, entry by entry as it is read.

Golden twin: :func:`ttzo.golden.perturb.apply_perturbation` (with
:func:`ttzo.spec.perturb.perturbation_delta`); ``tests/test_hw_perturbation.py`` compares them
in every mode and sign, with directions from the RNG's golden twin.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from ttzo.hw.fixed import round_shift, saturate
from ttzo.hw.rng import direction_layout
from ttzo.spec.perturb import MODES

__all__ = ["PerturbMode", "perturb_layout", "ParameterPerturber"]

#: Width of a perturbation ``delta`` before the saturating add (``mu * g / 4`` with
#: ``|g| <= 64``, ``mu <= 255``, fits 14 bits signed; 18 is the multiplier's operand width).
DELTA_WIDTH = 18


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


class ParameterPerturber(wiring.Component):
    """One parameter stream (weights or biases) perturbed by a query, one entry per cycle.

    An entry moves through the stage in a fixed pattern of cycles: its RNG direction (the RNG's
    output) and its address arrive at ``t``, its stored value at ``t + 2``; the perturbed value
    leaves at ``t + 4`` (:data:`LATENCY`). The product ``g * mu`` and the coordinate match at
    ``t + 1``, ``delta`` at ``t + 2``, the sum at ``t + 3`` and its saturation at ``t + 4`` each
    have their own register, so compare, multiply, round and saturating add never share a
    cycle.

    Parameters
    ----------
    width : int
        The parameter format's width (the perturbed value saturates to it).
    addr_width : int
        Bits of the layer-local address.
    offset : int
        Global ``theta`` index of local address 0: the coordinate mode compares local
        addresses with the query's index made local once per query.
    index_width : int
        Bits of global parameter indices.

    Attributes
    ----------
    query : In(perturb_layout(index_width))
        The query, stable while its entries pass (the engine latches it per group); the step
        with and without its sign and the local coordinate are registered from it.
    direction : In(direction_layout)
        The entry's RNG output (sign, Gaussian).
    addr : In(unsigned(addr_width))
        The entry's layer-local address, with its direction.
    value : In(signed(width))
        The entry's stored value, two cycles after its address.
    perturbed : Out(signed(width))
        ``saturate(value + delta)``, four cycles after the address.
    """

    #: Cycles from an entry's direction and address to its perturbed value.
    LATENCY = 4

    def __init__(self, width: int, addr_width: int, offset: int, index_width: int):
        for name, v in (("width", width), ("addr_width", addr_width), ("index_width", index_width)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        if not isinstance(offset, int) or not 0 <= offset < (1 << index_width):
            raise ValueError(f"offset {offset!r} is not a {index_width}-bit parameter index")
        self.width = width
        self.offset = offset
        super().__init__({
            "query": In(perturb_layout(index_width)), "direction": In(direction_layout),
            "addr": In(unsigned(addr_width)), "value": In(signed(width)),
            "perturbed": Out(signed(width)),
        })

    def elaborate(self, platform):
        m = Module()
        q = self.query
        # The step with and without its sign, registered from the query (latched long before
        # its first perturbed read), so that no negation sits in the per-entry path. Data
        # registers have no reset (keeping the reset net's fanout small).
        mu_pos, mu_neg, mu_signed = (Signal(signed(9), name=n, reset_less=True)
                                     for n in ("mu_pos", "mu_neg", "mu_signed"))
        m.d.sync += [mu_pos.eq(q.mu), mu_neg.eq(-q.mu), mu_signed.eq(Mux(q.negate, -q.mu, q.mu))]
        coord = Signal(signed(len(q.index) + 2))
        m.d.sync += coord.eq(q.index - self.offset)

        gauss_t = Signal(signed(len(self.direction.gauss) + len(mu_signed)), reset_less=True)
        sign_t = Signal(reset_less=True)
        hit = Signal(reset_less=True)  # the entry is the query's coordinate
        m.d.sync += [gauss_t.eq(self.direction.gauss * mu_signed), sign_t.eq(self.direction.sign),
                     hit.eq(self.addr == coord)]
        delta = Signal(signed(DELTA_WIDTH), name="pdelta")
        with m.Switch(q.mode):
            with m.Case(PerturbMode.NONE):
                m.d.comb += delta.eq(0)
            with m.Case(PerturbMode.COORDINATE):
                m.d.comb += delta.eq(Mux(hit, mu_signed, 0))
            with m.Case(PerturbMode.RADEMACHER):
                m.d.comb += delta.eq(Mux(sign_t ^ q.negate, mu_neg, mu_pos))
            with m.Case(PerturbMode.GAUSS):
                m.d.comb += delta.eq(round_shift(gauss_t, 2))
        delta_r = Signal(signed(DELTA_WIDTH), name="pdelta_r", reset_less=True)
        total = Signal(signed(max(self.width, DELTA_WIDTH) + 1), reset_less=True)
        perturbed = Signal(signed(self.width), reset_less=True)
        m.d.sync += [delta_r.eq(delta), total.eq(self.value + delta_r),
                     perturbed.eq(saturate(total, self.width))]
        m.d.comb += self.perturbed.eq(perturbed)
        return m
