# amaranth: UnusedElaboratable=no
"""The gateware's command verdicts against the command table's (``Command.verdict``), which the
emulator applies: random and corner headers, every opcode, devices with and without an update
unit."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from ttzo.hw.commands import CommandValidator, times
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.protocol import COMMANDS, HEADER_FIELDS, Opcode, Status, verdict

SPEC = ModelSpec((LayerSpec((4, 4), (2, 4), 2, "relu"), LayerSpec((8,), (3,), None, "none")))


def reference(header: dict, n_data: int, updates: int, sizes: dict) -> tuple[Status, int]:
    """Verdict and reply length as the emulator gives them."""
    status = verdict(header, n_data, sizes, updates)
    if status != Status.OK:
        return status, 0
    return status, COMMANDS[Opcode(header["opcode"])].reply_bytes(header, sizes)


def random_case(rng: random.Random, sizes: dict) -> tuple[dict, int, int]:
    """A header near the table's limits (or anywhere), with a data length that often fits."""
    op = rng.choice([*range(0, 8), 255])
    near = {"count": [0, 1, 2, sizes["input_groups"], sizes["max_directions"],
                      sizes["max_directions"] + 1, sizes["params"], 0xFFFF],
            "addr": [0, 1, sizes["params"] - 1, sizes["params"], sizes["input_beats"] - 1,
                     sizes["input_beats"], 0xFFFFFFFF],
            "first": [0, 1, sizes["out_features"] - 1, 2 * sizes["out_features"], 0xFFFF],
            "window": [0, 1, sizes["out_features"], 2 * sizes["out_features"], 0xFFFF],
            "shift": [0, 61, 62, 255], "mu": [0, 1, 255], "flags": [0, 1, 2, 3, 5, 8, 255],
            "updates": [0, 1, 7, 0xFFFFFFFF]}
    header = {}
    for name, width in HEADER_FIELDS:
        if name == "opcode":
            header[name] = op
        elif name in near and rng.random() < 0.8:
            header[name] = rng.choice(near[name])
        else:
            header[name] = rng.randrange(1 << width) if rng.random() < 0.5 else rng.randrange(3)
    try:
        cmd = COMMANDS[Opcode(op)]
        n_data = min(cmd.data_bytes(header, sizes), 0xFFFF)
    except ValueError:
        n_data = 0
    if rng.random() < 0.15:
        n_data = rng.choice([n_data + 1, max(n_data - 1, 0), rng.randrange(1 << 16)])
    header["length"] = n_data if rng.random() < 0.9 else rng.randrange(1 << 16)
    updates = header["updates"] if rng.random() < 0.7 else rng.randrange(3)
    return header, n_data, updates


@pytest.mark.parametrize("max_directions", [4, 0])
def test_gateware_verdicts_equal_the_command_table(max_directions):
    config = DeviceConfig(SPEC, lanes=2, input_groups=3, max_directions=max_directions,
                          max_data=64)
    sizes = config.sizes()
    dut = CommandValidator(sizes)
    rng = random.Random(max_directions)
    cases = [random_case(rng, sizes) for _ in range(3000)]
    seen = set()

    async def bench(ctx):
        for header, n_data, updates in cases:
            ctx.set(dut.header, dut.header.shape().const(header))
            ctx.set(dut.data_len, n_data)
            ctx.set(dut.updates, updates)
            await ctx.tick().repeat(CommandValidator.LATENCY)
            want = reference(header, n_data, updates, sizes)
            got = (Status(ctx.get(dut.status)), ctx.get(dut.reply_length))
            assert got == want, (header, n_data, updates)
            seen.add((header["opcode"], want[0]))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # every verdict of every opcode the device has was exercised
    for op in Opcode:
        statuses = {s for o, s in seen if o == op}
        if op == Opcode.UPDATE and not max_directions:
            assert statuses == {Status.BAD_OPCODE}
            continue
        assert {Status.OK, Status.BAD_LENGTH, Status.BAD_ARGUMENT} <= statuses, op
    if max_directions:
        assert (Opcode.UPDATE, Status.STALE_UPDATE) in seen


@pytest.mark.parametrize("factor", [0, 1, 2, 6, 10, 16, 784])
def test_constant_products_are_exact(factor):
    """The shift-and-add products equal the integer product."""
    from amaranth.hdl import Module, Signal

    m = Module()
    value, product = Signal(10), Signal(24)
    m.d.comb += product.eq(times(value, factor))

    async def bench(ctx):
        for v in (0, 1, 3, 511, 1023):
            ctx.set(value, v)
            assert ctx.get(product) == v * factor

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
