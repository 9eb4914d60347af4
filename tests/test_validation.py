"""Bad settings get one clear error naming the key (or option) and the value, before any work:
config values, command-line numbers, data folders, checkpoints, sizes against the data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ttzo.cli import main
from ttzo.train.checkpoint import load_checkpoint, save_checkpoint
from ttzo.train.config import builtin_config, load_config


@pytest.mark.parametrize("key,value,message", [
    ("train.incremental", "no", "train.incremental must be true or false, not 'no'"),
    ("phases.0.lr", float("inf"), "phases[0].lr must be a finite number above 0, not inf"),
    ("phases.0.lr", "fast", "phases[0].lr must be a finite number above 0, not 'fast'"),
    ("phases.1.lr", 0, "phases[1].lr must be a finite number above 0, not 0"),
    ("phases.0.max_epochs", -1, "phases[0].max_epochs must be a finite number above 0, not -1"),
    ("phases.0.batch_size", 2.5, "phases[0].batch_size must be an integer of at least 1, not 2.5"),
    ("phases.0.patience", 0, "phases[0].patience must be an integer of at least 1, not 0"),
    ("phases.0.min_delta", float("nan"), "phases[0].min_delta must be a finite number"),
    ("train.evals_per_epoch", 2.5, "train.evals_per_epoch must be an integer of at least 1, "
                                   "not 2.5"),
    ("seed", 1.9, "seed must be an integer of at least 0, not 1.9"),
    ("seed", True, "seed must be an integer of at least 0, not True"),
    ("train.epochs", "two", "train.epochs must be a finite number above 0, not 'two'"),
    ("train.val_size", 0, "train.val_size must be an integer of at least 1, not 0"),
    ("phases.0.estimator.mu", "big", "phases[0]: "),
])
def test_bad_config_values_are_named(key, value, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(")):
        load_config(builtin_config("mnist_quick"), {key: value})


def test_integral_floats_and_defaults_still_load():
    cfg = load_config(builtin_config("mnist_quick"), {"seed": 3.0, "train.evals_per_epoch": 2})
    assert cfg.seed == 3 and isinstance(cfg.seed, int) and cfg.evals_per_epoch == 2


@pytest.mark.parametrize("argv,message", [
    (["estimate", "--lanes", "0"], "argument --lanes: must be a positive integer, not '0'"),
    (["estimate", "--input-groups", "0"], "argument --input-groups: must be a positive integer"),
    (["estimate", "--clock-mhz", "-5"], "argument --clock-mhz: must be a positive finite number"),
    (["estimate", "--clock-mhz", "nan"], "argument --clock-mhz: must be a positive finite number"),
    (["estimate", "--batch", "0"], "argument --batch: must be a positive integer, not '0'"),
    (["build", "--jobs", "0"], "argument --jobs: must be a positive integer"),
    (["train", "mnist", "--max-steps", "-1"], "argument --max-steps: must be a positive integer"),
    (["train", "mnist", "--workers", "0"], "argument --workers: must be a positive integer"),
    (["train", "mnist", "--epochs", "inf"], "argument --epochs: must be a positive finite"),
])
def test_bad_command_line_numbers_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _train(tmp_path, mnist_dir, *extra):
    return main(["train", "mnist", "--quick", "--data", str(mnist_dir), "--run-dir",
                 str(tmp_path / "run"), "--no-progress", "--set", "train.epochs=0.01", *extra])


def test_a_named_data_folder_that_does_not_exist_is_not_replaced(tmp_path, capsys):
    assert main(["train", "mnist", "--quick", "--data", str(tmp_path / "nonexistent"),
                 "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 2
    assert f"MNIST folder {tmp_path / 'nonexistent'} does not exist" in capsys.readouterr().err


def test_batch_larger_than_the_training_set_is_refused(tmp_path, mnist_dir, capsys):
    assert _train(tmp_path, mnist_dir, "--set", "phases.0.batch_size=100000") == 2
    assert "batch_size 100000 exceeds the 55000 training samples" in capsys.readouterr().err


@pytest.mark.parametrize("theta,message", [
    (lambda t: np.where(np.arange(t.size) == 7, np.nan, t), "parameter 7 is nan"),
    (lambda t: t.astype(np.int64), "dtype int64, expected float64"),
    (lambda t: t[:-1], "shape"),
])
def test_damaged_checkpoint_parameters_are_refused(tmp_path, mnist_dir, capsys, theta, message):
    assert _train(tmp_path, mnist_dir, "--max-steps", "1") == 0
    path = tmp_path / "run" / "checkpoint.npz"
    arrays, meta = load_checkpoint(path)
    arrays["theta"] = theta(arrays["theta"])
    bad = tmp_path / "bad.npz"
    save_checkpoint(bad, arrays, meta)
    save_checkpoint(path, arrays, meta)
    capsys.readouterr()
    assert main(["train", "mnist", "--quick", "--data", str(mnist_dir), "--run-dir",
                 str(tmp_path / "tune"), "--no-progress", "--init-from", str(bad)]) == 2
    assert message in capsys.readouterr().err
    assert _train(tmp_path, mnist_dir, "--resume") == 2
    assert message in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "result.json").read_text())["steps"] == 1
