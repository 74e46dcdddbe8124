"""Estimators against the exact gradient by enumeration, their variances, and bad input."""

import math

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from tests import testing
from unas_tf import estimators
from unas_tf.estimators import comparison, exact

# Four selectors of three choices (81 architectures): a differentiable quadratic loss and a
# NumPy table lookup, near-linear in the choices so that a linear surrogate fits it well.
LOGITS, QUADRATIC, TABLE_LOSS = comparison.random_problem(4, 3, seed=0)
NUM_SAMPLES = 20_000
RNG = np.random.default_rng(0)


def _fitted_surrogate():
    configurations = exact.enumerate_configurations(LOGITS.shape)
    surrogate = estimators.LinearSurrogate({"choices": LOGITS.shape})
    surrogate.fit({"choices": configurations}, TABLE_LOSS(configurations), holdout_fraction=0.25)
    return lambda samples: surrogate({"choices": samples})


def _max_z_score(estimates, truth):
    estimates = np.asarray(estimates, np.float64)
    standard_error = estimates.std(axis=0) / math.sqrt(len(estimates)) + 1e-12
    return float(np.max(np.abs(estimates.mean(axis=0) - np.asarray(truth)) / standard_error))


def _total_variance(estimates):
    return float(np.sum(np.var(np.asarray(estimates, np.float64), axis=0)))


class UnbiasednessTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("reinforce_differentiable", "reinforce", QUADRATIC, {}),
        ("reinforce_baseline", "reinforce", QUADRATIC, {"baseline": 3.5}),
        ("rebar_differentiable", "rebar", QUADRATIC, {}),
        ("relax_differentiable", "relax", QUADRATIC, {"control_variate": QUADRATIC}),
        ("reinforce_table", "reinforce", TABLE_LOSS, {}),
    )
    def test_mean_estimate_matches_exact_gradient(self, name, loss, kwargs):
        _, truth = exact.expectation_and_gradient(LOGITS, loss)
        estimates = estimators.estimate_gradient(
            name, LOGITS, loss, num_samples=NUM_SAMPLES, seed=1, **kwargs
        )
        self.assertEqual(estimates.shape, (NUM_SAMPLES, *LOGITS.shape))
        self.assertLess(_max_z_score(estimates, truth), 4.5)

    def test_relax_with_fitted_surrogate_is_unbiased_on_a_table_lookup(self):
        _, truth = exact.expectation_and_gradient(LOGITS, TABLE_LOSS)
        estimates = estimators.estimate_gradient(
            "relax",
            LOGITS,
            TABLE_LOSS,
            num_samples=NUM_SAMPLES,
            seed=2,
            control_variate=_fitted_surrogate(),
        )
        self.assertLess(_max_z_score(estimates, truth), 4.5)

    def test_gumbel_softmax_is_biased(self):
        _, truth = exact.expectation_and_gradient(LOGITS, QUADRATIC)
        estimates = estimators.estimate_gradient(
            "gumbel_softmax", LOGITS, QUADRATIC, num_samples=NUM_SAMPLES, seed=3
        )
        self.assertGreater(_max_z_score(estimates, truth), 10.0)


class VarianceTest(parameterized.TestCase):
    def test_rebar_has_lower_variance_than_reinforce(self):
        reinforce = estimators.estimate_gradient(
            "reinforce", LOGITS, QUADRATIC, num_samples=NUM_SAMPLES, seed=4
        )
        rebar = estimators.estimate_gradient(
            "rebar", LOGITS, QUADRATIC, num_samples=NUM_SAMPLES, seed=4
        )
        self.assertLess(_total_variance(rebar), 0.5 * _total_variance(reinforce))

    def test_relax_with_good_surrogate_has_lower_variance_than_reinforce(self):
        reinforce = estimators.estimate_gradient(
            "reinforce", LOGITS, TABLE_LOSS, num_samples=NUM_SAMPLES, seed=5
        )
        relax = estimators.estimate_gradient(
            "relax",
            LOGITS,
            TABLE_LOSS,
            num_samples=NUM_SAMPLES,
            seed=5,
            control_variate=_fitted_surrogate(),
        )
        self.assertLess(_total_variance(relax), 0.2 * _total_variance(reinforce))


class ExecutionModesTest(parameterized.TestCase):
    def test_tf_function_matches_eager_with_the_same_seed(self):
        def estimate():
            return estimators.estimate_gradient("rebar", LOGITS, QUADRATIC, num_samples=8, seed=7)

        np.testing.assert_allclose(tf.function(estimate)(), estimate(), atol=1e-5)

    def test_runs_in_a_replica_context(self):
        strategy = testing.two_cpu_strategy()

        @tf.function
        def step():
            return strategy.run(
                lambda: estimators.estimate_gradient(
                    "rebar", LOGITS, QUADRATIC, num_samples=4, seed=7
                )
            )

        per_replica = strategy.experimental_local_results(step())
        self.assertLen(per_replica, 2)
        expected = estimators.estimate_gradient("rebar", LOGITS, QUADRATIC, num_samples=4, seed=7)
        for result in per_replica:
            np.testing.assert_allclose(result, expected, atol=1e-5)


