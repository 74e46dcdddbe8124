"""One trial's pieces that need TensorFlow: logged variance, errors, HParams, and a trial's run
with a fake search and retraining whose record carries the re-measured latency."""

import os

import pytest
import tensorflow as tf

from configs.study import proxyless_pareto, smoke
from unas_tf import genotypes, retrain_run, search_run, study, study_trial
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype


def _write_scalars(directory, tag, values_by_step):
    with tf.summary.create_file_writer(str(directory)).as_default():
        for step, value in values_by_step.items():
            tf.summary.scalar(tag, value, step=step)
        tf.summary.flush()


def test_the_logged_variance_is_the_mean_over_logged_steps(tmp_path):
    events = tmp_path / "tensorboard"
    _write_scalars(events, "arch_grad_variance", {10: 1.0, 20: 5.0})
    _write_scalars(events, "arch_loss", {10: 100.0})
    # A resumed search writes step 20 again, into a new events file: that value counts once.
    _write_scalars(events, "arch_grad_variance", {20: 3.0, 30: 8.0})
    assert len(os.listdir(events)) >= 2
    assert study_trial.mean_logged_variance(tmp_path) == pytest.approx((1.0 + 3.0 + 8.0) / 3)
    assert study_trial.mean_logged_variance(tmp_path / "nothing") is None


def test_an_error_is_recorded_in_one_line():
    assert study_trial._one_line(ValueError("bad\nsecond")) == "ValueError: bad"
    tf_error = ValueError("in user code:\n\n  File x.py\n\n  ValueError: None values.\n")
    assert study_trial._one_line(tf_error) == "ValueError: ValueError: None values."
    assert study_trial._one_line(RuntimeError()) == "RuntimeError"


def test_validate_names_the_trial_whose_search_config_is_refused():
    config = smoke.get_config()
    config.grids.smoke.estimator = ("rebar", "no_such_estimator")
    with pytest.raises(ValueError, match="trial estimator=no_such_estimator,seed=0: config.estim"):
        study_trial.validate(config)


def _tags(directory):
    return {
        value.tag
        for name in os.listdir(directory)
        for event in tf.compat.v1.train.summary_iterator(os.path.join(directory, name))
        for value in event.summary.value
    }


def test_hparams_sessions_and_the_experiment(tmp_path):
    config = smoke.get_config()
    rebar, random = study.trials(config)
    record = {"test_accuracy": 0.5, "params": 10, "macs": 20, "search_seconds": None}
    study_trial.write_session(config, random, tmp_path / "random", record)
    assert {"_hparams_/session_start_info", "test_accuracy", "params", "macs"} == _tags(
        tmp_path / "random"
    )
    assert study_trial._hparams(config, rebar) == {"estimator": "rebar", "seed": 0}
    study_trial.write_experiment(config, tmp_path)
    study_trial.write_experiment(config, tmp_path)  # kept, not written twice
    assert len(os.listdir(tmp_path / "tensorboard")) == 1
    assert _tags(tmp_path / "tensorboard") == {"_hparams_/experiment"}


def _tiny_pareto_study():
    """The Pareto preset at width 0.1, timed at 16x16 in this process, once per measurement."""
    config = proxyless_pareto.get_config()
    config.search.update(width_multiplier=0.1, image_size=16)
    config.search.latency.update(
        image_size=16, batch_size=2, warmup_runs=1, repeats=1, runs_per_repeat=1
    )
    config.search.latency.update(separate_process=False, intra_op_threads=0, clock="wall")
    return config


def _fake_search_and_retraining(monkeypatch, searched):
    """Stands in for the search (it writes `searched`) and the retraining (fixed metrics)."""

    def search(config, workdir):
        del config
        genotypes.save(searched, os.path.join(workdir, study_trial.GENOTYPE_FILE))

    def retrain(config, workdir):
        del config, workdir
        return {"top1": 0.9, "top5": 1.0, "params": 100, "macs": 1000}

    monkeypatch.setattr(search_run, "run_search", search)
    monkeypatch.setattr(retrain_run, "run_training", retrain)


def test_a_trial_records_the_latency_of_the_architecture_it_retrained(tmp_path, monkeypatch):
    config = _tiny_pareto_study()
    study_trial.validate(config)
    searched = proxyless_genotype.random_proxyless(7)
    _fake_search_and_retraining(monkeypatch, searched)
    trial = study.find_trial(config, "latency.weight=5.0,seed=0")
    (tmp_path / "trials" / trial.name / "search").mkdir(parents=True)
    record = study_trial.run(config, trial, tmp_path)
    assert record["status"] == study.DONE and record["test_accuracy"] == 0.9
    assert record["keys"] == {"estimator": "rebar", "latency.weight": 5.0}
    assert 0 < record["latency_ms"] < float("inf")
    assert record["latency"]["median_ms"] == record["latency_ms"]
    assert (record["latency"]["batch_size"], record["latency"]["clock"]) == (2, "wall")
    assert study.read_record(study.trial_directory(tmp_path, trial)) == record
    # The random baseline re-measures its random architecture too.
    random = study.find_trial(config, "estimator=random,seed=1")
    assert study_trial.run(config, random, tmp_path)["latency_ms"] > 0


def test_only_a_study_whose_search_config_measures_latency_re_measures_it():
    pareto, darts = _tiny_pareto_study(), smoke.get_config()  # darts: no `latency` section
    assert all(study_trial.measures_latency(pareto, trial) for trial in study.trials(pareto))
    assert not any(study_trial.measures_latency(darts, trial) for trial in study.trials(darts))
