"""The ttzo command line, end to end on MNIST with tiny budgets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ttzo.cli import main
from ttzo.train.config import builtin_config, load_config


def tiny_args(tmp_path, mnist_dir, *extra):
    return ["train", "mnist", "--quick", "--data", str(mnist_dir), "--run-dir", str(tmp_path),
            "--no-progress", "--set", "train.epochs=0.02", "--set", "train.evals_per_epoch=200",
            "--set", "phases.0.max_epochs=0.01", *extra]


def test_train_writes_result_metrics_plot_and_resumes(tmp_path, mnist_dir, capsys):
    result_copy = tmp_path / "copy" / "result.json"
    assert main(tiny_args(tmp_path / "run", mnist_dir, "--max-steps", "6")) == 0
    partial = json.loads((tmp_path / "run" / "result.json").read_text())
    assert partial["finished"] is False and partial["steps"] == 6
    rc = main(tiny_args(tmp_path / "run", mnist_dir, "--resume", "--result-json", str(result_copy)))
    assert rc == 0
    result = json.loads(result_copy.read_text())
    assert result["finished"] is True and result["forward_only"] is True
    assert result["params_tt"] == 3962 and result["params_dense"] == 814_090
    assert 0 <= result["test_accuracy"] <= 1 and result["forward_queries"] > 0
    for key in ("wall_time_s", "seed", "command"):
        assert key in result
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["phase"] for r in records][0] == "signRGE" and records[-1]["phase"] == "CGE"
    steps = [r["step"] for r in records]
    assert steps == sorted(set(steps))
    png = (tmp_path / "run" / "training_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "test accuracy" in capsys.readouterr().out


def test_init_from_fine_tunes_another_runs_parameters(tmp_path, mnist_dir, capsys):
    assert main(tiny_args(tmp_path / "base", mnist_dir, "--max-steps", "4")) == 0
    base = json.loads((tmp_path / "base" / "result.json").read_text())
    checkpoint = tmp_path / "base" / "checkpoint.npz"
    assert main(tiny_args(tmp_path / "tune", mnist_dir, "--max-steps", "3",
                          "--init-from", str(checkpoint))) == 0
    tune = json.loads((tmp_path / "tune" / "result.json").read_text())
    assert tune["steps"] == 3 and tune["init_from"]["checkpoint"] == str(checkpoint)
    assert tune["total_steps"] == 7
    assert tune["total_forward_queries"] == base["forward_queries"] + tune["forward_queries"]
    assert tune["total_wall_time_s"] == pytest.approx(
        base["wall_time_s"] + tune["wall_time_s"], abs=0.2)
    assert main(tiny_args(tmp_path / "bad", mnist_dir, "--init-from", str(tmp_path / "no.npz"))) \
        == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_existing_run_is_not_overwritten_silently(tmp_path, mnist_dir, capsys):
    args = tiny_args(tmp_path, mnist_dir, "--max-steps", "1")
    assert main(args) == 0
    before = (tmp_path / "checkpoint.npz").read_bytes()
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--set", "phases.1.estimator.kind=zge"], "unknown estimator 'zge'"),
        (["--set", "train.epochs=-1"], "train.epochs must be a finite number above 0, not -1"),
        (["--set", "phases.7.lr=1"], "cannot set 'phases.7.lr'"),
        (["--set", "train.epoch=1"], r"unknown setting\(s\) \['epoch'\]"),
        (["--set", "nonsense"], "--set takes KEY=VALUE"),
        (["--set", "phases.0.schedule={kind='cosine'}"],
         r"phases\[0\]\.schedule must be a table .*not \"\{kind='cosine'\}\""),
        (["--set", "phases.0.estimator=rge"], r"phases\[0\]\.estimator must be a table"),
        (["--config", "/nonexistent.toml"], "does not exist"),
    ],
)
def test_bad_config_gives_one_clear_error(tmp_path, mnist_dir, capsys, extra, message):
    assert main(tiny_args(tmp_path, mnist_dir, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttzo: error: ") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(message, err)
    assert not (tmp_path / "checkpoint.npz").exists()


def test_shipped_configs_parse_and_share_one_model():
    specs = {name: load_config(builtin_config(name)).model
             for name in ("mnist", "mnist_quick", "mnist_firstorder", "mnist_device",
                          "mnist_device_quick")}
    assert len({s for s in specs.values()}) == 1
    assert load_config(builtin_config("mnist")).forward_only
    assert not load_config(builtin_config("mnist_firstorder")).forward_only


def test_first_order_flag_uses_backprop(tmp_path, mnist_dir):
    args = ["train", "mnist", "--first-order", "--data", str(mnist_dir), "--run-dir",
            str(tmp_path), "--no-progress", "--set", "train.epochs=0.05"]
    assert main(args) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["forward_only"] is False and result["test_accuracy"] > 0.6
    assert np.isclose(result["forward_queries"], result["steps"])


def test_default_run_folders_never_clobber(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["train", "mnist", "--quick", "--data", str(mnist_dir), "--no-progress",
            "--max-steps", "1"]
    assert main(args) == 0 and main(args) == 0
    assert (tmp_path / "runs/mnist_quick-seed0/checkpoint.npz").is_file()
    assert (tmp_path / "runs/mnist_quick-seed0-2/checkpoint.npz").is_file()
    assert main([*args, "--resume"]) == 0  # resumes the newest
    result = json.loads((tmp_path / "runs/mnist_quick-seed0-2/result.json").read_text())
    assert result["steps"] == 2


def device_args(tmp_path, mnist_dir, *extra):
    return ["train", "mnist", "--device", "emulator", "--quick", "--data", str(mnist_dir),
            "--run-dir", str(tmp_path), "--no-progress", "--set", "train.epochs=0.005",
            "--set", "train.evals_per_epoch=1", "--set", "train.val_size=500", *extra]


def test_training_on_the_emulated_device(tmp_path, mnist_dir, capsys):
    """Every forward pass through the driver and the bit-exact emulator; the result says so."""
    assert main(device_args(tmp_path, mnist_dir)) == 0
    assert "training on the device: emulator (the ulx3s-85f accelerator: 16 lanes, 32 samples" \
        in capsys.readouterr().out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["device"] == "emulator" and result["forward_only"] is True
    assert result["finished"] is True and 0.0 <= result["test_accuracy"] <= 1.0
    # one parameter write per step (theta changes every step) plus the evaluations'
    assert result["steps"] <= result["device_param_writes"] <= result["steps"] + 2
    assert result["forward_queries"] == 20 * result["steps"]  # central RGE, 10 directions


@pytest.mark.parametrize("extra,message", [
    (["--config", "sw/ttzo/configs/mnist_quick.toml"],
     "phase 'signRGE' draws 'rademacher' directions, which the device cannot"),
    (["--device", "/dev/ttyNONE"], "cannot open serial port '/dev/ttyNONE'"),
    (["--first-order"], "cannot run on --device"),
    (["--workers", "2"], "leave --workers at 1 with --device"),
])
def test_device_training_errors_are_named(tmp_path, mnist_dir, capsys, extra, message):
    args = device_args(tmp_path, mnist_dir, *extra)
    if "--first-order" in extra:
        args.remove("--quick")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttzo: error: ") and message in err
    assert not (tmp_path / "checkpoint.npz").exists()


def test_device_auto_finds_the_board_port(monkeypatch):
    from types import SimpleNamespace

    from serial.tools import list_ports

    from ttzo.driver.connect import find_board_port

    ports = [SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None),
             SimpleNamespace(device="/dev/ttyUSB1", vid=0x0403, pid=0x6015)]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    assert find_board_port(["0403:6015"]) == "/dev/ttyUSB1"
    assert find_board_port(["0403:6010"]) is None
