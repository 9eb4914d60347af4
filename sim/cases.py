"""Test cases for the engine testbench: everything the simulator run needs, in one JSON file.

A case holds the layer, numerics and lane count (to rebuild the engine), and for each group the
integer parameters, lane-parallel inputs, the perturbation, and the golden model's outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ttzo.golden.model import GoldenModel
from ttzo.hw.engine import TTLayerEngine
from ttzo.hw.verilog import to_systemverilog
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.numerics import NumericsSpec
from ttzo.spec.perturb import MODES, Perturbation

INDEX_WIDTH = 16


def random_layer(rng: np.random.Generator, d: int) -> LayerSpec:
    """A TT layer with ``d`` cores of random (often non-power-of-two) modes and rank."""
    out_modes = tuple(int(v) for v in rng.integers(1, 6, d))
    in_modes = tuple(int(v) for v in rng.integers(1, 6, d))
    return LayerSpec(in_modes, out_modes, int(rng.integers(1, 5)),
                     str(rng.choice(["relu", "none", "relu", "sine"])),
                     bool(rng.integers(0, 4) > 0))


def make_case(layer: LayerSpec, numerics: NumericsSpec, lanes: int, rng: np.random.Generator,
              groups: int = 3, scale: float = 1.0, idle: float = 0.3, stall: float = 0.3) -> dict:
    spec = ModelSpec((layer,), numerics=numerics)
    golden = GoldenModel(spec)
    out = {"layer": spec.to_dict()["layers"][0], "numerics": numerics.to_dict(), "lanes": lanes,
           "idle": idle, "stall": stall, "groups": []}
    for g in range(groups):
        gscale = scale * (4.0 if g == groups - 1 else 1.0)  # last group: saturation corners
        theta = golden.float_model.init_params(rng) * 2 * gscale
        theta += 0.3 * gscale * rng.standard_normal(golden.dim)
        theta_int = golden.quantize_params(theta)
        x_int = golden.quantize_inputs(rng.standard_normal((lanes, spec.in_features)) * 2 * gscale)
        pert = Perturbation(MODES[g % len(MODES)] if g < len(MODES) else
                            str(rng.choice(MODES)),
                            mu=int(rng.integers(1, 8)), negate=bool(rng.integers(2)),
                            seed=int(rng.integers(2**32)), index=int(rng.integers(golden.dim)))
        expected = golden.forward_perturbed(theta_int, x_int, pert)
        out["groups"].append({
            "theta": theta_int.tolist(), "x": x_int.tolist(), "expected": expected.tolist(),
            "perturb": {"mode": MODES.index(pert.mode), "negate": int(pert.negate),
                        "mu": pert.mu, "seed": pert.seed, "index": pert.index},
        })
    return out


def engine_for(case: dict) -> TTLayerEngine:
    spec = ModelSpec.from_dict({"layers": [case["layer"]], "numerics": case["numerics"]})
    return TTLayerEngine(spec.layers[0], spec.numerics, 0, lanes=case["lanes"],
                         index_width=INDEX_WIDTH)


def write_case(case: dict, folder: Path) -> tuple[Path, Path]:
    """Write ``case.json`` and the engine's SystemVerilog (``engine.sv``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    case_path = folder / "case.json"
    case_path.write_text(json.dumps(case))
    engine = engine_for(case)
    case["cycles_model"] = engine.cycles_per_group()
    case_path.write_text(json.dumps(case))
    verilog_path = folder / "engine.sv"
    verilog_path.write_text(to_systemverilog(engine, "engine"))
    return case_path, verilog_path