class NestedLogitsTest(parameterized.TestCase):
    @parameterized.parameters("reinforce", "gumbel_softmax", "rebar")
    def test_estimators_take_a_mapping_of_selector_groups(self, name):
        # Groups with different choice counts, as an architecture has; the loss sums both.
        # As in a search step: variables phi, broadcast to one row per sample.
        phi = {"ops": tf.Variable(tf.zeros([2, 3])), "inputs": tf.Variable(tf.zeros([4]))}
        weights = {"ops": tf.ones([2, 3]), "inputs": tf.range(4, dtype=tf.float32)}

        def loss(sample):
            return tf.add_n(
                [tf.reduce_sum(tf.reshape(sample[k] * weights[k], [8, -1]), 1) for k in sample]
            )

        estimator = estimators.create(name)
        with tf.GradientTape() as tape:
            logits = {key: tf.broadcast_to(value, [8, *value.shape]) for key, value in phi.items()}
            output = estimator.surrogate_loss(logits, loss, seed=0)
            mean_surrogate = tf.reduce_mean(output.surrogate)
        gradients = tape.gradient(mean_surrogate, phi)
        self.assertEqual(output.loss.shape, (8,))
        self.assertEqual(gradients["ops"].shape, (2, 3))
        self.assertGreater(float(tf.reduce_sum(tf.abs(gradients["inputs"]))), 0.0)


class RelaxedLossFnTest(parameterized.TestCase):
    def test_rebar_sends_one_hot_samples_to_loss_fn_and_relaxed_ones_to_relaxed_loss_fn(self):
        seen = {"loss_fn": [], "relaxed_loss_fn": []}

        def recorder(name):
            def loss(samples):
                seen[name].append(bool(np.all(np.isin(samples.numpy(), [0.0, 1.0]))))
                return QUADRATIC(samples)

            return loss

        logits = tf.tile(LOGITS[None], [16, 1, 1])
        estimators.create("rebar").surrogate_loss(
            logits, recorder("loss_fn"), seed=0, relaxed_loss_fn=recorder("relaxed_loss_fn")
        )
        self.assertEqual(seen, {"loss_fn": [True], "relaxed_loss_fn": [False]})


class ReinforceBaselineTest(parameterized.TestCase):
    def test_moving_average_is_the_released_codes(self):
        # util/utils.py ExpMovingAvgrageMeter(momentum=0.9): avg = 0.1 avg + 0.9 val, from 0.
        reinforce = estimators.create("reinforce", baseline="ema")
        np.testing.assert_allclose(reinforce.baseline, 0.0)
        reinforce.update(2.0)
        np.testing.assert_allclose(reinforce.baseline, 1.8)
        reinforce.update(4.0)
        np.testing.assert_allclose(reinforce.baseline, 0.1 * 1.8 + 0.9 * 4.0)

    def test_momentum_is_the_previous_averages_weight(self):
        reinforce = estimators.create("reinforce", baseline="ema", momentum=0.75)
        reinforce.update(2.0)
        reinforce.update(4.0)
        np.testing.assert_allclose(reinforce.baseline, 0.75 * (0.25 * 2.0) + 0.25 * 4.0)

    def test_constant_baseline_is_subtracted(self):
        reinforce = estimators.create("reinforce", baseline=1.5)
        output = reinforce.surrogate_loss(tf.zeros([1, 2, 2]), lambda s: tf.fill([1], 4.0), seed=0)
        np.testing.assert_allclose(output.loss, [4.0])
        np.testing.assert_allclose(output.surrogate, [(4.0 - 1.5) * 2 * math.log(0.5)])
        self.assertEqual(output.sample.shape, (1, 2, 2))


class LinearSurrogateTest(parameterized.TestCase):
    def test_recovers_a_linear_function_exactly(self):
        configurations = exact.enumerate_configurations((3, 4))
        weights = RNG.normal(size=(3, 4))
        values = 2.0 + np.einsum("nij,ij->n", configurations, weights)
        surrogate = estimators.LinearSurrogate({"layers": (3, 4)})
        fit = surrogate.fit({"layers": configurations}, values, l2=1e-6, holdout_fraction=0.25)
        self.assertEqual((fit.num_train, fit.num_holdout), (48, 16))
        self.assertLess(fit.holdout_mae, 1e-3)
        self.assertGreater(fit.holdout_r2, 0.999)
        np.testing.assert_allclose(surrogate({"layers": configurations}), values, atol=1e-3)

    def test_rejects_mismatched_samples_and_values(self):
        surrogate = estimators.LinearSurrogate({"layers": (3, 4)})
        with self.assertRaisesRegex(ValueError, r"samples\['layers'\]"):
            surrogate.fit({"layers": np.zeros([5, 3, 5])}, np.zeros(5))
        with self.assertRaisesRegex(ValueError, "`values`"):
            surrogate.fit({"layers": np.zeros([5, 3, 4])}, np.zeros(4))
        with self.assertRaisesRegex(ValueError, "selector groups"):
            surrogate.fit({"other": np.zeros([5, 3, 4])}, np.zeros(5))


