"""Float forward kernels for TT layers, and one HJB loss query, timed in one run.

For every TT layer of the shipped HJB and MNIST models and a range of batch sizes: core-by-core
contraction (``tt_forward``), the train's two multiplied-out halves at the cheapest split
(``tt_forward_split``) and the dense product with the rebuilt weight (medians, one BLAS thread
by default as in training). Then one BP-free HJB loss query (100 collocation points x 925
sparse-grid evaluations, the fine-tuning phase's query) with the PINN network's stencil chunk
at its default and at the previous 32,768 rows.

Usage: OPENBLAS_NUM_THREADS=1 python benchmarks/forward_kernels.py [--batches 128 4096]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ttzo.model import TTMLP
from ttzo.spec.model import ModelSpec
from ttzo.tasks.pde import PDETask, PinnSettings
from ttzo.train.config import load_model_file
from ttzo.tt import TTMatrix, tt_forward, tt_forward_split

from common import median_time, write_result

MODELS = ("hjb20", "mnist-paper")


def time_kernels(cores: list[np.ndarray], x: np.ndarray, split: int | None,
                 repeats: int) -> dict[str, float]:
    """Median seconds of each forward kernel for the batch ``x``."""
    times = {"contract": median_time(lambda: tt_forward(cores, x), repeats),
             "dense": median_time(lambda: x @ TTMatrix(cores).to_dense().T, repeats)}
    if split is not None:
        times["split"] = median_time(lambda: tt_forward_split(cores, x, split), repeats)
    return times


def kernel_rows(batches: list[int], repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for name in MODELS:
        spec = ModelSpec.from_dict(load_model_file(name))
        for index, layer in enumerate(spec.layers):
            shape = layer.tt
            if shape is None:
                continue
            cores = TTMatrix.random(shape, rng).cores
            split = shape.best_split()
            for batch in batches:
                x = rng.standard_normal((batch, shape.cols))
                row = {"model": name, "layer": index, "in_modes": list(shape.in_modes),
                       "out_modes": list(shape.out_modes), "ranks": list(shape.ranks),
                       "batch": batch, "split": split,
                       "macs": {"contract": shape.contraction_macs(),
                                "split": None if split is None else shape.split_macs(split),
                                "dense": shape.dense_macs()}}
                times = time_kernels(cores, x, split, repeats)
                row["seconds"] = times
                row["fastest"] = min(times, key=times.get)
                rows.append(row)
                print(f"{name} layer {index} batch {batch}: " + ", ".join(
                    f"{k} {1e3 * v:.2f} ms" for k, v in times.items()), flush=True)
    return rows


def hjb_query(repeats: int) -> dict:
    """One fine-tuning query: the loss at 100 points, each with the level-3 sparse grid."""
    spec = ModelSpec.from_dict(load_model_file("hjb20"))
    model = TTMLP(spec, dense_products=True)  # as `ttzo train hjb20` builds it
    settings = PinnSettings.from_dict({"problem": "hjb20", "derivatives": "sparse-grid",
                                       "level": 3, "pool": 1000, "test_points": 100})
    task = PDETask(model, settings, seed=0)
    theta = model.init_params(np.random.default_rng(0))
    theta += 0.01 * np.random.default_rng(1).standard_normal(theta.shape)
    objective = task.objective(np.arange(100))
    default_chunk = task.net.chunk
    out = {"points": 100, "evaluations": objective.evaluations_per_query}
    for label, chunk in (("default_chunk", default_chunk), ("chunk_32768", 32768)):
        task.net.chunk = chunk
        out[label] = {"rows": chunk, "seconds": median_time(lambda: objective.loss(theta),
                                                            repeats)}
        print(f"HJB query, chunk {chunk}: {out[label]['seconds']:.3f} s", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 128, 4096])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    result = {
        "command": "OPENBLAS_NUM_THREADS=1 python benchmarks/forward_kernels.py "
                   + " ".join(sys.argv[1:]),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "kernels": kernel_rows(args.batches, args.repeats),
        "hjb_query": hjb_query(max(3, args.repeats // 2)),
    }
    print(f"wrote {write_result('forward_kernels', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
