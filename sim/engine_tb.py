"""cocotb testbench: the TT-contraction engine against the golden model's expected outputs.

The case comes from the JSON file named by ``TTZO_CASE`` (see cases.py). Results (vectors
checked, mismatches, cycles per group) go to ``TTZO_RESULT``.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from ttzo.hw.engine import lanes_layout, param_layout, perturb_layout
from ttzo.spec.model import ModelSpec


def pack(layout, value) -> int:
    """Integer bits of ``value`` in an Amaranth layout (struct dict or array list)."""
    from amaranth.hdl import Const

    return Const.cast(layout.const(value)).value


def unpack_lanes(bits: int, width: int, lanes: int) -> list[int]:
    out = []
    for lane in range(lanes):
        v = (bits >> (lane * width)) & ((1 << width) - 1)
        out.append(v - (1 << width) if v >> (width - 1) else v)
    return out


class TB:
    """Owns the clock, reset and the three stream interfaces of one engine instance."""

    def __init__(self, dut, case: dict):
        self.dut = dut
        self.case = case
        spec = ModelSpec.from_dict({"layers": [case["layer"]], "numerics": case["numerics"]})
        self.layer = spec.layers[0]
        self.nm = spec.numerics
        self.lanes = case["lanes"]
        self.rng = random.Random(int(os.environ.get("TTZO_TB_SEED", "1")))
        self.in_layout = lanes_layout(self.nm.input.width, self.lanes)
        self.out_width = self.nm.activation.width
        width = max(self.nm.weight.width, self.nm.bias.width)
        self.p_layout = param_layout(max(1, (self.layer.params - 1).bit_length()), width)
        self.pert_layout = perturb_layout(int(os.environ.get("TTZO_INDEX_WIDTH", "16")))
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self):
        d = self.dut
        d.rst.value = 1
        for name in ("i_stream__valid", "o_stream__ready", "p_stream__valid"):
            getattr(d, name).value = 0
        d.perturb.value = 0
        for _ in range(3):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await RisingEdge(d.clk)

    async def _put(self, prefix: str, bits: int):
        """One valid/ready handshake on the stream whose ports start with ``prefix``."""
        d = self.dut
        getattr(d, f"{prefix}__payload").value = bits
        getattr(d, f"{prefix}__valid").value = 1
        await RisingEdge(d.clk)
        while not getattr(d, f"{prefix}__ready").value:
            await RisingEdge(d.clk)

    async def write_params(self, theta):
        for addr, value in enumerate(theta):
            await self._put("p_stream", pack(self.p_layout, {"addr": addr, "data": value}))
        self.dut.p_stream__valid.value = 0

    async def send(self, beats, idle):
        d = self.dut
        for beat in beats:
            while self.rng.random() < idle:
                d.i_stream__valid.value = 0
                await RisingEdge(d.clk)
            await self._put("i_stream", pack(self.in_layout, beat))
        d.i_stream__valid.value = 0

    async def receive(self, count, stall):
        d = self.dut
        got = []
        while len(got) < count:
            ready = self.rng.random() >= stall
            d.o_stream__ready.value = int(ready)
            await ReadOnly()
            fire = ready and bool(d.o_stream__valid.value)
            payload = int(d.o_stream__payload.value) if fire else None
            await RisingEdge(d.clk)
            if fire:
                got.append(unpack_lanes(payload, self.out_width, self.lanes))
        d.o_stream__ready.value = 0
        return got


@cocotb.test()
async def engine_matches_golden(dut):
    with open(os.environ["TTZO_CASE"]) as fh:
        case = json.load(fh)
    tb = TB(dut, case)
    await tb.reset()
    vectors, mismatches, cycles = 0, 0, []
    for gi, group in enumerate(case["groups"]):
        await tb.write_params(group["theta"])
        dut.perturb.value = pack(tb.pert_layout, group["perturb"])
        x = group["x"]  # (lanes, N)
        beats = [[x[lane][n] for lane in range(tb.lanes)] for n in range(len(x[0]))]
        start = cocotb.utils.get_sim_time("ns")
        await tb.send(beats, case["idle"])
        got = await tb.receive(tb.layer.out_features, case["stall"])
        cycles.append(round((cocotb.utils.get_sim_time("ns") - start) / 10))
        expected = group["expected"]  # (lanes, M)
        for i, beat in enumerate(got):
            for lane in range(tb.lanes):
                vectors += 1
                if beat[lane] != expected[lane][i]:
                    mismatches += 1
                    dut._log.error(f"group {gi} lane {lane} output {i}: got {beat[lane]}, "
                                   f"golden {expected[lane][i]}")
    with open(os.environ["TTZO_RESULT"], "w") as fh:
        json.dump({"vectors": vectors, "mismatches": mismatches, "cycles": cycles}, fh)
    assert mismatches == 0, f"{mismatches} of {vectors} outputs differ from the golden model"