class ExactTest(parameterized.TestCase):
    def test_enumerates_every_configuration_once(self):
        configurations = exact.enumerate_configurations((2, 3))
        self.assertEqual(configurations.shape, (9, 2, 3))
        self.assertLen({c.tobytes() for c in configurations}, 9)

    def test_constant_loss_has_zero_gradient(self):
        value, gradient = exact.expectation_and_gradient(LOGITS, lambda z: tf.fill([len(z)], 2.0))
        np.testing.assert_allclose(value, 2.0)
        np.testing.assert_allclose(gradient, np.zeros(LOGITS.shape), atol=1e-6)

    def test_refuses_huge_spaces(self):
        with self.assertRaisesRegex(ValueError, "configurations"):
            exact.enumerate_configurations((21, 7))


class BadInputTest(parameterized.TestCase):
    def test_unknown_estimator_lists_known_ones(self):
        with self.assertRaisesRegex(ValueError, r"gumbel_softmax.*rebar.*reinforce.*relax.*'snas'"):
            estimators.estimate_gradient("snas", LOGITS, QUADRATIC, num_samples=2)

    def test_logits_without_choice_axis(self):
        with self.assertRaisesRegex(ValueError, "`logits`"):
            estimators.estimate_gradient("rebar", tf.constant(1.0), QUADRATIC, num_samples=2)

    def test_loss_of_wrong_shape(self):
        with self.assertRaisesRegex(ValueError, r"`loss_fn`.*\[2\]"):
            estimators.estimate_gradient(
                "reinforce", LOGITS, lambda s: tf.zeros([2, 1]), num_samples=2
            )

    def test_control_variate_of_wrong_shape(self):
        with self.assertRaisesRegex(ValueError, "`control_variate`"):
            estimators.estimate_gradient(
                "relax", LOGITS, TABLE_LOSS, num_samples=2, control_variate=lambda s: tf.zeros([3])
            )

    def test_relax_without_control_variate(self):
        with self.assertRaisesRegex(ValueError, "`control_variate`"):
            estimators.estimate_gradient("relax", LOGITS, TABLE_LOSS, num_samples=2)

    def test_non_positive_temperature_and_samples(self):
        with self.assertRaisesRegex(ValueError, "`temperature`"):
            estimators.estimate_gradient("rebar", LOGITS, QUADRATIC, num_samples=2, temperature=0.0)
        with self.assertRaisesRegex(ValueError, "`num_samples`"):
            estimators.estimate_gradient("rebar", LOGITS, QUADRATIC, num_samples=0)


def test_known_names():
    assert estimators.known_names() == ["gumbel_softmax", "random", "rebar", "reinforce", "relax"]
    with pytest.raises(ValueError, match="momentum"):
        estimators.create("reinforce", momentum=1.0)


def _search_config(estimator, **overrides):
    return ml_collections.ConfigDict(
        {"estimator": estimator, "temperature": 0.4, "baseline_momentum": 0.1, **overrides}
    )


def test_the_random_baseline_is_an_estimator_that_never_moves_phi():
    estimator = estimators.create_for_search(_search_config("random"))
    assert not estimator.updates_architecture
    grads = estimators.estimate_gradient("random", LOGITS, QUADRATIC, num_samples=4, seed=0)
    np.testing.assert_array_equal(grads, np.zeros([4, *LOGITS.shape]))
    assert estimators.create_for_search(_search_config("rebar")).updates_architecture


def test_a_search_passes_its_baseline_momentum_to_reinforce_alone():
    config = _search_config("reinforce", baseline_momentum=0.5, temperature=0.3)
    reinforce = estimators.create_for_search(config)
    assert (reinforce.momentum, reinforce.temperature) == (0.5, 0.3)
    assert estimators.create_for_search(_search_config("rebar", baseline_momentum=0.5))


def test_estimator_state_checkpoints_with_the_estimator(tmp_path):
    estimator = estimators.create_for_search(_search_config("reinforce"))
    assert estimator.uses_moving_average  # a search's REINFORCE baseline is a moving average
    estimator.update(tf.constant(2.0))
    estimator.update(tf.constant(4.0))
    path = tf.train.Checkpoint(estimator=estimator).write(str(tmp_path / "ckpt"))
    restored = estimators.create_for_search(_search_config("reinforce"))
    tf.train.Checkpoint(estimator=restored).read(path).assert_existing_objects_matched()
    assert float(restored.baseline.numpy()) == pytest.approx(0.1 * 1.8 + 0.9 * 4.0)
