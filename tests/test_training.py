"""The training loop: BP-free training works, hybrid switching, exact resume, safe checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ttzo.model import TTMLP
from ttzo.optim import SGD, Adam, make_schedule
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.tasks import SupervisedTask
from ttzo.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ttzo.train.firstorder import Backprop
from ttzo.train.loop import Phase, Trainer
from ttzo.train.metrics import read_metrics
from ttzo.zo import CGE, RGE


def teacher_task(seed=0, n=1200, incremental=True):
    """Three-class problem labelled by a random two-layer teacher network."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12))
    w1, w2 = rng.standard_normal((16, 12)), rng.standard_normal((3, 16))
    y = (np.maximum(x @ w1.T, 0) @ w2.T).argmax(axis=1)
    spec = ModelSpec((LayerSpec((3, 4), (4, 4), 3, "relu"), LayerSpec((16,), (3,), None, "none")),
                     init="he")
    split = int(0.8 * n)
    return SupervisedTask(TTMLP(spec), (x[:split], y[:split]), (x[split:], y[split:]),
                          incremental=incremental)


def hybrid_phases(dim):
    return [
        Phase("coarse", RGE(0.05, 4, sign=True, scheme="forward"), SGD(dim), make_schedule(0.002),
              batch_size=32, max_epochs=0.5, patience=2),
        Phase("fine", CGE(1e-3, sample_prob=0.5), Adam(dim),
              make_schedule(0.02, kind="cosine", epochs=4), batch_size=48),
    ]


def test_bp_free_training_reaches_low_loss():
    task = teacher_task()
    trainer = Trainer(task, [Phase("cge", CGE(1e-3), Adam(task.dim), make_schedule(0.02), 32)],
                      epochs=6, seed=1, evals_per_epoch=1)
    start = task.evaluate(trainer.theta)
    last = trainer.run()
    assert start["val_loss"] > 0.8
    assert last["val_loss"] < 0.35 and last["val_accuracy"] > 0.88
    assert trainer.forward_only
    # forward queries: per step, one per coordinate plus the base query
    assert trainer.state.queries == trainer.state.step * (task.dim + 1)


def test_bp_free_training_matches_first_order_closely():
    task = teacher_task()
    zo = Trainer(task, [Phase("cge", CGE(1e-5, scheme="central"), SGD(task.dim),
                              make_schedule(0.05), 32)], epochs=1, seed=3)
    fo = Trainer(task, [Phase("bp", Backprop(), SGD(task.dim), make_schedule(0.05), 32)],
                 epochs=1, seed=3)
    zo.run()
    fo.run()
    assert not fo.forward_only
    # central CGE with a tiny mu is the gradient up to O(mu^2) and rounding, except where a
    # ReLU kink lies within mu of a sample (rare: a few coordinates, by a little)
    diff = np.abs(zo.theta - fo.theta)
    assert np.median(diff) < 1e-6 and diff.max() < 1e-3
    assert zo.last_eval["val_loss"] == pytest.approx(fo.last_eval["val_loss"], rel=1e-3)
    assert np.abs(zo.theta - zo.task.init_params(np.random.default_rng(0))).max() > 0.01


def test_hybrid_switches_phase_and_logs_it(tmp_path):
    task = teacher_task()
    trainer = Trainer(task, hybrid_phases(task.dim), epochs=2, seed=0, evals_per_epoch=4,
                      run_dir=tmp_path)
    trainer.run()
    switches = trainer.state.phase_switches
    assert len(switches) == 1 and switches[0]["from"] == "coarse"
    assert switches[0]["epoch"] <= 0.5 + 1e-9
    phases = [r["phase"] for r in read_metrics(tmp_path / "metrics.jsonl")]
    assert phases[0] == "coarse" and phases[-1] == "fine"
    assert phases == sorted(phases, key=lambda p: p != "coarse")  # never switches back


def test_plateau_triggers_switch():
    task = teacher_task()
    # lr so small that the validation loss cannot improve: patience runs out after 2 evals
    phases = [Phase("stuck", RGE(0.05, 2, sign=True), SGD(task.dim), make_schedule(1e-12), 32,
                    patience=2),
              Phase("fine", CGE(1e-3), Adam(task.dim), make_schedule(0.01), 32)]
    trainer = Trainer(task, phases, epochs=1, seed=0, evals_per_epoch=8)
    trainer.run()
    assert trainer.state.phase_switches[0]["reason"] == "plateau"
    assert trainer.state.phase_switches[0]["epoch"] == pytest.approx(3 / 8, abs=0.03)


def strip_time(records):
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in records]


