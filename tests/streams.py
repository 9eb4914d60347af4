"""Stream drivers for Amaranth-simulator tests: a source with random idles, a sink with random
back-pressure (the same discipline as the cocotb testbenches)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


async def send(ctx, stream, payloads: Sequence[Any], rng: random.Random, idle: float = 0.3):
    """Offer each payload in order, idling at random between them."""
    for payload in payloads:
        while rng.random() < idle:
            await ctx.tick()
        ctx.set(stream.payload, payload)
        ctx.set(stream.valid, 1)
        await ctx.tick().until(stream.ready)
        ctx.set(stream.valid, 0)


async def receive(ctx, stream, count: int | None, rng: random.Random, stall: float = 0.3,
                  until=None) -> list:
    """Accept ``count`` payloads (or until ``until(payloads)`` holds), withholding ready at
    random."""
    out = []
    while (len(out) < count) if until is None else not until(out):
        ready = rng.random() >= stall
        ctx.set(stream.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload)
        if ready and valid:
            out.append(payload)
    ctx.set(stream.ready, 0)
    return out


def run_pipeline(dut, inputs: Sequence[dict[str, Any]], output, latency: int) -> list:
    """Simulate ``dut`` with one set of input ports per cycle (``inputs[t]``: port name to value)
    and return ``output``'s value ``latency`` cycles after each set, as lists of ints."""
    got = []

    async def bench(ctx):
        for t in range(len(inputs) + latency):
            if t < len(inputs):
                for name, value in inputs[t].items():
                    ctx.set(getattr(dut, name), value)
            if t >= latency:
                got.append([int(v) for v in ctx.get(output)])
            await ctx.tick()

    simulate(dut, bench)
    return got


def simulate(dut, *testbenches) -> None:
    """Run ``testbenches`` on ``dut`` with a clock until they all return."""
    from amaranth.sim import Simulator

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in testbenches:
        sim.add_testbench(bench)
    sim.run()
