"""launch.study as a user runs it: errors, --list, --aggregate, skipping, and the smoke study;
and in this process, with fake trial processes: which GPUs trials get, and the progress lines.
"""

import json
import logging
import os
import subprocess

import pytest
import tensorflow as tf

from configs.study import proxyless_pareto, smoke
from launch import study as launcher
from tests import testing
from unas_tf import pareto, study

SMOKE = "--config=configs/study/smoke.py"
REBAR, RANDOM = "estimator=rebar,seed=0", "estimator=random,seed=0"


def _study(workdir, *arguments):
    return testing.run_module("launch.study", SMOKE, f"--workdir={workdir}", *arguments)


def _one_line_error(result, *fragments):
    """Asserts exit status 1 and a last standard-error line holding every fragment, alone."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("study: "), result.stderr
    for fragment in fragments:
        assert fragment in last, result.stderr


def _done(accuracy, **extra):
    return {
        "status": "done",
        "test_accuracy": accuracy,
        "params": 1000,
        "macs": 5000,
        "search_seconds": 1.0,
        "train_seconds": 2.0,
        "arch_grad_variance": 0.5,
        **extra,
    }


def _fake_study(workdir, records, config=None):
    """A study directory of `config` (the smoke preset) whose trials left `records`."""
    config = config or smoke.get_config()
    study.save_study(config, workdir)
    for name, record in records.items():
        directory = workdir / study.TRIALS_DIR / name
        directory.mkdir(parents=True)
        study.write_record(directory, record)


def _tags(directory):
    return {
        value.tag
        for name in os.listdir(directory)
        if name.startswith("events.")
        for event in tf.compat.v1.train.summary_iterator(str(directory / name))
        for value in event.summary.value
    }


def test_list_prints_one_self_contained_command_per_trial(tmp_path):
    result = _study(tmp_path / "s", "--list", "--config.search.epochs=3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, (REBAR, RANDOM), strict=True):
        assert line.startswith(f"cd {testing.ROOT} && ")
        assert f"--config={testing.ROOT}/configs/study/smoke.py --config.search.epochs=3" in line
        assert line.endswith(f"--workdir={tmp_path}/s --trial={name}")
    assert not (tmp_path / "s").exists()


def test_a_grid_with_an_unknown_key_is_one_line_and_touches_nothing(tmp_path):
    preset = tmp_path / "bad.py"
    preset.write_text(
        "from configs.study import smoke\n\n\ndef get_config():\n"
        "    config = smoke.get_config()\n"
        "    config.grids.smoke.estimater = ('rebar',)\n"
        "    return config\n"
    )
    result = testing.run_module("launch.study", f"--config={preset}", f"--workdir={tmp_path}/s")
    _one_line_error(result, "config.grids.smoke.estimater: unknown search key 'estimater'")
    assert not (tmp_path / "s").exists()


def test_an_empty_axis_is_one_line(tmp_path):
    result = _study(tmp_path / "s", "--config.grids.smoke.estimator=()")
    _one_line_error(result, "config.grids.smoke.estimator: expected a non-empty tuple")
    assert not (tmp_path / "s").exists()


def test_a_value_the_search_refuses_names_the_trial(tmp_path):
    result = _study(tmp_path / "s", "--config.grids.smoke.estimator=('rebar','nope')")
    _one_line_error(result, "trial estimator=nope,seed=0: config.estimator: expected one of")


def test_a_directory_of_another_study_is_one_line_and_left_as_it_was(tmp_path):
    other = smoke.get_config()
    other.seeds = (1,)
    _fake_study(tmp_path, {"estimator=rebar,seed=1": _done(0.5)}, other)
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    result = _study(tmp_path)
    _one_line_error(result, f"workdir {tmp_path} holds another study (seeds: [1] -> [0])")
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert after == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--list", "--aggregate"), "--list and --aggregate: give at most one of them"),
        (("--trial=estimator=reinforce,seed=0",), "--trial=estimator=reinforce,seed=0: the study"),
        (("--aggregate",), "holds no study (no study.json)"),
    ],
)
def test_bad_mode_flags_are_one_line(tmp_path, arguments, message):
    _one_line_error(_study(tmp_path / "s", *arguments), message)


def test_aggregate_writes_the_results_of_what_the_directory_holds(tmp_path):
    _fake_study(
        tmp_path,
        {REBAR: _done(0.75), RANDOM: {"status": "failed", "error": "ValueError: no data"}},
    )
    result = _study(tmp_path, "--aggregate")
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["summary"] == {
        "trials": 2,
        "done": 1,
        "failed": 1,
        "unfinished": 0,
        "pending": 0,
    }
    rows = {row["name"]: row for row in results["trials"]}
    assert rows[REBAR]["test_accuracy"] == 0.75 and rows[REBAR]["estimator"] == "rebar"
    assert rows[RANDOM]["error"] == "ValueError: no data"
    assert [group["n"] for group in results["groups"]] == [1, 0]
    assert result.stdout == (tmp_path / "results.md").read_text()
    assert "- `estimator=random,seed=0`: ValueError: no data" in result.stdout
    assert "_hparams_/experiment" in _tags(tmp_path / "tensorboard")


@pytest.mark.slow
def test_a_rerun_skips_done_trials_and_records_a_failing_one(tmp_path):
    # The random trial fails at once: its retraining looks for CIFAR-10 where there is none.
    overrides = ("--config.eval.dataset=cifar10", f"--config.eval.data_dir={tmp_path}/no_data")
    config = smoke.get_config()
    config.eval.dataset, config.eval.data_dir = "cifar10", f"{tmp_path}/no_data"
    _fake_study(tmp_path, {REBAR: _done(0.75)}, config)
    result = _study(tmp_path, *overrides)
    _one_line_error(
        result, "1 of 2 trials did not finish (1 failed; estimator=random,seed=0: Dataset"
    )
    assert "2 trials: 1 done already, 1 to run" in result.stderr
    assert not (tmp_path / study.TRIALS_DIR / REBAR / "log.txt").exists()  # never started
    record = study.read_record(tmp_path / study.TRIALS_DIR / RANDOM)
    assert record["status"] == "failed" and "cifar10" in record["error"]
    assert "Traceback" in (tmp_path / study.TRIALS_DIR / RANDOM / "log.txt").read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    assert [row["status"] for row in results["trials"]] == ["done", "failed"]
    assert "| rebar | 1 | 0.7500 |" in result.stdout


@pytest.mark.slow
def test_the_smoke_study_runs_end_to_end_and_a_rerun_skips_it(tmp_path):
    result = _study(tmp_path)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["summary"]["done"] == 2
    rows = {row["name"]: row for row in results["trials"]}
    for row in rows.values():
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["params"] > 0 and row["macs"] > 0
        assert row["train_seconds"] > 0
    assert rows[REBAR]["search_seconds"] > 0 and rows[REBAR]["arch_grad_variance"] > 0
    assert rows[RANDOM]["search_seconds"] is None and rows[RANDOM]["arch_grad_variance"] is None
    assert [group["name"] for group in results["groups"]] == ["estimator=rebar", "estimator=random"]
    assert result.stdout.startswith((tmp_path / "results.md").read_text())
    rebar, random = (tmp_path / study.TRIALS_DIR / name for name in (REBAR, RANDOM))
    assert {"genotype.json", "config.json"} <= set(os.listdir(rebar / "search"))
    assert {"metrics.json", "genotype.json"} <= set(os.listdir(rebar / "train"))
    assert json.loads((random / "train" / "config.json").read_text())["genotype"] == "random:0"
    assert not (random / "search").exists()
    assert {"_hparams_/session_start_info", "test_accuracy", "params"} <= _tags(rebar)
    assert "_hparams_/experiment" in _tags(tmp_path / "tensorboard")

    logs = {path: path.read_text() for path in tmp_path.rglob("log.txt")}
    again = _study(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 trials: 2 done already, 0 to run" in again.stderr
    assert {path: path.read_text() for path in tmp_path.rglob("log.txt")} == logs
    assert json.loads((tmp_path / "results.json").read_text()) == results


# --- in this process: GPUs and progress lines, with fake trial processes ------------------------


def test_aggregating_trials_with_latency_draws_the_pareto_front(tmp_path):
    config = proxyless_pareto.get_config()
    slow, fast = "latency.weight=0.0,seed=0", "latency.weight=5.0,seed=0"
    records = {
        slow: _done(0.98, latency_ms=40.0),
        "latency.weight=0.0,seed=1": _done(0.96, latency_ms=50.0),
        fast: _done(0.95, latency_ms=20.0),
    }
    _fake_study(tmp_path, records, config)
    results = launcher._aggregate(config, str(tmp_path))
    assert results["pareto_front"] == [fast, slow]
    assert json.loads((tmp_path / "results.json").read_text())["pareto_front"] == [fast, slow]
    assert (tmp_path / pareto.PLOT_FILE).read_bytes().startswith(b"\x89PNG")
    assert "pareto" in _tags(tmp_path / pareto.SUMMARY_DIR)
    text = (tmp_path / "results.md").read_text()
    assert "| rebar | 0.0 | 2 | 0.9700 ± 0.0141 | 0.9800 | 1,000 | 45.00 |" in text
    assert "![test accuracy against latency](pareto.png)" in text
    assert f"- `{fast}`\n- `{slow}`\n" in text


def test_progress_lines_count_trials_and_estimate_the_time_left():
    progress = launcher._Progress(total=6, done=1, parallel=2)  # one done by an earlier run
    assert progress.trial_failed("a", 5, "ValueError: no (log: a/log.txt)") == (
        "trial a failed after 0:00:05: ValueError: no (log: a/log.txt); 1 of 6 done, 1 failed, "
        "ETA --:--"  # no trial done in this run yet; the failure's time says nothing
    )
    # 3 left x a mean of 250 s / 2 at a time.
    assert progress.trial_done("b", 250, 0.91) == (
        "trial 2 of 6 done (b: test top-1 0.9100, 0:04:10), 1 failed, ETA 0:06:15"
    )
    # 2 left x a mean of 300 s / 2 at a time.
    assert progress.trial_done("c", 350, 0.5) == (
        "trial 3 of 6 done (c: test top-1 0.5000, 0:05:50), 1 failed, ETA 0:05:00"
    )
    # 1 left x a mean of 1500 s: it runs alone.
    assert progress.trial_done("d", 3900, 0.5) == (
        "trial 4 of 6 done (d: test top-1 0.5000, 1:05:00), 1 failed, ETA 0:25:00"
    )
    assert (
        progress.trial_done("e", 60, 0.75)
        == "trial 5 of 6 done (e: test top-1 0.7500, 0:01:00), 1 failed"
    )


def test_the_launcher_counts_gpus_with_tensorflow_and_names_them_by_cuda_visible_devices(
    monkeypatch,
):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: ["gpu"] * 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6,2,4")  # the third is invalid, or TF lacks it
    assert launcher._visible_gpus() == ["6", "2"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert launcher._visible_gpus() == ["0", "1"]


class _FakeTrialProcess:
    """Stands in for a trial's process: it ends after `polls[name]` polls, its trial done."""

    polls = {}
    started = []  # (trial name, CUDA_VISIBLE_DEVICES or None for the inherited environment)

    def __init__(self, argv, env=None, **kwargs):
        del kwargs
        options = dict(argument.removeprefix("--").split("=", 1) for argument in argv[3:])
        self.name = options["trial"]
        self.directory = os.path.join(options["workdir"], study.TRIALS_DIR, self.name)
        self.left = self.polls[self.name]
        self.returncode = None
        self.started.append((self.name, None if env is None else env["CUDA_VISIBLE_DEVICES"]))

    def poll(self):
        self.left -= 1
        if self.left == 0:
            study.write_record(self.directory, {"name": self.name, **_done(0.5)})
            self.returncode = 0
        return self.returncode


