"""Bitstream builds: the paper's MNIST accelerator on the ULX3S-85F, a lanes x rank table, and
the iCEBreaker build.

    python benchmarks/builds.py mnist            # ULX3S, 16 lanes, rank 6 (the paper's model)
    python benchmarks/builds.py space            # ULX3S design-space table (lanes x rank)
    python benchmarks/builds.py space --points 8x4 16x4 24x4 8x6 24x6 --jobs 2
    python benchmarks/builds.py icebreaker       # the iCEBreaker's default build
    python benchmarks/builds.py mnist --seed 1 2 3 --jobs 2   # best of three placements
    python benchmarks/builds.py mnist --seed 1 2 --endpoints  # and list the failing endpoints
    python benchmarks/builds.py mnist --placer static  # the fast build (lower Fmax)

``mnist`` writes ``benchmarks/results/build_ulx3s_mnist.json`` (``build_ulx3s_mnist_static.json``
with the static placer), ``space`` ``build_ulx3s_design_space.json``, ``icebreaker``
``build_icebreaker.json``. Every point is a full ``ttzo build`` (synthesis, place and route,
packing) with the board's defaults except lanes and rank; forward queries per second come from
the cycle model at min(achieved Fmax, requested clock), batch = lanes x input groups.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ttzo.bitstream.flow import PLACERS, BuildError, build
from ttzo.spec.boards import get_board
from ttzo.spec.model import ModelSpec
from ttzo.train.config import load_model_file

from common import RESULTS, write_result

BOARD = "ulx3s-85f"


def paper_model(rank: int) -> ModelSpec:
    data = copy.deepcopy(load_model_file("mnist-paper"))
    for layer in data["layers"]:
        layer["rank"] = rank
    if rank != 6:
        data["name"] = f"mnist-rank{rank}"
    return ModelSpec.from_dict(data)


def build_point(lanes: int, rank: int | None, out_root: str, seed: int | list[int],
                board_name: str = BOARD, jobs: int = 1, endpoints: bool = False,
                placer: str = PLACERS[0]) -> dict:
    board = get_board(board_name)
    c = board.constraints
    spec = (paper_model(rank) if rank is not None
            else ModelSpec.from_dict(load_model_file(c["model"])))
    config = board.device_config(spec, lanes=lanes)
    out = Path(out_root) / f"l{lanes}-r{rank}"
    try:
        result = build(board, config, out, c["clock_mhz"], c["baud"], seed=seed, jobs=jobs,
                       endpoints=endpoints, placer=placer,
                       log=lambda msg: print(f"[l{lanes} r{rank}] {msg}", flush=True))
    except BuildError as err:
        return {"lanes": lanes, "rank": rank, "error": str(err)}
    r = result.report.to_dict()
    keys = ("fmax_mhz", "timing_met", "luts_used", "luts_available", "ffs_used", "ffs_available",
            "dsp_used", "dsp_available", "bram_used", "bram_available", "bram_output_registers",
            "dsp_input_registers", "dsp_output_registers", "bram_register_copies",
            "fanout_register_copies", "fanout_lut_copies", "forward_queries_per_s",
            "samples_per_s", "query_batch", "build_time_s", "bitstream_bytes", "params",
            "clock_requested_mhz", "cycles_per_group", "estimate", "steps", "tools", "seed",
            "seed_sweep", "input_groups", "placer")
    checked = ("failing_endpoints", "worst_slack_ns", "failing_sources")  # with endpoints only
    return {"lanes": lanes, "rank": rank, "model": spec.name, **{k: r[k] for k in keys},
            **{k: r[k] for k in checked if k in r}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["mnist", "space", "icebreaker"])
    parser.add_argument("--points", nargs="+", default=["8x4", "16x4", "24x4", "8x6", "24x6"],
                        help="LANESxRANK design points (16x6 is the mnist build)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="builds in parallel (space), or seeds in parallel (mnist)")
    parser.add_argument("--seed", type=int, nargs="+", default=[1],
                        help="place-and-route seeds; each point keeps its best")
    parser.add_argument("--out", help="build folders (default: a temporary folder)")
    parser.add_argument("--placer", choices=PLACERS, default=PLACERS[0],
                        help="mnist: nextpnr placer (static: the fast build, lower Fmax)")
    parser.add_argument("--endpoints", action="store_true",
                        help="mnist: also check every endpoint against the clock (ttzo build "
                             "--endpoints) and record the failing ones by source line")
    args = parser.parse_args()
    out_root = args.out or tempfile.mkdtemp(prefix="ttzo-builds-")
    command = "python benchmarks/builds.py " + " ".join(sys.argv[1:])
    if args.what == "icebreaker":
        board = get_board("icebreaker")
        point = build_point(board["lanes"], None, out_root, args.seed, "icebreaker")
        record = {"board": "icebreaker", "model": board["model"], "command": command, **point}
        if "error" in point:
            # a failed build is a result too; the last build that fitted stays beside it
            last = RESULTS / "build_icebreaker.json"
            previous = json.loads(last.read_text()) if last.is_file() else {}
            record["last_fit"] = previous.get("last_fit", previous if "error" not in previous
                                              else None)
            path = write_result("build_icebreaker", record)
            print(f"wrote {path}: {point['error']}", file=sys.stderr)
            return 1
        path = write_result("build_icebreaker", record)
        print(f"wrote {path}: Fmax {point['fmax_mhz']} MHz, {point['build_time_s']} s")
        return 0
    if args.what == "mnist":
        point = build_point(16, 6, out_root, args.seed, jobs=args.jobs, endpoints=args.endpoints,
                            placer=args.placer)
        if "error" in point:
            print(point["error"], file=sys.stderr)
            return 1
        name = "build_ulx3s_mnist" + ("" if args.placer == PLACERS[0] else f"_{args.placer}")
        path = write_result(name, {"board": BOARD, "model": "mnist-paper",
                                                  "command": command, **point})
        print(f"wrote {path}: Fmax {point['fmax_mhz']} MHz, {point['build_time_s']} s")
        return 0
    grid = [tuple(int(v) for v in point.split("x")) for point in args.points]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        points = list(pool.map(build_point, [g[0] for g in grid], [g[1] for g in grid],
                               [out_root] * len(grid), [args.seed] * len(grid)))
    path = write_result("build_ulx3s_design_space", {"board": BOARD, "command": command,
                                                     "jobs": args.jobs, "points": points})
    print(f"wrote {path}")
    return 0 if all("error" not in p for p in points) else 1


if __name__ == "__main__":
    raise SystemExit(main())
