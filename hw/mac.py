"""The MAC lanes: one multiplier and accumulator per lane, all lanes sharing one weight.

Golden twin: the reductions of :func:`ttzo.spec.schedule.emulate_layer` (each output element is
the sum of its ``r_{k-1} * n_k`` products, accumulated in ``numerics.accumulator_width`` bits);
``tests/test_hw_mac.py`` compares running sums with NumPy.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MacLanes"]


class MacLanes(wiring.Component):
    """``lanes`` multiply-accumulate lanes: lane ``l`` adds ``weight * state[l]`` every cycle.

    Three register stages: the operands (plain registers, which the ECP5 build packs into the
    multipliers' input registers, :mod:`ttzo.bitstream.dspreg`), the products (packed into the
    multipliers' output registers) and the sums. The accumulators load every cycle, with no
    enable net reaching every bit of every lane: the engine issues an output element's products
    on consecutive cycles, from the one marked ``first`` to its last, and what the accumulators
    hold in between elements is never used.

    Parameters
    ----------
    lanes : int
        Lanes (samples processed together).
    weight_width, state_width : int
        Operand widths (signed).
    acc_width : int
        Accumulator width (signed; sums wrap at it, the numerics make sure they never need to).

    Attributes
    ----------
    weight : In(signed(weight_width))
        The weight shared by all lanes.
    state : In(data.ArrayLayout(signed(state_width), lanes))
        Each lane's state element.
    first : In(1)
        This product starts a new sum.
    sums : Out(data.ArrayLayout(signed(acc_width), lanes))
        Each lane's running sum including the product of the operands presented
        :data:`LATENCY` cycles earlier.
    """

    #: Cycles from operands to the sums that include their product.
    LATENCY = 3

    def __init__(self, lanes: int, weight_width: int, state_width: int, acc_width: int):
        for name, v in (("lanes", lanes), ("weight_width", weight_width),
                        ("state_width", state_width), ("acc_width", acc_width)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        self.lanes = lanes
        self.acc_width = acc_width
        self.prod_width = weight_width + state_width
        super().__init__({
            "weight": In(signed(weight_width)),
            "state": In(data.ArrayLayout(signed(state_width), lanes)),
            "first": In(1),
            "sums": Out(data.ArrayLayout(signed(acc_width), lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes = range(self.lanes)
        # Stage 1: operands in plain registers. (The engine's saturated weight cannot be packed
        # itself: synthesis may fold the saturation into its sign bit's synchronous reset.)
        w_q = Signal.like(self.weight, reset_less=True)
        s_q = Signal.like(self.state, reset_less=True)
        first = [Signal(name=f"first_d{i}") for i in range(2)]
        m.d.sync += [w_q.eq(self.weight), s_q.eq(self.state),
                     first[0].eq(self.first), first[1].eq(first[0])]
        # Stage 2: products, one multiplier per lane.
        prods = [Signal(signed(self.prod_width), name=f"prod{lane}", reset_less=True)
                 for lane in lanes]
        m.d.sync += [prods[lane].eq(w_q * s_q[lane]) for lane in lanes]
        # Stage 3: accumulate; the finished sum of each lane leaves in its own register.
        accs = [Signal(signed(self.acc_width), name=f"acc{lane}", reset_less=True)
                for lane in lanes]
        done = [Signal(signed(self.acc_width), name=f"sum{lane}", reset_less=True)
                for lane in lanes]
        for lane in lanes:
            total = Mux(first[1], prods[lane], accs[lane] + prods[lane])
            m.d.sync += [accs[lane].eq(total), done[lane].eq(total)]
            m.d.comb += self.sums[lane].eq(done[lane])
        return m
