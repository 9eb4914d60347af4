"""Shared fixtures: MNIST location, small random models, benchmark scripts as modules."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The MNIST files: ../shared/data/mnist (as in CI) or $TTZO_DATA."""
    for candidate in (SHARED_MNIST, Path(os.environ.get("TTZO_DATA", "/nonexistent")) / "mnist"):
        if (candidate / "train-images-idx3-ubyte.gz").is_file():
            return candidate
    pytest.fail("MNIST not found: expected ../shared/data/mnist next to the repository")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def benchmark_module(request):
    """The benchmark script ``benchmarks/<module's BENCHMARK>.py`` imported as a module."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module(request.module.BENCHMARK)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
