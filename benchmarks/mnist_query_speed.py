"""Forward queries per second on the paper's MNIST model: straightforward vs incremental.

A coordinate query is one evaluation of the training loss with one parameter changed. The
straightforward path runs a full forward per query; the incremental path
(:class:`ttzo.model.coordinate.CoordinateQueries`) reuses the unperturbed forward. Both are timed
in the same run on the same batch, and their losses are compared.

Usage: python benchmarks/mnist_query_speed.py [--batch 128] [--naive-queries 200]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ttzo.data import load_mnist
from ttzo.model import TTMLP, get_loss
from ttzo.spec.model import ModelSpec
from ttzo.tasks import prepare_images
from ttzo.train.config import load_model_file
from ttzo.zo import RGE, ModelObjective

from common import median_time, write_result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--naive-queries", type=int, default=200,
                        help="coordinate queries timed on the straightforward path")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    spec = ModelSpec.from_dict(load_model_file("mnist-paper"))
    model = TTMLP(spec)
    data = load_mnist()
    rng = np.random.default_rng(0)
    theta = model.init_params(rng)
    pick = rng.choice(data.train_images.shape[0], args.batch, replace=False)
    x = prepare_images(data.train_images[pick])
    y = data.train_labels[pick].astype(np.int64)
    loss = get_loss("cross_entropy")
    mu = 1e-3
    all_coords = np.arange(model.dim)
    sample = np.sort(rng.choice(model.dim, args.naive_queries, replace=False))

    def naive():
        return ModelObjective(model, x, y, loss, incremental=False).coordinate_losses(
            theta, sample, mu)

    def incremental_all():
        return ModelObjective(model, x, y, loss).coordinate_losses(theta, all_coords, mu)

    def full_forward():
        return model.forward(theta, x)

    t_naive = median_time(naive, max(1, args.repeats // 2))
    t_inc = median_time(incremental_all, args.repeats)
    t_fwd = median_time(full_forward, 20)
    rge = RGE(mu=0.1, n_directions=10, scheme="forward", sign=True)
    t_rge = median_time(lambda: rge.estimate(ModelObjective(model, x, y, loss), theta, 1),
                        args.repeats)

    inc_losses = incremental_all()
    max_diff = float(np.max(np.abs(inc_losses[sample] - naive())))
    naive_qps = args.naive_queries / t_naive
    inc_qps = model.dim / t_inc
    result = {
        "benchmark": "mnist_query_speed",
        "command": "python " + " ".join(["benchmarks/mnist_query_speed.py", *sys.argv[1:]]),
        "model": spec.name,
        "params": model.dim,
        "batch": args.batch,
        "mu": mu,
        "full_forward_s": t_fwd,
        "naive_queries_per_s": naive_qps,
        "incremental_queries_per_s": inc_qps,
        "speedup": inc_qps / naive_qps,
        "cge_step_all_coordinates_s": t_inc,
        "signrge_step_s": t_rge,
        "signrge_queries_per_s": rge.queries_per_step(model.dim) / t_rge,
        "max_abs_loss_difference": max_diff,
    }
    path = write_result("mnist_query_speed", result)
    print(f"straightforward: {naive_qps:,.0f} queries/s; incremental: {inc_qps:,.0f} queries/s "
          f"({inc_qps / naive_qps:.1f}x); max |loss difference| {max_diff:.2e}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
