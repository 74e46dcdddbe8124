"""launch.search as a user runs it: outputs, resume after SIGKILL, bad input."""

import json
import os
import pathlib
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from tests import testing
from unas_tf import checkpoints, distributions
from unas_tf.search_spaces.darts import genotype as darts_genotype

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _command(workdir, *overrides):
    return testing.tiny_search_command(workdir, *overrides)


def _run(workdir, *overrides):
    return subprocess.run(
        _command(workdir, *overrides),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _phi(workdir):
    """The architecture logits of the run's latest checkpoint, restored by object."""
    distribution = distributions.ArchitectureDistribution(darts_genotype.darts_choice_shapes(2))
    latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    tf.train.Checkpoint(distribution=distribution).restore(latest).expect_partial()
    return {name: value.numpy() for name, value in distribution.logits.items()}


def _summary_tags(directory):
    return {
        value.tag
        for path in directory.iterdir()
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
    }


def _checkpointed_tensors(workdir):
    """{name: value} of every tensor in the run's latest checkpoint but the iterators' states."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(workdir / "checkpoints"))
    dtypes = reader.get_variable_to_dtype_map()
    return {name: reader.get_tensor(name) for name in dtypes if dtypes[name] != tf.variant}


@pytest.mark.slow
def test_search_writes_its_outputs_and_resumes_after_sigkill_bit_for_bit(tmp_path):
    # Two uninterrupted runs, side by side: a deterministic search repeats itself exactly.
    uninterrupted, again = tmp_path / "uninterrupted", tmp_path / "again"
    logs = [tmp_path / "uninterrupted.log", tmp_path / "again.log"]
    runs = [
        subprocess.Popen(
            _command(workdir, "--config.steps_per_epoch=12"),
            cwd=tmp_path,  # as from a fresh clone: the checkout on PYTHONPATH, any directory
            env=testing.launch_env(),
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        for workdir, log in zip((uninterrupted, again), logs, strict=True)
    ]
    returncodes = [run.wait(timeout=600) for run in runs]
    stderr = logs[0].read_text()
    assert returncodes == [0, 0], stderr + logs[1].read_text()
    # Nothing but progress lines: no warnings, tracebacks or TensorFlow C++ lines.
    assert testing.foreign_stderr_lines(stderr) == [], stderr
    assert {"config.json", "genotype.json", "checkpoints", "tensorboard"} <= set(
        os.listdir(uninterrupted)
    )
    genotype = json.loads((uninterrupted / "genotype.json").read_text())
    assert genotype["space"] == "darts" and genotype["ops"] == ["skip_connect", "sep_conv_3x3"]
    assert "(warm-up)" in stderr and "arch_loss" in stderr
    assert "argmax architecture on 4 search-val batches" in stderr
    assert "Sharding" not in stderr  # TensorFlow's own INFO lines stay hidden
    assert {
        "train_loss",
        "sampled/val_loss",
        "sampled/val_accuracy",
        "sampled/penalty",
        "argmax/val_accuracy",
        "arch_grad_variance",
        "lr/weights",
        "entropy/normal/ops",
        "selector_probabilities",
        "cells",
        "argmax/normal_parameter_free_ops",
    } <= _summary_tags(uninterrupted / "tensorboard")

    # Kill a second run with SIGKILL mid-search, after its first epoch's checkpoint, and resume.
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _command(killed, "--config.steps_per_epoch=12"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    try:
        # Recorded in the manager's state file, not merely written: then it is resumable.
        while tf.train.latest_checkpoint(killed / "checkpoints") is None:
            assert process.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert not (killed / "checkpoints" / "ckpt-36.index").exists()
    resumed = _run(killed, "--config.steps_per_epoch=12")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resumed" in resumed.stderr

    assert (killed / "genotype.json").read_text() == (uninterrupted / "genotype.json").read_text()
    assert any(np.abs(value).max() > 0 for value in _phi(uninterrupted).values())  # searched
    # Every tensor: weights, phi, both optimizers' slots and steps, estimator state.
    expected = _checkpointed_tensors(uninterrupted)
    assert len(expected) > 100
    # w's Adam started afresh after the 12 warm-up steps; phi's never was reset.
    moments_start = {name: int(v) for name, v in expected.items() if "moments_start" in name}
    assert sorted(moments_start.values()) == [0, 12], moments_start
    assert "warm-up done; the weights' Adam starts afresh" in stderr
    for other in (again, killed):
        actual = _checkpointed_tensors(other)
        assert actual.keys() == expected.keys()
        differing = [name for name in expected if not np.array_equal(actual[name], expected[name])]
        assert not differing, f"{other.name}: {differing}"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("--config.warmup_epochs=3", "warmup_epochs"),
        ("--config.batch_size=0", "batch_size"),
        ("--config.gap_weight=-1", "gap_weight"),
        ("--config.gap_form=median", "gap_form"),
        ("--config.weight_sample=gumbel", "weight_sample"),
        ("--config.temperature=0", "temperature"),
        ("--config.estimator=snas", "estimator"),
        ("--config.no_such_key=1", "no_such_key"),
        ("--config.weight_lr=0", "weight_lr"),
        ("--config.image_size=100000", "image_size"),
    ],
)
def test_bad_config_exits_non_zero_naming_the_key_and_writes_nothing(tmp_path, override, named):
    result = _run(tmp_path / "run", override)
    assert result.returncode != 0
    assert named in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_workdir_of_another_config_is_refused_untouched(tmp_path):
    workdir = tmp_path / "run"
    assert _run(workdir, "--config.steps_per_epoch=2", "--config.epochs=2").returncode == 0
    before = {path: path.stat().st_mtime_ns for path in workdir.rglob("*")}
    result = _run(workdir, "--config.steps_per_epoch=2", "--config.epochs=3")
    assert result.returncode != 0
    assert "epochs: 2 -> 3" in result.stderr
    assert {path: path.stat().st_mtime_ns for path in workdir.rglob("*")} == before


@pytest.mark.slow
def test_a_diverging_search_stops_with_a_message_and_saves_nothing_after(tmp_path):
    # Adam moves every weight by about the learning rate: 1e30 overflows within two steps.
    result = _run(
        tmp_path / "run",
        "--config.steps_per_epoch=3",
        "--config.weight_lr=1e30",
        "--config.weight_lr_final=1e30",
    )
    assert result.returncode != 0
    assert "not finite" in result.stderr and "Traceback" not in result.stderr
    assert "none was written yet" in result.stderr
    assert tf.train.latest_checkpoint(tmp_path / "run" / "checkpoints") is None


def _stop(process, signum, log):
    """Sends `signum`; returns (seconds until the process ended, its last stderr line)."""
    start = time.monotonic()
    process.send_signal(signum)
    process.wait(timeout=60)
    return time.monotonic() - start, log.read_text().strip().splitlines()[-1]


@pytest.mark.slow
def test_one_run_per_workdir_and_signals_stop_a_run_saying_where_it_resumes(tmp_path):
    workdir, log = tmp_path / "run", tmp_path / "run.log"
    # Started from another directory, as a user might; long enough to be running still when
    # the second one starts, however fast the machine.
    command = _command(workdir, "--config.steps_per_epoch=4", "--config.epochs=1000")
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )
    try:
        deadline = time.monotonic() + 300
        while not (workdir / "checkpoints" / "checkpoint").exists():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no checkpoint within 5 minutes"
            time.sleep(0.05)
        second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert f"is in use by process {process.pid}" in second.stderr
        seconds, last_line = _stop(process, signal.SIGINT, log)
    finally:
        process.kill()
    assert process.returncode == 130 and seconds < 10
    resume_point = checkpoints.describe_resume_point(workdir)
    assert "ckpt-" in resume_point
    assert (
        last_line == f"search: stopped by SIGINT; rerun the same command to resume {resume_point}"
    )

    # Again while the resumed run builds and compiles its step, deep inside TensorFlow.
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )
    try:
        while "Resumed" not in log.read_text():
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        # The tiny step takes about 5 s to build and compile after "Resumed" on a 2-core CPU.
        time.sleep(2)
        seconds, last_line = _stop(process, signal.SIGTERM, log)
    finally:
        process.kill()
    assert process.returncode == 143 and seconds < 10
    assert (
        last_line == f"search: stopped by SIGTERM; rerun the same command to resume {resume_point}"
    )
