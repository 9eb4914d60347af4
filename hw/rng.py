"""Perturbation RNG: Threefry-2x32 of (seed, parameter index), pipelined.

Golden twin: :mod:`ttzo.spec.rng` (``rademacher_int``, ``gauss_int``); the tests in
``tests/test_hw_rng.py`` compare the two under random stream idles and back-pressure.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ttzo.spec.rng import PARITY, ROTATIONS, ROUNDS
from ttzo.spec.schedule import rng_latency

__all__ = ["PerturbationRNG", "request_layout", "direction_layout", "rng_latency"]


def request_layout(index_width: int) -> data.StructLayout:
    """Input payload: the 32-bit seed and the parameter index."""
    return data.StructLayout({"seed": unsigned(32), "index": unsigned(index_width)})


#: Output payload: ``sign`` is 1 for a Rademacher ``-1``; ``gauss`` is ``g`` (value ``g / 4``).
direction_layout = data.StructLayout({"sign": unsigned(1), "gauss": signed(7)})


class PerturbationRNG(wiring.Component):
    """Regenerates perturbation directions from ``(seed, index)``.

    One request in, one direction out, in order; throughput one per cycle; latency
    ``rounds + rounds // 4 + 3`` cycles. The pipeline stalls as a whole while the output is
    valid and not accepted.

    Parameters
    ----------
    index_width : int
        Bits of the parameter index (the Threefry counter's low word; the high word is 0).
    rounds : int
        Threefry rounds (13 as in the golden model; other counts only for experiments).
    stage_ops : int
        Threefry operations (rounds and key injections, 16 in all) per pipeline stage: 1 for a
        fast clock (ECP5 at 100 MHz), more on slow devices to save flip-flops (iCE40).
    stable_seed : bool
        The seed stays constant while requests are in flight (the engine: one seed per query),
        so every stage reads it from the input instead of carrying it down the pipeline
        (32 flip-flops per stage fewer).

    Attributes
    ----------
    i_stream : In(stream.Signature(request_layout(index_width)))
    o_stream : Out(stream.Signature(direction_layout))
    """

    def __init__(self, index_width: int = 24, rounds: int = ROUNDS, stable_seed: bool = False,
                 stage_ops: int = 1):
        if not isinstance(index_width, int) or not 1 <= index_width <= 32:
            raise ValueError(f"index_width must be an integer from 1 to 32, not {index_width!r}")
        if not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be a positive integer, not {rounds!r}")
        if not isinstance(stage_ops, int) or stage_ops < 1:
            raise ValueError(f"stage_ops must be a positive integer, not {stage_ops!r}")
        self.stage_ops = stage_ops
        self.index_width = index_width
        self.rounds = rounds
        self.stable_seed = stable_seed
        super().__init__({
            "i_stream": In(stream.Signature(request_layout(index_width))),
            "o_stream": Out(stream.Signature(direction_layout)),
        })

    @property
    def latency(self) -> int:
        """Cycles from an accepted request to its direction being valid (without stalls)."""
        return rng_latency(self.stage_ops, self.rounds)

    def elaborate(self, platform):
        m = Module()
        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o_stream.valid | self.o_stream.ready),
            self.i_stream.ready.eq(advance),
        ]

        def stage(name, valid, values, width=32):
            """Register ``values`` (dict of name -> expression) behind the shared stall."""
            # data words have no reset (only the valid bits do)
            regs = {k: Signal(unsigned(width), name=f"{name}_{k}", reset_less=True)
                    for k in values}
            reg_valid = Signal(name=f"{name}_valid")
            with m.If(advance):
                m.d.sync += reg_valid.eq(valid)
                m.d.sync += [regs[k].eq(v) for k, v in values.items()]
            return reg_valid, regs

        req = self.i_stream.payload
        k0 = req.seed
        # Key schedule with k1 = 0: ks = (k0, 0, PARITY ^ k0). Counter = (index, 0).
        stable = self.stable_seed

        def carried(s):
            """The key fields a stage carries on (none with a stable seed)."""
            return {} if stable else {"k0": s["k0"]}

        valid, s = stage("init", self.i_stream.valid,
                         {"x0": (req.index + k0)[:32], "x1": 0, **carried({"k0": k0})})
        # The rounds and key injections in order, registered every stage_ops operations.
        ops = []
        for r in range(self.rounds):
            ops.append(("round", r))
            if r % 4 == 3:
                ops.append(("inject", (r + 1) // 4))
        for n, (kind, arg) in enumerate(ops):
            if kind == "round":
                x0 = (s["x0"] + s["x1"])[:32]
                s = {**s, "x0": x0, "x1": s["x1"].rotate_left(ROTATIONS[arg % 8]) ^ x0}
            else:
                key = k0 if stable else s["k0"]
                ks = [key, 0, key ^ PARITY]
                s = {**s, "x0": (s["x0"] + ks[arg % 3])[:32],
                     "x1": (s["x1"] + ks[(arg + 1) % 3] + arg)[:32]}
            if (n + 1) % self.stage_ops == 0 or n == len(ops) - 1:
                valid, s = stage(f"ops{n}", valid,
                                 {"x0": s["x0"], "x1": s["x1"], **carried(s)})
            else:  # name the intermediate words: expressions stay shared, not re-expanded
                for k in ("x0", "x1"):
                    wire = Signal(32, name=f"ops{n}_{k}")
                    m.d.comb += wire.eq(s[k])
                    s = {**s, k: wire}
        # Popcount of the 64 output bits in two stages: eight-bit partial sums, then the total.
        words = [s["x0"], s["x1"]]
        partial = {f"p{i}": sum(words[i // 4][(i % 4) * 8 + b] for b in range(8))
                   for i in range(8)}
        valid, p = stage("popcount_a", valid, {**partial, "sign": s["x0"][0]}, width=4)
        valid, t = stage("popcount_b", valid,
                         {"count": sum(p[f"p{i}"] for i in range(8)), "sign": p["sign"]}, width=7)
        m.d.comb += [
            self.o_stream.valid.eq(valid),
            self.o_stream.payload.sign.eq(t["sign"][0]),
            self.o_stream.payload.gauss.eq(t["count"] - 32),
        ]
        return m
