# amaranth: UnusedElaboratable=no
"""The reply path against the emulator's bytes: the reply header as ``pack_fields`` packs it,
EVAL's window of output beats as ``to_words`` writes it; random idles and back-pressure."""

from __future__ import annotations

import random

import numpy as np
import pytest
from streams import receive, send, simulate

from ttzo.hw.reply import ReplyHeader, ResultWindow
from ttzo.spec.protocol import REPLY_FIELDS, REPLY_HEADER_BYTES, pack_fields, to_words


@pytest.mark.parametrize("has_payload", [False, True])
def test_header_bytes_are_the_packed_fields(has_payload):
    rng = random.Random(int(has_payload))
    dut = ReplyHeader()
    headers = [{name: rng.getrandbits(width) if name != "reserved" else 0
                for name, width in REPLY_FIELDS} for _ in range(3)]
    got = []

    async def bench(ctx):
        for fields in headers:
            ctx.set(dut.fields, fields)
            ctx.set(dut.has_payload, has_payload)
            ctx.set(dut.restart, 1)
            await ctx.tick()
            ctx.set(dut.restart, 0)
            beats = await receive(ctx, dut.o_stream, REPLY_HEADER_BYTES, rng)
            got.append(beats)

    simulate(dut, bench)
    for fields, beats in zip(headers, got):
        assert bytes(b.data for b in beats) == pack_fields(REPLY_FIELDS, fields)
        assert [b.last for b in beats] == [0] * (REPLY_HEADER_BYTES - 1) + [int(not has_payload)]


@pytest.mark.parametrize("lanes,out_bytes", [(3, 1), (2, 2), (1, 1)])
def test_window_bytes_are_the_emulators_and_every_beat_is_taken(lanes, out_bytes):
    rng = random.Random(lanes * 10 + out_bytes)
    width = 8 * out_bytes - 2
    max_beats = 12
    dut = ResultWindow(lanes, width, out_bytes, max_beats)
    evals = []
    for _ in range(6):
        beats = rng.randrange(1, max_beats + 1)
        first = rng.randrange(beats)
        window = rng.randrange(1, beats - first + 1)
        outputs = np.array([[rng.randrange(-(1 << (width - 1)), 1 << (width - 1))
                             for _ in range(lanes)] for _ in range(beats)])
        evals.append((first, window, outputs))
    got = []

    async def feed(ctx):
        # beats go in while the window's bytes leave (the window holds one beat at a time)
        for index, (first, window, outputs) in enumerate(evals):
            if index:
                await ctx.tick().until(dut.done)
            ctx.set(dut.first, first)
            ctx.set(dut.window, window)
            ctx.set(dut.last_beat, len(outputs) - 1)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            assert not ctx.get(dut.done)
            await send(ctx, dut.i_stream, [[int(v) for v in beat] for beat in outputs], rng)

    async def collect(ctx):
        for _ in evals:
            got.append(await receive(ctx, dut.o_stream, None, rng,
                                     until=lambda b: bool(b) and b[-1].last))

    simulate(dut, feed, collect)
    for (first, window, outputs), body in zip(evals, got):
        assert bytes(b.data for b in body) == to_words(outputs[first:first + window], out_bytes)
        assert [b.last for b in body].count(1) == 1


def test_an_output_wider_than_its_bytes_is_refused_naming_it():
    with pytest.raises(ValueError, match="out_bytes 1 cannot hold a 12-bit output"):
        ResultWindow(4, 12, 1, 8)
