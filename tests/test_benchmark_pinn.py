"""The PINN benchmark's chained runs: one training curve over all phases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BENCHMARK = "pinn"


@pytest.fixture
def pinn_benchmark(benchmark_module):
    return benchmark_module


def _run(folder: Path, steps: list[int], queries_per_step: int, init: dict | None) -> str:
    folder.mkdir()
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"step": s, "queries": s * queries_per_step, "phase": folder.name,
                    "train_loss": 1.0 / s, "val_loss": 0.5 / s, "test_rel_l2": 0.1 / s}) + "\n"
        for s in steps))
    (folder / "result.json").write_text(json.dumps({"init_from": init}))
    return str(folder)


def test_chain_records_continue_steps_and_queries_across_phases(pinn_benchmark, tmp_path):
    chain = ["bpfree-sparse-grid", "bpfree-sparse-grid-finetune", "bpfree-sparse-grid-polish"]
    for later, earlier in zip(chain[1:], chain):  # the chain the benchmark declares
        assert pinn_benchmark.STARTS_FROM[("hjb20", later)] == earlier
    entries = {
        ("hjb20", chain[0]): {"run_dir": _run(tmp_path / "a", [10, 20], 20, None)},
        ("hjb20", chain[1]): {"run_dir": _run(tmp_path / "b", [5, 10], 40,
                                              {"steps": 20, "queries": 400})},
        ("hjb20", chain[2]): {"run_dir": _run(tmp_path / "c", [10], 20,
                                              {"steps": 30, "queries": 800})},
    }
    records = pinn_benchmark.chain_records("hjb20", chain[2], entries)
    assert [(r["phase"], r["step"], r["queries"]) for r in records] == [
        ("a", 10, 200), ("a", 20, 400), ("b", 25, 600), ("b", 30, 800), ("c", 40, 1000)]
    # a run that started from nothing is its own chain
    assert [r["step"] for r in pinn_benchmark.chain_records("hjb20", chain[0], entries)] == [10, 20]
