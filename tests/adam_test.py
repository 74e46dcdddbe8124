"""The fused Adam: PyTorch's update to float32 precision, eagerly, traced and mirrored."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import testing
from unas_tf import adam

STEPS = 4


def _pytorch_adam(weights, gradients, learning_rates, beta_1=0.9, beta_2=0.999, eps=1e-8):
    """torch.optim.Adam's update (weight_decay 0), step by step, in float64."""
    w = np.array(weights, np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(gradients, learning_rates, strict=True), start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        denominator = np.sqrt(v) / np.sqrt(1 - beta_2**t) + eps
        w = w - lr / (1 - beta_1**t) * m / denominator
    return w


def _problem():
    rng = np.random.default_rng(0)
    start = [rng.normal(size=[3, 2]), rng.normal(size=[5])]
    # Tiny gradients too, where the place of epsilon decides the step.
    gradients = [
        [rng.normal(size=w.shape) * scale for w in start] for scale in (1.0, 1e-6, 1e-9, 0.1)
    ]
    return start, gradients


def _run(optimizer, start, gradients, traced):
    variables = [tf.Variable(w, dtype=tf.float32) for w in start]
    optimizer.build(variables)

    def apply(step_gradients):
        optimizer.apply(step_gradients, variables)

    if traced:
        apply = tf.function(apply, autograph=False)
    for step_gradients in gradients:
        apply([tf.constant(g, tf.float32) for g in step_gradients])
    return [w.numpy() for w in variables]


@pytest.mark.parametrize("traced", [False, True])
def test_matches_pytorch_adam_with_a_schedule(traced):
    start, gradients = _problem()
    schedule = keras.optimizers.schedules.CosineDecay(0.01, STEPS, alpha=0.1)
    rates = [float(schedule(step)) for step in range(STEPS)]
    got = _run(adam.Adam(schedule, beta_1=0.5), start, gradients, traced)
    for index, w in enumerate(got):
        want = _pytorch_adam(start[index], [g[index] for g in gradients], rates, beta_1=0.5)
        np.testing.assert_allclose(w, want, rtol=1e-5, atol=1e-6)


def test_epsilon_after_bias_correction_unlike_keras():
    # With gradients near epsilon, Keras's placement moves the weights measurably less.
    start = [np.zeros([4])]
    gradients = [[np.full([4], 1e-8)]] * 2
    fused = _run(adam.Adam(1.0), start, gradients, traced=False)[0]
    want = _pytorch_adam(start[0], [g[0] for g in gradients], [1.0, 1.0])
    np.testing.assert_allclose(fused, want, rtol=1e-5)
    keras_adam = _run(keras.optimizers.Adam(1.0, epsilon=1e-8), start, gradients, traced=False)
    assert not np.allclose(keras_adam[0], want, rtol=1e-2)


def test_mirrored_update_equals_one_device():
    start, gradients = _problem()
    want = _run(adam.Adam(0.01), start, gradients, traced=True)
    strategy = testing.two_cpu_strategy()
    with strategy.scope():
        variables = [tf.Variable(w, dtype=tf.float32) for w in start]
        optimizer = adam.Adam(0.01)
        optimizer.build(variables)

    @tf.function(autograph=False)
    def apply(step_gradients):
        # Each replica adds half of the gradient; the optimizer sums the replicas'.
        strategy.run(
            lambda: optimizer.apply(
                [g / strategy.num_replicas_in_sync for g in step_gradients], variables
            )
        )

    for step_gradients in gradients:
        apply([tf.constant(g, tf.float32) for g in step_gradients])
    for w, expected in zip(variables, want, strict=True):
        for component in strategy.experimental_local_results(w):
            np.testing.assert_allclose(component.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_checkpoint_of_keras_adam_restores(tmp_path):
    # Keras's Adam's checkpoints restore into this one: same variables, same names.
    start, gradients = _problem()
    variables = [tf.Variable(w, dtype=tf.float32) for w in start]
    before = keras.optimizers.Adam(0.01)
    before.build(variables)
    before.apply([tf.constant(g, tf.float32) for g in gradients[0]], variables)
    path = tf.train.Checkpoint(optimizer=before).write(str(tmp_path / "ckpt"))
    after = adam.Adam(0.01)
    after.build(variables)
    tf.train.Checkpoint(optimizer=after).read(path).assert_nontrivial_match()
    assert int(after.iterations.numpy()) == 1
    *restored, moments_start = after.variables
    for variable, saved in zip(restored, before.variables, strict=True):
        np.testing.assert_array_equal(variable.numpy(), saved.numpy())
    # Only the reset counter, which Keras's Adam lacks, is new: never reset.
    assert (moments_start.name, int(moments_start.numpy())) == ("moments_start", 0)


def test_reset_moments_is_a_fresh_adam_on_the_same_schedule():
    start, gradients = _problem()
    schedule = keras.optimizers.schedules.CosineDecay(0.01, STEPS, alpha=0.1)
    rates = [float(schedule(step)) for step in range(STEPS)]
    optimizer = adam.Adam(schedule)
    variables = [tf.Variable(w, dtype=tf.float32) for w in start]
    optimizer.build(variables)
    for step_gradients in gradients[:2]:
        optimizer.apply([tf.constant(g, tf.float32) for g in step_gradients], variables)
    middle = [w.numpy() for w in variables]
    optimizer.reset_moments()
    for step_gradients in gradients[2:]:
        optimizer.apply([tf.constant(g, tf.float32) for g in step_gradients], variables)
    # From the reset on, PyTorch's Adam started afresh at `middle`, on the schedule's rates 2, 3.
    for index, w in enumerate(variables):
        want = _pytorch_adam(middle[index], [g[index] for g in gradients[2:]], rates[2:])
        np.testing.assert_allclose(w.numpy(), want, rtol=1e-5, atol=1e-6)
    assert int(optimizer.iterations.numpy()) == STEPS


def test_amsgrad_is_refused():
    with pytest.raises(ValueError, match="amsgrad"):
        adam.Adam(amsgrad=True)