def test_resume_is_identical_to_uninterrupted_run(tmp_path):
    def make(run_dir):
        task = teacher_task()
        return Trainer(task, hybrid_phases(task.dim), epochs=1.5, seed=5, evals_per_epoch=4,
                       run_dir=run_dir, fingerprint={"test": 1})

    full = make(tmp_path / "full")
    full.run()
    for stop in (3, 17):  # before and after the phase switch
        part = make(tmp_path / f"part{stop}")
        part.run(stop_after_steps=stop)
        resumed = make(tmp_path / f"part{stop}")
        resumed.run(resume=True)
        np.testing.assert_array_equal(resumed.theta, full.theta)
        assert resumed.state.queries == full.state.queries
        assert strip_time(read_metrics(tmp_path / f"part{stop}" / "metrics.jsonl")) == \
            strip_time(read_metrics(tmp_path / "full" / "metrics.jsonl"))


def test_resume_refuses_other_config_and_damaged_checkpoint(tmp_path):
    task = teacher_task()
    phases = [Phase("cge", CGE(1e-3), Adam(task.dim), make_schedule(0.01), 32)]
    Trainer(task, phases, 0.2, run_dir=tmp_path, fingerprint={"lr": 1}).run()
    other = Trainer(task, phases, 0.2, run_dir=tmp_path, fingerprint={"lr": 2})
    with pytest.raises(CheckpointError, match="differs in: lr"):
        other.run(resume=True)
    ckpt = tmp_path / "checkpoint.npz"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="is damaged"):
        Trainer(task, phases, 0.2, run_dir=tmp_path, fingerprint={"lr": 1}).run(resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Trainer(task, phases, 0.2, run_dir=tmp_path / "empty").run(resume=True)


def test_warm_start_takes_the_parameters_and_chains_the_totals(tmp_path):
    task = teacher_task()

    def make(run_dir, lr=0.01):
        return Trainer(task, [Phase("cge", CGE(1e-3), Adam(task.dim), make_schedule(lr), 32)],
                       0.2, seed=2, run_dir=run_dir, fingerprint={"lr": lr})

    first = make(tmp_path / "first")
    first.run()
    second = make(tmp_path / "second")
    source = second.warm_start(tmp_path / "first" / "checkpoint.npz")
    np.testing.assert_array_equal(second.theta, first.theta)
    assert (source["steps"], source["queries"]) == (first.state.step, first.state.queries)
    assert second.state.step == 0 and second.state.queries == 0  # only the parameters move
    second.run(stop_after_steps=2)
    # a warm start from the warm-started run counts both runs' work
    third = make(tmp_path / "third")
    chained = third.warm_start(tmp_path / "second" / "checkpoint.npz")
    assert chained["queries"] == first.state.queries + second.state.queries
    assert chained["steps"] == first.state.step + 2
    # resuming the fine-tune needs the same start: same source resumes, another one is refused
    again = make(tmp_path / "second")
    again.warm_start(tmp_path / "first" / "checkpoint.npz")
    again.run(resume=True)
    assert again.state.step == first.state.step
    other = make(tmp_path / "second")
    other.warm_start(tmp_path / "second" / "checkpoint.npz")
    with pytest.raises(CheckpointError, match="differs in: init_from.*--init-from"):
        other.run(resume=True)
    wrong = Trainer(teacher_task(), [Phase("cge", CGE(1e-3), Adam(5), make_schedule(0.1), 32)],
                    0.2)
    wrong.theta = np.zeros(5)
    with pytest.raises(CheckpointError, match=r"shape \(\d+,\), expected \(5,\)"):
        wrong.warm_start(tmp_path / "first" / "checkpoint.npz")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"theta": np.arange(3.0)}, {"step": 1})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"theta": np.arange(5.0)}, {"step": 2})
    arrays, meta = load_checkpoint(path)  # the old checkpoint survives intact
    np.testing.assert_array_equal(arrays["theta"], np.arange(3.0))
    assert meta == {"step": 1}
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_metrics_log_ignores_torn_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"step": 1}) + "\n" + '{"step": 2, "val')
    assert read_metrics(path) == [{"step": 1}]


def test_trainer_argument_errors():
    task = teacher_task()
    phase = Phase("p", CGE(1e-3), Adam(task.dim), make_schedule(0.01), 32)
    with pytest.raises(ValueError, match="epochs must be positive"):
        Trainer(task, [phase], 0)
    with pytest.raises(ValueError, match="at least one phase"):
        Trainer(task, [], 1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Phase("p", CGE(1e-3), Adam(task.dim), make_schedule(0.01), 0)
