"""Quantized BP-free MNIST: the float BP-free model on the accelerator's arithmetic.

Usage: python benchmarks/mnist_quantized.py [--checkpoint runs/mnist-bpfree/checkpoint.npz]
                                            [--epochs 0.5]

1. Post-training quantization: the float BP-free parameters evaluated through the golden model
   (the exact fixed-point forward of the accelerator).
2. Quantization-aware BP-free fine-tuning: RGE (central, device Rademacher directions, one LSB
   perturbations) on the golden model's loss, exactly as the device would serve the queries,
   with Adam on a float master copy.

Writes benchmarks/results/mnist_quantized.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ttzo.data import load_mnist
from ttzo.golden.model import GoldenModel
from ttzo.optim import Adam, make_schedule
from ttzo.spec.model import ModelSpec
from ttzo.tasks import QuantizedMNISTTask
from ttzo.train.checkpoint import load_checkpoint
from ttzo.train.config import load_model_file
from ttzo.train.loop import Phase, Trainer
from ttzo.zo import RGE

from common import ROOT, write_result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "runs/mnist-bpfree/checkpoint.npz"))
    parser.add_argument("--float-result",
                        default=str(ROOT / "benchmarks/results/mnist_bpfree.json"))
    parser.add_argument("--epochs", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    spec = ModelSpec.from_dict(load_model_file("mnist-paper"))
    golden = GoldenModel(spec)
    arrays, _ = load_checkpoint(args.checkpoint)
    theta = arrays["theta"]
    data = load_mnist()
    task = QuantizedMNISTTask(golden, data, init=theta)
    float_acc = json.loads(Path(args.float_result).read_text())["test_accuracy"]
    ptq = task.evaluate(theta)

    lsb = spec.numerics.weight.lsb
    phase = Phase("qat-RGE", RGE(mu=lsb, n_directions=8, directions="device-rademacher",
                                 scheme="central"),
                  Adam(golden.dim), make_schedule(args.lr), args.batch)
    trainer = Trainer(task, [phase], args.epochs, seed=args.seed, evals_per_epoch=2)
    start = time.perf_counter()
    last = trainer.run()
    wall = time.perf_counter() - start
    nm = spec.numerics
    result = {
        "benchmark": "mnist_quantized",
        "command": "python " + " ".join(["benchmarks/mnist_quantized.py", *sys.argv[1:]]),
        "test_accuracy": last["test_accuracy"],
        "ptq_test_accuracy": ptq["test_accuracy"],
        "float_test_accuracy": float_acc,
        "weight_bits": nm.weight.width,
        "activation_bits": nm.activation.width,
        "state_bits": nm.state.width,
        "numerics": nm.to_dict(),
        "qat_epochs": args.epochs,
        "qat_forward_queries": trainer.state.queries,
        "qat_wall_time_s": round(wall, 1),
        "forward_only": True,
        "checkpoint": str(Path(args.checkpoint).relative_to(ROOT))
        if Path(args.checkpoint).is_relative_to(ROOT) else args.checkpoint,
    }
    path = write_result("mnist_quantized", result)
    print(f"float {100 * float_acc:.2f} %, quantized (PTQ) {100 * ptq['test_accuracy']:.2f} %, "
          f"after quantization-aware BP-free fine-tuning {100 * last['test_accuracy']:.2f} %; "
          f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
