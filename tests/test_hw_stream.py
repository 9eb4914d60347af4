"""Stream register stages: every payload in order (the identity is their golden twin) under
random idles and back-pressure, full throughput, and which handshake signals are registers."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Fragment, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from streams import receive, send

from ttzo.hw.stream import SkidBuffer, StreamRegister, StreamWire, add_skid_buffer

STAGES = [StreamRegister, SkidBuffer]


class _SkidChain(wiring.Component):
    """Two stages chained by ``add_skid_buffer`` (source only, then source and sink); the
    second a :class:`StreamWire` when ``register`` is off."""

    def __init__(self, shape, register: bool = True):
        self.register = register
        super().__init__({"i_stream": In(stream.Signature(shape)),
                          "o_stream": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        first = add_skid_buffer(m, "first", source=wiring.flipped(self.i_stream))
        add_skid_buffer(m, "second", source=first.o_stream, sink=wiring.flipped(self.o_stream),
                        register=self.register)
        return m


def _WireChain(shape):  # noqa: N802 - stands in for a component class in the parametrization
    return _SkidChain(shape, register=False)


@pytest.mark.parametrize("stage", [*STAGES, _SkidChain, _WireChain])
@pytest.mark.parametrize("idle,stall", [(0.0, 0.0), (0.3, 0.4), (0.0, 0.7), (0.7, 0.0)])
def test_stage_passes_everything_in_order(stage, idle, stall):
    dut = stage(8)
    rng = random.Random(4)
    data = [rng.randrange(256) for _ in range(300)]
    got = []

    async def feed(ctx):
        await send(ctx, dut.i_stream, data, random.Random(5), idle=idle)

    async def drain(ctx):
        got.extend(await receive(ctx, dut.o_stream, len(data), random.Random(6), stall=stall))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(feed)
    sim.add_testbench(drain)
    sim.run()
    assert got == data


@pytest.mark.parametrize("stage", STAGES)
def test_stage_has_full_throughput(stage):
    """With a producer and a consumer always ready, n payloads take n + 1 cycles."""
    dut = stage(8)
    n = 50
    cycles = []

    async def bench(ctx):
        ctx.set(dut.o_stream.ready, 1)
        ctx.set(dut.i_stream.valid, 1)
        got, sent = [], 0
        for cycle in range(2 * n):
            ctx.set(dut.i_stream.payload, sent % 256)
            _, _, i_ready, o_valid, o_payload = await ctx.tick().sample(
                dut.i_stream.ready, dut.o_stream.valid, dut.o_stream.payload)
            if o_valid:
                got.append(o_payload)
            if i_ready:
                sent += 1
            if sent == n:
                ctx.set(dut.i_stream.valid, 0)
            if len(got) == n:
                cycles.append(cycle + 1)
                break
        assert got == list(range(n))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert cycles == [n + 1]


@pytest.mark.parametrize("stage,ready_registered", [(StreamRegister, False), (SkidBuffer, True)])
def test_which_handshake_signals_are_registers(stage, ready_registered):
    """Within one cycle, ``o_stream.valid`` never follows ``i_stream.valid``; the skid buffer's
    ``i_stream.ready`` never follows ``o_stream.ready`` either (the plain register's does)."""
    dut = stage(8)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.i_stream.payload, 7)
        ctx.set(dut.i_stream.valid, 1)
        await ctx.tick()  # the output now holds 7; the consumer stalls
        ctx.set(dut.i_stream.payload, 8)
        await ctx.tick()  # the skid buffer parks 8, the register keeps offering it
        ctx.set(dut.i_stream.valid, 0)
        valid_before = ctx.get(dut.o_stream.valid)
        ready_before = ctx.get(dut.i_stream.ready)
        ctx.set(dut.o_stream.ready, 1)  # no clock edge in between
        seen["valid"] = (valid_before, ctx.get(dut.o_stream.valid))
        seen["ready"] = (ready_before, ctx.get(dut.i_stream.ready))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["valid"] == (1, 1)
    assert (seen["ready"][0] == seen["ready"][1]) == ready_registered



def test_add_skid_buffer_needs_an_end_to_take_the_shape_from():
    m = Module()
    with pytest.raises(ValueError, match="'lonely'"):
        add_skid_buffer(m, "lonely")
    assert not Fragment.get(m, None).subfragments  # nothing was added


def test_add_skid_buffer_without_a_register_is_a_wire():
    m = Module()
    source = stream.Signature(8).create()
    assert isinstance(add_skid_buffer(m, "plain", source=source, register=False), StreamWire)
    assert isinstance(add_skid_buffer(m, "kept", source=source), SkidBuffer)
    Fragment.get(m, None)  # elaborated: the components are used
