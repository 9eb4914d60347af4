# amaranth: UnusedElaboratable=no
"""The perturbation stage against its golden twin: every mode and sign, directions from the
RNG's golden twin, stored values at the format's corners."""

from __future__ import annotations

import random

import numpy as np
import pytest
from streams import simulate

from ttzo.golden.perturb import apply_perturbation
from ttzo.hw.perturbation import ParameterPerturber, perturb_layout
from ttzo.spec.perturb import MODES, Perturbation
from ttzo.spec.rng import gauss_int, rademacher_int

INDEX_WIDTH = 16


def run_perturber(width: int, offset: int, values: np.ndarray, addrs: list[int],
                  p: Perturbation) -> list[int]:
    """Stream entries (address ``addrs[e]``, stored value ``values[addrs[e]]``) through the
    stage, each input at the cycle its port documents; the perturbed values in order."""
    dut = ParameterPerturber(width, addr_width=8, offset=offset, index_width=INDEX_WIDTH)
    index = offset + np.asarray(addrs)
    # the RNG output layout: sign is 1 for -1
    signs = (rademacher_int(p.seed, index) < 0).astype(int)
    gauss = gauss_int(p.seed, index)
    n = len(addrs)
    out = []

    async def bench(ctx):
        ctx.set(dut.query, perturb_layout(INDEX_WIDTH).const({
            "mode": MODES.index(p.mode), "negate": int(p.negate), "mu": p.mu, "seed": p.seed,
            "index": p.index}))
        await ctx.tick().repeat(2)  # the query is latched well before its entries
        # cycle c: direction and address of entry c, value of entry c - 2; entry e's result
        # is there at cycle e + LATENCY
        for c in range(n + ParameterPerturber.LATENCY):
            if c < n:
                ctx.set(dut.direction, {"sign": int(signs[c]), "gauss": int(gauss[c])})
                ctx.set(dut.addr, addrs[c])
            if 0 <= c - 2 < n:
                ctx.set(dut.value, int(values[addrs[c - 2]]))
            if 0 <= c - ParameterPerturber.LATENCY < n:
                out.append(ctx.get(dut.perturbed))
            await ctx.tick()

    simulate(dut, bench)
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("negate", [False, True])
def test_perturbed_values_equal_the_golden_model(mode, negate):
    rng = random.Random(MODES.index(mode) * 2 + negate)
    width, offset, size = 8, 300, 40
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    values = np.array([rng.choice([lo, hi, 0, rng.randint(lo, hi)]) for _ in range(size)])
    addrs = [rng.randrange(size) for _ in range(120)] + list(range(size))
    for mu in (1, 37, 255):
        p = Perturbation(mode, mu=mu, negate=negate, seed=rng.getrandbits(32),
                         index=offset + rng.randrange(size))
        # golden: the whole parameter vector perturbed, read at the entries' indices
        theta = np.zeros(offset + size, dtype=np.int64)
        theta[offset:] = values
        expected = apply_perturbation(theta, p, np.full(theta.shape, width))[offset:]
        got = run_perturber(width, offset, values, addrs, p)
        assert got == expected[addrs].tolist(), (mode, negate, mu)


def test_offset_outside_the_index_range_is_refused_naming_it():
    with pytest.raises(ValueError, match="offset 70000 is not a 16-bit parameter index"):
        ParameterPerturber(8, 4, 70000, 16)
