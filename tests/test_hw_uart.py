# amaranth: UnusedElaboratable=no
"""UART gateware against the 8N1 bit sequence generated and decoded in Python."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator
from streams import send

from ttzo.hw.uart import UARTRx, UARTTx, uart_divisor

DIV = 5


def waveform(data: list[int], divisor: int, rng: random.Random, bad_stop: set[int] = frozenset()):
    """Line levels, one per clock cycle: idle gaps, then start, 8 data bits LSB first, stop."""
    levels = [1] * 7
    for i, byte in enumerate(data):
        levels += [1] * rng.randint(0, 2 * divisor)
        bits = [0] + [(byte >> b) & 1 for b in range(8)] + [0 if i in bad_stop else 1]
        for bit in bits:
            levels += [bit] * divisor
        if i in bad_stop:
            levels += [1] * divisor
    return levels + [1] * (4 * divisor)


def decode(levels: list[int], divisor: int) -> list[int]:
    """Independent 8N1 decoder: find falling edges, sample mid-bit."""
    out, i = [], 1
    while i < len(levels):
        if levels[i - 1] == 1 and levels[i] == 0:
            mid = i + divisor // 2
            bits = [levels[mid + divisor * (b + 1)] for b in range(9)]
            assert bits[8] == 1, "stop bit"
            out.append(sum(bit << b for b, bit in enumerate(bits[:8])))
            i = mid + divisor * 9
        else:
            i += 1
    return out


def test_rx_decodes_bytes_and_counts_framing_errors():
    rng = random.Random(3)
    data = [0x00, 0xFF, 0x55, 0xAA] + [rng.randrange(256) for _ in range(40)]
    bad = {5, 17}
    levels = waveform(data, DIV, rng, bad)
    dut = UARTRx(DIV)
    got = []

    async def drive(ctx):
        for level in levels:
            ctx.set(dut.rx, level)
            await ctx.tick()

    async def sink(ctx):
        ctx.set(dut.o_stream.ready, 1)
        async for _, _, valid, payload in ctx.tick().sample(dut.o_stream.valid,
                                                            dut.o_stream.payload):
            if valid:
                got.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(drive)
    sim.add_process(sink)
    sim.run()
    assert got == [b for i, b in enumerate(data) if i not in bad]


def test_rx_error_counters():
    rng = random.Random(4)
    data = [rng.randrange(256) for _ in range(6)]
    levels = waveform(data, DIV, rng, {1, 3})
    dut = UARTRx(DIV)
    counts = {}

    async def drive(ctx):
        ctx.set(dut.o_stream.ready, 0)  # never take a byte: the second good byte overruns
        for level in levels:
            ctx.set(dut.rx, level)
            await ctx.tick()
        counts["framing"] = ctx.get(dut.framing_errors)
        counts["overruns"] = ctx.get(dut.overruns)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(drive)
    sim.run()
    assert counts == {"framing": 2, "overruns": 3}


def test_tx_sends_8n1_frames_with_idles_in_between():
    rng = random.Random(5)
    data = [0x00, 0xFF, 0x81] + [rng.randrange(256) for _ in range(30)]
    dut = UARTTx(DIV)
    levels = []

    async def source(ctx):
        await send(ctx, dut.i_stream, data, rng, idle=0.5)
        for _ in range(12 * DIV):
            await ctx.tick()

    async def probe(ctx):
        async for _, _, level in ctx.tick().sample(dut.tx):
            levels.append(level)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_process(probe)
    sim.run()
    assert decode(levels, DIV) == data
    assert levels[0] == 1 and levels[-1] == 1


def test_divisor_checks():
    assert uart_divisor(25e6, 115200) == 217
    with pytest.raises(ValueError, match="too high"):
        uart_divisor(25e6, 10e6)
    with pytest.raises(ValueError, match="off by"):
        uart_divisor(1e6, 180e3)
    with pytest.raises(ValueError, match="divisor must be"):
        UARTRx(2)
