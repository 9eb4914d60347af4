"""Workloads for checking a device end to end: fuzzed frames and a session of every command.

Used by the tests, the cocotb testbench of the accelerator and ``benchmarks/link_faults.py``,
so the emulator and the gateware are checked with the same frames and the same session.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np

from ttzo.golden.model import GoldenModel
from ttzo.golden.perturb import apply_update
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.perturb import Perturbation
from ttzo.spec.protocol import HEADER_FIELDS, Opcode, encode_frame, pack_fields

from .device import Device

__all__ = ["fuzz_frames", "session", "expected_session", "compare_sessions"]


def fuzz_frames(config: DeviceConfig, rng: random.Random, n: int) -> Iterator[bytes]:
    """``n`` frames a fuzzer sends: frames with a good CRC around random headers near the
    command table's limits (every opcode, unknown ones too, lengths right and wrong, bodies cut
    short) and raw line garbage (which may leave a frame open for the next one to close)."""
    sizes = config.sizes()
    counts = [0, 1, 2, 3, sizes["input_groups"], sizes["input_groups"] + 1,
              sizes["max_directions"], sizes["max_directions"] + 1, 0xFFFF]
    addrs = [0, 1, sizes["params"] - 1, sizes["params"], sizes["input_beats"] - 1,
             sizes["input_beats"], 0xFFFFFFFF]
    per_item = [2, 6, sizes["input_beat_bytes"]]
    for _ in range(n):
        kind = rng.random()
        if kind < 0.1:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
            continue
        fields = {name: rng.choice([0, 1, 2, rng.randrange(1 << width), (1 << width) - 1])
                  for name, width in HEADER_FIELDS}
        fields["opcode"] = rng.choice([*Opcode, *Opcode, 0, 7, 255])
        fields["count"] = rng.choice(counts)
        fields["addr"] = rng.choice(addrs) if rng.random() < 0.8 else fields["addr"]
        fields["first"] = rng.choice([0, 1, sizes["out_features"], fields["first"]])
        fields["window"] = rng.choice([0, 1, sizes["out_features"], fields["window"]])
        fields["flags"] &= rng.choice([0x03, 0x07, 0x08, 0xFF])
        fields["shift"] = rng.choice([0, 5, 61, 62, fields["shift"]])
        n_data = min(fields["count"] * rng.choice(per_item), config.max_data + 8)
        if rng.random() < 0.2:
            n_data = max(0, n_data + rng.choice([-1, 1, 7]))
        fields["length"] = n_data if rng.random() < 0.85 else rng.randrange(1 << 16)
        body = pack_fields(HEADER_FIELDS, fields) + bytes(
            rng.randrange(256) for _ in range(n_data))
        if kind < 0.2:
            body = body[:rng.randrange(len(body))]
        yield encode_frame(body)


def _plan(config: DeviceConfig, seed: int, n_updates: int) -> dict:
    """The session's inputs: parameters, samples, queries and updates (corners included)."""
    spec = config.spec
    rng = np.random.default_rng(seed)
    widths = GoldenModel(spec).param_widths()
    theta = rng.integers(-(1 << (widths - 1)), 1 << (widths - 1))
    theta[:2] = [-(1 << (int(widths[0]) - 1)), (1 << (int(widths[0]) - 1)) - 1]
    n = min(config.lanes * config.input_groups, max(3, config.lanes + 1))
    lim = 1 << (spec.numerics.input.width - 1)
    x = rng.integers(-lim, lim, (n, spec.in_features))
    x[0, :2] = [-lim, lim - 1]
    queries = [Perturbation(), Perturbation("coordinate", 3, False, 0, spec.params - 1),
               Perturbation("coordinate", 1, True, 0, 0),
               Perturbation("rademacher", 2, True, int(rng.integers(1 << 32))),
               Perturbation("gauss", 5, False, int(rng.integers(1 << 32)))]
    k = max(1, min(3, config.max_directions))
    updates = [("rademacher" if i % 2 == 0 else "gauss",
                [int(s) for s in rng.integers(1 << 32, size=k - i % 2)],
                [int(c) for c in rng.integers(-3000, 3000, size=k - i % 2)], 4 - 3 * (i % 2))
               for i in range(n_updates)]
    return {"theta": theta, "x": x, "queries": queries, "updates": updates, "widths": widths}


def session(device: Device, config: DeviceConfig, seed: int, n_updates: int = 2) -> dict:
    """Use every command once or more through ``device`` (``n_updates`` UPDATEs, each read
    back); returns what came back."""
    plan = _plan(config, seed, n_updates)
    out = {}
    device.write_params(plan["theta"])
    out["read"] = device.read_params()
    groups = device.load_inputs(plan["x"])
    out["evals"] = [device.evaluate(p, groups) for p in plan["queries"]]
    before = device.updates
    out["after_each"] = []
    for kind, seeds, coefs, shift in plan["updates"]:
        device.update(kind, seeds, coefs, shift)
        out["after_each"].append(device.read_params())
    out["updates_applied"] = (device.updates - before) & 0xFFFFFFFF
    out["after"] = device.read_params()
    out["eval_after"] = device.evaluate(Perturbation(), groups)
    return out


def expected_session(config: DeviceConfig, seed: int, n_updates: int = 2) -> dict:
    """What :func:`session` returns from a device that computes as the golden model does."""
    plan = _plan(config, seed, n_updates)
    golden = GoldenModel(config.spec)
    groups = -(-plan["x"].shape[0] // config.lanes)
    padded = np.zeros((groups * config.lanes, config.spec.in_features), dtype=np.int64)
    padded[:plan["x"].shape[0]] = plan["x"]
    theta = plan["theta"]
    out = {"read": theta,
           "evals": [golden.forward_perturbed(theta, padded, p) for p in plan["queries"]],
           "updates_applied": len(plan["updates"]), "after_each": []}
    for kind, seeds, coefs, shift in plan["updates"]:
        theta = apply_update(theta, kind, seeds, coefs, shift, plan["widths"])
        out["after_each"].append(theta)
    out["after"] = theta
    out["eval_after"] = golden.forward_perturbed(theta, padded, Perturbation())
    return out


def compare_sessions(got: dict, want: dict) -> dict[str, int]:
    """Mismatching EVAL results and parameter reads (one read after each UPDATE), and UPDATEs
    lost or doubled by the device's update counter."""
    results = [*got["evals"], got["eval_after"], got["read"], got["after"], *got["after_each"]]
    ref = [*want["evals"], want["eval_after"], want["read"], want["after"], *want["after_each"]]
    applied, planned = got["updates_applied"], want["updates_applied"]
    return {
        "mismatches": sum(not np.array_equal(a, b) for a, b in zip(results, ref, strict=True)),
        "lost_updates": max(0, planned - applied),
        "doubled_updates": max(0, applied - planned),
    }
