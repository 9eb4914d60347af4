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
        # Enabled cycles move a read along: its address is registered, the next enabled cycle
        # reads the block (seeing memory before that cycle's write), the following ones carry
        # the row through the bank and group registers to the output.
        addr_stage = None
        data_stages = [None] * (READ_LATENCY - 1)
        nonlocal collisions
        filled = 0
        pending_write = None  # a write reaches the blocks one cycle after it is presented
        for rd_en, rd_addr, wr_en, wr_addr, value in plan:
            ctx.set(dut.rd_en, rd_en)
            ctx.set(dut.rd_addr, rd_addr)
            ctx.set(dut.wr_en, wr_en)
            ctx.set(dut.wr_addr, wr_addr)
            ctx.set(dut.wr_data, value)
            if filled >= READ_LATENCY:
                assert ctx.get(dut.rd_data) == data_stages[-1]
            if rd_en:
                row = None if addr_stage is None else model[addr_stage]
                if row is not None and pending_write is not None \
                        and pending_write[0] == addr_stage:
                    row = ~row  # a collision: undefined in hardware, inverted in simulation
                    collisions += 1
                data_stages = [row] + data_stages[:-1]
                addr_stage = rd_addr
                filled += 1
            if pending_write is not None:
                model[pending_write[0]] = pending_write[1]
            pending_write = (wr_addr, value) if wr_en else None
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
