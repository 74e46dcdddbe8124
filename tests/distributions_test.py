"""Architecture distribution: closed-form log-probs, sample laws, and the REBAR coupling."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from unas_tf import distributions

LOGITS = tf.constant([[0.5, -0.3, 0.1, 1.2], [0.0, 1.0, -1.0, 0.3], [0.2, 0.2, -0.5, -2.0]])
NUM_DRAWS = 40_000


def _within_standard_errors(draws, expected, num_errors=4.5):
    """True when the mean of `draws` (axis 0) is within a few standard errors of `expected`."""
    draws = np.asarray(draws, np.float64)
    standard_error = draws.std(axis=0) / math.sqrt(len(draws)) + 1e-9
    return np.all(np.abs(draws.mean(axis=0) - np.asarray(expected)) <= num_errors * standard_error)


def test_log_prob_and_entropy_at_zero_logits_are_uniform():
    logits = {"ops": tf.zeros([4, 2, 7]), "inputs": tf.zeros([2, 3])}
    z = distributions.sample_discrete(logits, seed=0, sample_shape=[5])
    expected = -(8 * math.log(7) + 2 * math.log(3))
    np.testing.assert_allclose(distributions.log_prob(logits, z), [expected] * 5, rtol=1e-6)
    entropies = distributions.entropy(logits)
    np.testing.assert_allclose(entropies["ops"], np.full([4, 2], math.log(7)), rtol=1e-6)
    np.testing.assert_allclose(entropies["inputs"], np.full([2], math.log(3)), rtol=1e-6)


def test_log_prob_sums_log_softmax_of_chosen_entries():
    z = distributions.sample_discrete(LOGITS, seed=3, sample_shape=[6])
    expected = tf.reduce_sum(z * tf.nn.log_softmax(LOGITS), axis=[1, 2])
    np.testing.assert_allclose(distributions.log_prob(LOGITS, z), expected, rtol=1e-5)


def test_discrete_samples_follow_softmax():
    z = distributions.sample_discrete(LOGITS, seed=1, sample_shape=[NUM_DRAWS])
    assert _within_standard_errors(z, tf.nn.softmax(LOGITS))


def test_coupled_sample_is_consistent_and_has_the_right_laws():
    coupled = distributions.sample_coupled(LOGITS, 0.4, seed=2, sample_shape=[NUM_DRAWS])
    z, zeta, zeta_tilde = coupled
    np.testing.assert_array_equal(tf.argmax(zeta, -1), tf.argmax(z, -1))
    # Built from the noise that produced z, the conditional relaxation reproduces zeta.
    np.testing.assert_allclose(zeta_tilde, zeta, atol=1e-5)
    assert _within_standard_errors(z, tf.nn.softmax(LOGITS))
    reference = tfp.distributions.RelaxedOneHotCategorical(0.4, logits=LOGITS)
    reference_draws = reference.sample(NUM_DRAWS, seed=tf.constant([7, 7]))
    assert _within_standard_errors(zeta, tf.reduce_mean(reference_draws, axis=0), 5.0)


def test_fresh_conditional_samples_agree_with_z_and_marginalise_to_the_relaxation():
    z = distributions.sample_discrete(LOGITS, seed=4, sample_shape=[NUM_DRAWS])
    zeta_tilde = distributions.sample_conditional(LOGITS, z, 0.4, seed=5)
    np.testing.assert_array_equal(tf.argmax(zeta_tilde, -1), tf.argmax(z, -1))
    # E_z E_{r(zeta|z)}[zeta] = E_{p(zeta)}[zeta] (UNAS Eq. 4).
    zeta = distributions.sample_relaxed(LOGITS, 0.4, seed=6, sample_shape=[NUM_DRAWS])
    assert _within_standard_errors(zeta_tilde, tf.reduce_mean(zeta, axis=0), 5.0)


def test_int_seeds_are_reproducible_eagerly_and_in_tf_function():
    eager = distributions.sample_coupled(LOGITS, seed=11, sample_shape=[3])
    again = distributions.sample_coupled(LOGITS, seed=11, sample_shape=[3])
    traced = tf.function(lambda: distributions.sample_coupled(LOGITS, seed=11, sample_shape=[3]))()
    for first, second, third in zip(eager, again, traced, strict=True):
        np.testing.assert_array_equal(first, second)
        np.testing.assert_allclose(first, third, atol=1e-6)
    other = distributions.sample_coupled(LOGITS, seed=12, sample_shape=[3])
    assert not np.array_equal(eager.relaxed, other.relaxed)


def test_architecture_distribution_holds_zero_logit_variables():
    dist = distributions.ArchitectureDistribution(
        {"normal/ops": (4, 2, 7), "normal/inputs_1": (2, 3)}
    )
    assert len(dist.trainable_variables) == 2
    assert dist.logits["normal/ops"].shape == (4, 2, 7)
    z = dist.sample(5, seed=0)
    assert z["normal/inputs_1"].shape == (5, 2, 3)
    assert dist.log_prob(z).shape == (5,)
    dist.logits["normal/inputs_1"].assign([[0.0, 0.0, 3.0], [2.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dist.mode()["normal/inputs_1"], [2, 0])
    coupled = dist.coupled_sample(2, seed=1)
    assert coupled.conditional["normal/ops"].shape == (2, 4, 2, 7)
    assert dist.relaxed_sample(2, seed=1)["normal/ops"].shape == (2, 4, 2, 7)


def test_architecture_distribution_rejects_a_shape_without_choices():
    with pytest.raises(ValueError, match=r"choice_shapes\['bad'\]"):
        distributions.ArchitectureDistribution({"bad": (3, 0)})


def test_masked_choices_are_never_sampled_nor_the_mode_and_carry_no_probability():
    mask = np.array([[True, False, True], [False, True, True]])
    dist = distributions.ArchitectureDistribution({"layers": (2, 3)}, {"layers": mask})
    dist.logits["layers"].assign([[0.0, 5.0, 1.0], [9.0, 0.0, 0.0]])  # masked ones largest
    z = dist.sample(500, seed=3)["layers"].numpy()
    assert not (z * ~mask).any()
    np.testing.assert_array_equal(dist.mode()["layers"], [2, 1])
    relaxed = dist.relaxed_sample(200, seed=4)["layers"].numpy()
    assert (relaxed * ~mask).max() < 1e-3
    probabilities = np.exp(dist.log_prob({"layers": np.eye(3, dtype=np.float32)[[[1, 0]]]}))
    assert float(probabilities[0]) < 1e-6  # a masked choice
    with pytest.raises(ValueError, match="masks for \\['other'\\]"):
        distributions.ArchitectureDistribution({"layers": (2, 3)}, {"other": mask})


def _probabilities(dist, group):
    return tf.nn.softmax(dist.sampling_logits()[group]).numpy()


def test_softening_is_the_released_codes_and_bounds_every_choice():
    eps, k = 0.08, 7
    dist = distributions.ArchitectureDistribution({"ops": (2, k)}, soften_eps=eps)
    phi = np.array([[40.0, 0, 0, 0, 0, 0, 0], [1.0, 2.0, 3.0, 0, 0, 0, 0]], np.float32)
    dist.logits["ops"].assign(phi)
    p = np.exp(phi) / np.exp(phi).sum(-1, keepdims=True)
    np.testing.assert_allclose(
        _probabilities(dist, "ops"), (p + eps) / (1 + k * eps), rtol=1e-5
    )  # released darts/alphas.py: logits log(softmax(alpha) + eps)
    probabilities = _probabilities(dist, "ops")
    assert probabilities.max() <= (1 + eps) / (1 + k * eps) + 1e-6  # 0.69, not ~1
    assert probabilities.min() >= eps / (1 + k * eps) - 1e-6
    np.testing.assert_array_equal(dist.mode()["ops"], [0, 2])  # the argmax is phi's
    with tf.GradientTape() as tape:
        log_p = dist.log_prob({"ops": np.eye(k, dtype=np.float32)[[[0, 1]]]})
    assert np.abs(tape.gradient(log_p, dist.logits["ops"]).numpy()).sum() > 0


def test_softening_keeps_masked_choices_out():
    mask = np.array([[True, False, True]])
    dist = distributions.ArchitectureDistribution(
        {"layers": (1, 3)}, {"layers": mask}, soften_eps=0.08
    )
    dist.logits["layers"].assign([[0.0, 5.0, 3.0]])
    probabilities = _probabilities(dist, "layers")
    assert probabilities[0, 1] < 1e-6
    p = np.exp([0.0, 3.0]) / np.exp([0.0, 3.0]).sum()
    np.testing.assert_allclose(probabilities[0, [0, 2]], (p + 0.08) / (1 + 2 * 0.08), rtol=1e-5)
    with pytest.raises(ValueError, match="`soften_eps`"):
        distributions.ArchitectureDistribution({"layers": (1, 3)}, soften_eps=-0.1)
