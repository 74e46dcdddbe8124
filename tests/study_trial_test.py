"""One trial's pieces that need TensorFlow but no network: logged variance, errors, HParams."""

import os

import pytest
import tensorflow as tf

from configs.study import smoke
from unas_tf import study, study_trial


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
