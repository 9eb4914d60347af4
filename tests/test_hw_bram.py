# amaranth: UnusedElaboratable=no
"""Banked memory against a Python array read READ_LATENCY enabled cycles later; a read whose
block access meets a write to its row returns the row inverted (undefined in hardware)."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from ttzo.hw.bram import READ_LATENCY, BankedMemory


@pytest.mark.parametrize("depth,bank_depth", [(1, 4), (5, 4), (8, 4), (19, 4), (16, 512), (37, 2)])
def test_reads_return_the_row_written_with_stalls(depth, bank_depth):
    rng = random.Random(depth * 100 + bank_depth)
    dut = BankedMemory(signed(10), depth, bank_depth=bank_depth)
    assert dut.banks == -(-depth // dut.bank_depth)
    model = [0] * depth
    cycles = 400
    plan = [(rng.random() < 0.7, rng.randrange(depth), rng.random() < 0.3, rng.randrange(depth),
             rng.randrange(-512, 512)) for _ in range(cycles)]

    async def bench(ctx):
        # Enabled cycles move a read along: its address is registered twice (bank, then block
        # level), the next enabled cycle reads the block (seeing memory before that cycle's
        # write), the following ones carry the row through the bank and group registers.
        addr_stages = [None, None]
        data_stages = [None] * (READ_LATENCY - len(addr_stages))
        nonlocal collisions
        filled = 0
        # writes presented one and two cycles ago: the older one reaches the blocks now
        writes = [None, None]
        for rd_en, rd_addr, wr_en, wr_addr, value in plan:
            ctx.set(dut.rd_en, rd_en)
            ctx.set(dut.rd_addr, rd_addr)
            ctx.set(dut.wr_en, wr_en)
            ctx.set(dut.wr_addr, wr_addr)
            ctx.set(dut.wr_data, value)
            if filled >= READ_LATENCY:
                assert ctx.get(dut.rd_data) == data_stages[-1]
            if rd_en:
                block_addr = addr_stages[-1]
                row = None if block_addr is None else model[block_addr]
                if row is not None and writes[-1] is not None and writes[-1][0] == block_addr:
                    row = ~row  # a collision: undefined in hardware, inverted in simulation
                    collisions += 1
                data_stages = [row] + data_stages[:-1]
                addr_stages = [rd_addr] + addr_stages[:-1]
                filled += 1
            if writes[-1] is not None:
                model[writes[-1][0]] = writes[-1][1]
            writes = [(wr_addr, value) if wr_en else None] + writes[:-1]
            await ctx.tick()

    collisions = 0
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert depth > 8 or collisions > 0  # small memories exercise the collision path


def test_bad_bank_depth_is_named():
    with pytest.raises(ValueError, match="bank_depth must be a power of two, not 12"):
        BankedMemory(signed(8), 40, bank_depth=12)
    with pytest.raises(ValueError, match="depth must be a positive integer, not 0"):
        BankedMemory(signed(8), 0)


@pytest.mark.parametrize("count,ready_p", [(1, 1.0), (37, 1.0), (37, 0.4), (100, 0.8)])
def test_row_streamer_delivers_every_row_in_order_under_back_pressure(count, ready_p):
    """Rows [0, count) of a banked memory come out in order, once each; with a consumer that
    is always ready, one per cycle after the read latency (no bubbles from the credits)."""
    from amaranth.hdl import Module

    from ttzo.hw.bram import RowStreamer

    rng = random.Random(count)
    depth = 128
    contents = [rng.randrange(-512, 512) for _ in range(depth)]
    m = Module()
    m.submodules.mem = mem = BankedMemory(signed(10), depth, bank_depth=32)
    m.submodules.streamer = dut = RowStreamer(signed(10), len(mem.rd_addr), depth)
    m.d.comb += [mem.rd_addr.eq(dut.rd_addr), mem.rd_en.eq(1), dut.rd_data.eq(mem.rd_data)]

    async def bench(ctx):
        for row, value in enumerate(contents):  # fill the memory through its write port
            ctx.set(mem.wr_en, 1)
            ctx.set(mem.wr_addr, row)
            ctx.set(mem.wr_data, value)
            await ctx.tick()
        ctx.set(mem.wr_en, 0)
        await ctx.tick().repeat(4)
        ctx.set(dut.count, count)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        got, dones, first, cycle = [], 0, None, 0
        while len(got) < count and cycle < 20 * count + 50:
            ready = rng.random() < ready_p
            ctx.set(dut.o_stream.ready, ready)
            if ready and ctx.get(dut.o_stream.valid):
                got.append(ctx.get(dut.o_stream.payload))
                first = cycle if first is None else first
                dones += ctx.get(dut.done)
            await ctx.tick()
            cycle += 1
        ctx.set(dut.o_stream.ready, 1)
        for _ in range(20):  # nothing more comes out
            assert not ctx.get(dut.o_stream.valid)
            await ctx.tick()
        assert got == contents[:count] and dones == 1
        if ready_p == 1.0:
            assert cycle - first == count  # one row per cycle once the first arrived

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_deep_banks_take_the_deepest_equally_cheap_shape():
    """iCE40 blocks store an 8-bit row equally cheaply as 512 x 8 or 2048 x 2 (four slices):
    by default the shallowest, with deep_banks the deepest; the estimate counts the same."""
    from dataclasses import replace

    from amaranth.hdl import unsigned

    from ttzo.estimate import banked_blocks, banks
    from ttzo.spec.boards import get_board

    device = get_board("icebreaker").device
    plain = BankedMemory(unsigned(8), 1568, device.bank_shapes)
    deep = BankedMemory(unsigned(8), 1568, device.bank_shapes, deep_banks=True)
    assert (plain.bank_depth, plain.banks) == (512, 4)
    assert (deep.bank_depth, deep.banks) == (2048, 1)
    assert banks(1568, 8, device) == 4
    assert banks(1568, 8, replace(device, deep_banks=True)) == 1
    assert banked_blocks(1568, 8, replace(device, deep_banks=True)) == 4  # as many blocks
