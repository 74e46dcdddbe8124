"""The run controller drives any `runs.Task`: build in scope, restore, steps, epochs, resume."""

import logging
import os

import ml_collections
import pytest
import tensorflow as tf

from tests import testing
from unas_tf import runs, strategies


def _config(**overrides):
    return ml_collections.ConfigDict(
        {
            "strategy": "default",
            "batch_size": 2,
            "seed": 0,
            "deterministic": False,
            "checkpoints_to_keep": 10,
            "log_every": 1,
            **overrides,
        }
    )


class _CountingTask(runs.Task):
    """Steps that add their step number to a total, in epochs of two steps; no graphs.

    `calls` records what the controller asked for, in order; the loss of step `nan_at` is NaN.
    """

    def __init__(self, run, total_steps=6, nan_at=None):
        super().__init__(run, total_steps, steps_per_epoch=2)
        self.nan_at = nan_at
        self.calls = []

    def build(self):
        self.calls.append(("build", tf.distribute.has_strategy()))
        self.counter = tf.Variable(0, dtype=tf.int64)
        self.total = tf.Variable(0.0)

    @property
    def step(self):
        return self.counter

    def checkpoint(self):
        return tf.train.Checkpoint(step=self.counter, total=self.total)

    def start(self):
        self.calls.append(("start", int(self.counter.numpy())))

    def phase(self, epoch):
        return "first epoch's step" if epoch == 0 else "later step"

    def run_step(self, step, epoch):
        self.total.assign_add(float(step))
        self.counter.assign_add(1)
        return {"loss": float("nan") if step == self.nan_at else float(step)}

    def describe(self, values, epoch):
        return f" loss {values['loss']:.1f}"

    def summarize(self, values, epoch):
        tf.summary.scalar("loss", values["loss"])

    def end_epoch(self, step, epoch):
        self.calls.append(("end_epoch", step, epoch))

    def finish(self):
        return float(self.total.numpy())


def _drive(workdir, max_steps=None, **task_args):
    with runs.start(_config(), workdir, "test run") as run:
        task = _CountingTask(run, **task_args)
        return run.drive(task, max_steps), task


def _saved_steps(workdir):
    directory = os.path.join(workdir, strategies.CHECKPOINT_DIR)
    state = tf.train.get_checkpoint_state(directory)
    return [int(path.rsplit("-", 1)[1]) for path in state.all_model_checkpoint_paths]


def test_drive_builds_in_scope_runs_every_epoch_and_checkpoints_each(tmp_path, caplog, monkeypatch):
    # A strategy of its own, so that its scope shows (the default strategy's does not).
    monkeypatch.setattr(strategies, "create", lambda name: testing.two_cpu_strategy())
    with caplog.at_level(logging.INFO):
        result, task = _drive(tmp_path)
    assert result == sum(range(6))
    assert task.calls == [
        ("build", True),
        ("start", 0),
        ("end_epoch", 2, 0),
        ("end_epoch", 4, 1),
        ("end_epoch", 6, 2),
    ]
    assert _saved_steps(tmp_path) == [2, 4, 6]
    assert os.path.exists(tmp_path / "config.json")
    assert "step 1: building the first epoch's step's graph" in caplog.text
    assert "step 3: building the later step's graph" in caplog.text
    assert "step 6/6 epoch 3/3 loss 5.0" in caplog.text


def test_a_stopped_run_checkpoints_and_a_rerun_continues_from_there(tmp_path):
    result, task = _drive(tmp_path, max_steps=3)
    assert result == sum(range(3))
    assert task.calls[-1] == ("end_epoch", 3, 1)  # the stop ends its epoch early
    result, task = _drive(tmp_path)
    assert task.calls[1] == ("start", 3)
    assert result == sum(range(6))
    assert _saved_steps(tmp_path) == [2, 3, 4, 6]


def test_a_non_finite_loss_stops_without_saving(tmp_path):
    with pytest.raises(runs.Diverged, match="step 4: a loss is not finite"):
        _drive(tmp_path, nan_at=3)
    assert _saved_steps(tmp_path) == [2]
