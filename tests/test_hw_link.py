# amaranth: UnusedElaboratable=no
"""SLIP/CRC frame gateware against the host protocol module and ``zlib.crc32``."""

from __future__ import annotations

import random
import zlib

import pytest
from amaranth.sim import Simulator
from streams import receive, send

from ttzo.hw.bram import READ_LATENCY
from ttzo.hw.link import FrameReceiver, FrameSender
from ttzo.spec.protocol import (
    CRC_RESIDUE,
    END,
    ESC,
    SlipDecoder,
    Status,
    crc32,
    crc32_register,
    encode_frame,
)


def test_crc32_is_iso_hdlc_and_intact_frames_end_at_the_residue():
    assert crc32(b"123456789") == 0xCBF43926  # the catalogue check value
    rng = random.Random(1)
    for n in (1, 9, 100):
        body = bytes(rng.randrange(256) for _ in range(n))
        tail = crc32(body).to_bytes(4, "little")
        assert crc32_register(body + tail) == CRC_RESIDUE
        # the final XOR: bytes appended after the CRC (the CRC-16's weakness) break the check
        for extra in (b"\x00", b"\x00\x00", b"\xff"):
            assert crc32_register(body + tail + extra) != CRC_RESIDUE
        # a dropped or doubled CRC byte too
        assert crc32_register(body + tail[:-1]) != CRC_RESIDUE
        assert crc32_register(body + tail + tail[-1:]) != CRC_RESIDUE
    assert zlib.crc32(b"abc") == crc32(b"abc")


def run_receiver(dut, frames: list[bytes], seed: int):
    """Feed ``frames`` stop-and-wait (with idles) and collect them with their buffer contents."""
    got = []

    async def feed(ctx):
        for frame in frames:
            await send(ctx, dut.i_stream, list(frame), random.Random(seed), idle=0.5)
            await ctx.tick()
            while ctx.get(dut.frame.valid):
                await ctx.tick()

    async def consume(ctx):
        rng = random.Random(seed + 1)
        for _ in frames:
            while not ctx.get(dut.frame.valid):
                await ctx.tick()
            length = ctx.get(dut.frame.payload.length)
            status = ctx.get(dut.frame.payload.status)
            body = []
            for addr in range(length + READ_LATENCY):  # addresses in, bytes out, pipelined
                ctx.set(dut.rd_addr, min(addr, max(length - 1, 0)))
                ctx.set(dut.rd_en, 1)
                await ctx.tick()
                if addr >= READ_LATENCY - 1 and len(body) < length:
                    body.append(ctx.get(dut.rd_data))
            for _ in range(rng.randrange(3)):
                await ctx.tick()
            ctx.set(dut.frame.ready, 1)
            await ctx.tick()
            ctx.set(dut.frame.ready, 0)
            got.append((Status(status), bytes(body)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(feed)
    sim.add_testbench(consume)
    sim.run_until(sum(map(len, frames)) * 3e-6 + 2e-3)
    return got


def test_receiver_accepts_good_frames_and_reports_bad_ones():
    rng = random.Random(5)
    bodies = [bytes([END, ESC, 1, 2, ESC, END]), bytes(rng.randrange(256) for _ in range(40)),
              b"\xc0" * 7]
    corrupt = bytearray(encode_frame(b"hello world"))
    corrupt[3] ^= 0x10
    too_long = encode_frame(bytes(range(60)))
    appended = encode_frame(b"zero tail")[:-1] + b"\x00\xc0"  # a 0x00 after the CRC
    frames = [encode_frame(bodies[0]), bytes(corrupt), encode_frame(bodies[1]), too_long,
              encode_frame(bodies[2]), appended, bytes([END, 1, 2, 3, END])]
    dut = FrameReceiver(max_bytes=50)
    got = run_receiver(dut, frames, seed=7)
    assert got[0] == (Status.OK, bodies[0])
    assert got[1][0] == Status.BAD_CRC
    assert got[2] == (Status.OK, bodies[1])
    assert got[3][0] == Status.TOO_LONG
    assert got[4] == (Status.OK, bodies[2])
    assert got[5][0] == Status.BAD_CRC
    assert got[6][0] == Status.BAD_CRC  # shorter than a CRC


def test_sender_frames_decode_on_the_host():
    rng = random.Random(11)
    bodies = [bytes([END]), bytes([ESC, END, ESC]),
              bytes(rng.randrange(256) for _ in range(64)), b"\x00\x01"]
    # bodies whose CRC bytes need escaping exercise the CRC escape path
    for n in range(400):
        body = n.to_bytes(2, "little")
        tail = crc32(body).to_bytes(4, "little")
        if END in tail or ESC in tail:
            bodies.append(body)
        if len(bodies) > 8:
            break
    items = []
    for body in bodies:
        items += [{"data": b, "last": int(i == len(body) - 1)} for i, b in enumerate(body)]
    dut = FrameSender()
    line = []

    async def feed(ctx):
        await send(ctx, dut.i_stream, items, random.Random(2), idle=0.3)

    async def drain(ctx):
        line.extend(await receive(ctx, dut.o_stream, None, random.Random(3), stall=0.4,
                                  until=lambda got: got.count(END) >= 2 * len(bodies)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(feed)
    sim.add_testbench(drain, background=False)
    sim.run()
    decoder = SlipDecoder()
    decoder.feed(bytes(line))
    assert decoder.errors == []
    assert decoder.frames == bodies
    assert bytes(line) == b"".join(encode_frame(b) for b in bodies)


@pytest.mark.parametrize("bad", [4, 0])
def test_receiver_size_is_checked(bad):
    with pytest.raises(ValueError, match=f"not {bad}"):
        FrameReceiver(bad)