@pytest.mark.parametrize(
    ("gpus", "gpus_per_trial", "at_once", "expected"),
    [
        # The second GPU goes to each next trial as the short ones end there; the first is busy.
        (["3", "5"], 1, 2, ["3", "5", "5", "5"]),
        (["3", "5", "6", "7"], 2, 2, ["3,5", "6,7", "6,7", "6,7"]),
        ([], 1, 2, [None] * 4),  # no GPUs: the trials inherit the environment as it is
        (["3", "5", "6"], 2, 1, ["3,5"] * 4),  # GPUs for one trial at a time, not two
    ],
)
def test_a_gpu_freed_by_an_ended_trial_goes_to_the_next(
    tmp_path, monkeypatch, caplog, gpus, gpus_per_trial, at_once, expected
):
    config = smoke.get_config()
    config.seeds, config.parallel, config.gpus_per_trial = (0, 1), 2, gpus_per_trial
    names = [trial.name for trial in study.trials(config)]
    monkeypatch.setattr(subprocess, "Popen", _FakeTrialProcess)
    monkeypatch.setattr(launcher, "POLL_S", 0.0)
    monkeypatch.setattr(_FakeTrialProcess, "polls", dict(zip(names, (6, 1, 1, 1), strict=True)))
    monkeypatch.setattr(_FakeTrialProcess, "started", [])
    caplog.set_level(logging.INFO, logger="absl")
    study.save_study(config, tmp_path)

    launcher._run_trials(config, tmp_path, launcher._gpu_slots(config, gpus))

    assert _FakeTrialProcess.started == list(zip(names, expected, strict=True))
    messages = [record.getMessage() for record in caplog.records]
    if at_once < config.parallel:
        assert messages.pop(0) == (
            "config.parallel=2 x config.gpus_per_trial=2 needs 4 GPUs, 3 visible: running 1 at "
            "a time"
        )
    assert messages[0].startswith(f"4 trials: 0 done already, 4 to run, {at_once} at a time")
    assert any(message.startswith("trial 4 of 4 done (") for message in messages)
    done = study.read_records(config, tmp_path)
    assert [record["status"] for record in done.values()] == ["done"] * 4
