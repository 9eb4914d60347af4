"""Provenance recorded with results: the source commit (and whether the tree was modified),
the machine and the time."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ttzo import provenance

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs a git checkout")
def test_source_revision_is_the_checkout_commit():
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert re.fullmatch(re.escape(head) + r"(-dirty)?", provenance.source_revision())


def test_source_revision_without_git_is_none(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")
    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    assert provenance.source_revision() is None


def test_machine_and_time_fields():
    m = provenance.machine()
    assert m["cores"] >= 1 and m["memory_gib"] > 0 and m["python"].count(".") == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", provenance.utc_now())
