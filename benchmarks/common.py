"""Shared helpers for benchmarks: result files and timing."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttzo.provenance import machine, source_revision, utc_now
from ttzo.records import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: The sources a benchmark ran, taken when it starts (a long run may outlive several commits).
REVISION = source_revision()


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (atomically) with date, machine and source
    commit (at the benchmark's start) added."""
    data = {**data, "date": data.get("date", utc_now()), "machine": data.get("machine", machine()),
            "commit": data.get("commit", REVISION)}
    path = RESULTS / f"{name}.json"
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    return path


def median_time(fn: Callable[[], Any], repeats: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
