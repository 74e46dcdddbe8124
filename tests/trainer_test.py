"""The search step: which parameters each phase moves, and bad settings."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from unas_tf import distributions, estimators, genotypes, trainer
from unas_tf.search_spaces import darts_supernet

# Two ops and one cell keep the traced step small; batch 4 of 8x8 images.
OPS = genotypes.DARTS_OPS[:2]
BATCH = 4


def _batch(seed):
    return {
        "image": tf.random.stateless_normal([BATCH, 8, 8, 3], seed=[seed, 0]),
        "label": tf.random.stateless_uniform([BATCH], [seed, 1], maxval=5, dtype=tf.int32),
    }


def _trainer(estimator):
    supernet = darts_supernet.Supernet(5, 4, 1, op_names=OPS)
    distribution = distributions.ArchitectureDistribution(genotypes.darts_choice_shapes(len(OPS)))
    supernet(_batch(0)["image"], distribution.sample(1, seed=0))
    settings = trainer.SearchSettings(global_batch_size=BATCH)
    return trainer.SearchTrainer(
        supernet,
        distribution,
        estimator,
        keras.optimizers.Adam(1e-2),
        keras.optimizers.Adam(1e-1),
        settings,
        seed=0,
    )


def _snapshot(variables):
    return [v.numpy().copy() for v in variables]


def _moved(before, variables):
    return any(not np.allclose(b, v.numpy()) for b, v in zip(before, variables, strict=True))


@pytest.fixture(scope="module")
def rebar_trainer():
    search = _trainer(estimators.create("rebar"))
    steps = {
        flag: tf.function(lambda a, b, flag=flag: search.train_step(a, b, flag))
        for flag in (True, False)
    }
    return search, steps


def test_search_step_moves_phi_and_weights(rebar_trainer):
    search, steps = rebar_trainer
    phi, weights = (
        _snapshot(search.distribution.trainable_variables),
        _snapshot(search.supernet.trainable_weights),
    )
    metrics = steps[True](_batch(1), _batch(2))
    assert set(metrics) == {
        "arch_loss",
        "arch_grad_norm",
        "arch_grad_variance",
        "sampled/train_loss",
        "sampled/train_accuracy",
        "sampled/val_loss",
        "sampled/val_accuracy",
        "sampled/penalty",
        "train_loss",
        "train_accuracy",
    }
    assert all(np.isfinite(float(value)) for value in metrics.values())
    assert float(metrics["arch_grad_variance"]) > 0
    assert _moved(phi, search.distribution.trainable_variables)
    assert _moved(weights, search.supernet.trainable_weights)


def test_warm_up_moves_only_the_weights(rebar_trainer):
    search, steps = rebar_trainer
    step_before = int(search.step)
    phi, weights = (
        _snapshot(search.distribution.trainable_variables),
        _snapshot(search.supernet.trainable_weights),
    )
    metrics = steps[False](_batch(3), _batch(4))
    assert "arch_loss" not in metrics
    assert not _moved(phi, search.distribution.trainable_variables)
    assert _moved(weights, search.supernet.trainable_weights)
    assert int(search.step) == step_before + 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("objective", "test"),
        ("sampling", "per_epoch"),
        ("gap_weight", -1.0),
        ("temperature", 0.0),
        ("global_batch_size", 0),
    ],
)
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"`{field}`"):
        trainer.SearchSettings(**{field: value})


def test_total_variance_of_sum_is_unbiased():
    # 20k draws of S = 4 contributions in 3 dimensions, each coordinate of variance 0.25:
    # tr Cov of the sum is 4 * 3 * 0.25 = 3.
    contributions = tf.random.stateless_normal([20_000, 4, 3], seed=[0, 1]) * 0.5
    estimates = tf.vectorized_map(trainer.total_variance_of_sum, contributions)
    mean = float(tf.reduce_mean(estimates))
    standard_error = float(tf.math.reduce_std(estimates)) / np.sqrt(20_000)
    assert abs(mean - 3.0) < 4 * standard_error


def test_evaluation_scores_the_argmax_architecture(rebar_trainer):
    search, _ = rebar_trainer
    metrics = search.evaluate_step(_batch(5))
    assert set(metrics) == {"loss", "accuracy"}
    assert np.isfinite(float(metrics["loss"])) and 0 <= float(metrics["accuracy"]) <= 1
