"""The generated results page (benchmarks/report.py) shows each recorded number in its place."""

from __future__ import annotations

import pytest

BENCHMARK = "report"


@pytest.fixture
def report(benchmark_module):
    return benchmark_module


def _mnist_build() -> dict:
    return {
        "model": "mnist-paper", "params": 3962, "timing_met": True, "cycles_per_group": 1000,
        "seed_sweep": [{"seed": 3, "fmax_mhz": 101.5, "seconds": 900.0, "log": "pnr.log"}],
        "tools": {"yosys": "0.70"},
        "lanes": 16, "input_groups": 2, "clock_requested_mhz": 100.0, "seed": 3,
        "fmax_mhz": 101.5, "build_time_s": 1000.0, "query_batch": 128,
        "forward_queries_per_s": 35.0, "samples_per_s": 4480.0, "bitstream_bytes": 1234,
        "estimate": {"used": {"LUT": 14000, "FF": 29000, "DSP": 37, "BRAM": 179}},
        "luts_used": 24000, "luts_available": 83641, "ffs_used": 31000, "ffs_available": 83642,
        "dsp_used": 37, "dsp_available": 156, "bram_used": 179, "bram_available": 208,
        "steps": [{"step": "pnr", "seconds": 900.0}], "command": "x", "date": "2026-12-06",
        "machine": {},
    }


def test_build_table_rows_show_their_own_resource(report, monkeypatch):
    results = {"build_ulx3s_mnist": _mnist_build()}
    monkeypatch.setattr(report, "_load", lambda name: results.get(name))
    lines = report.build_section()
    ff = next(line for line in lines if line.startswith("| FF |"))
    lut = next(line for line in lines if line.startswith("| LUT |"))
    assert ff.endswith("| 31,000 | 83,642 |"), ff
    assert lut.endswith("| 24,000 | 83,641 |"), lut


def test_a_build_record_without_a_required_field_is_named(report, monkeypatch):
    record = _mnist_build()
    del record["fmax_mhz"]
    monkeypatch.setattr(report, "_load",
                        lambda name: record if name == "build_ulx3s_mnist" else None)
    with pytest.raises(ValueError, match="build report lacks fmax_mhz"):
        report.build_section()
