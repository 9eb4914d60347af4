"""An installed (non-editable) ttzo works from any folder: board files, model files and configs
are package data, not files found next to the sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with ttzo installed from its wheel; its dependencies come from this venv's
    site-packages (a path entry, so this venv's editable ttzo is not visible there)."""
    base = tmp_path_factory.mktemp("install")
    # build from a copy: setuptools leaves a build/ folder in the tree it builds
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "builds", "runs", "__pycache__", "*.egg-info", ".*_cache"))
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(source)], check=True, cwd=base)
    wheel = next(wheels.glob("ttzo-*.whl"))
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "ttzo_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, cwd=base)
    return env_dir


def _run(env_dir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(env_dir / "bin" / "ttzo"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_installed_package_is_the_wheel(installed, tmp_path):
    out = subprocess.run([installed / "bin" / "python", "-c",
                          "import ttzo, ttzo.hw; print(ttzo.__file__); print(ttzo.hw.__file__)"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(installed) in out and str(ROOT) not in out, out


def test_estimate_from_another_folder(installed, tmp_path):
    res = _run(installed, ["estimate", "--board", "icebreaker", "--json"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["available"]["BRAM"] == 30  # from the installed board file


def test_build_dry_run_from_another_folder(installed, tmp_path):
    res = _run(installed, ["build", "--board", "ulx3s-85f", "--dry-run", "--out", "plan"],
               tmp_path)
    assert res.returncode == 0, res.stderr
    plan = tmp_path / "plan"
    assert (plan / "estimate.json").is_file() and (plan / "build_ttzo.sh").is_file()
    assert "EHXPLLL" in (plan / "ttzo.il").read_text()
    assert not (plan / "ttzo.bit").exists()


def test_program_dry_run_from_another_folder(installed, tmp_path):
    (tmp_path / "t.bin").write_bytes(b"\x00")
    res = _run(installed, ["program", "--board", "icebreaker", "--bitstream", "t.bin",
                           "--dry-run"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["openFPGALoader", "-b", "ice40_generic", "t.bin"]
