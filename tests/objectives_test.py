"""Objectives: closed forms of Eq. 8, the latency hinge and the architecture penalty."""

import numpy as np
import pytest
import tensorflow as tf

from tests import testing
from unas_tf import distributions, objectives, strategies
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import penalty as darts_penalty


def test_task_loss_is_per_example_cross_entropy():
    logits = tf.constant([[0.0, 0.0], [2.0, 0.0]])
    np.testing.assert_allclose(
        objectives.task_loss(tf.constant([0, 1]), logits),
        [np.log(2.0), np.log(1.0 + np.exp(2.0))],
        rtol=1e-6,
    )


def test_generalization_loss_is_eq_8():
    train, val = tf.constant([1.0, 2.0]), tf.constant([1.5, 1.0])
    np.testing.assert_allclose(
        objectives.generalization_loss(train, val), [1.0 + 0.25, 2.0 + 0.5], rtol=1e-6
    )
    with pytest.raises(ValueError, match="gap_weight"):
        objectives.generalization_loss(train, val, gap_weight=-0.1)


def test_the_two_gap_forms():
    # Gaps d = [0.5, -1.0]: per pair lambda |d_i| = [0.25, 0.5], a batch mean of 0.375; the
    # batch form's lambda |mean d| = 0.5 * 0.25 = 0.125, spread as lambda * sign(-0.25) * d_i.
    train, val = tf.constant([1.0, 2.0]), tf.constant([1.5, 1.0])
    per_pair = objectives.generalization_loss(train, val, 0.5, "per_pair")
    np.testing.assert_allclose(per_pair, [1.25, 2.5], rtol=1e-6)
    assert float(tf.reduce_mean(per_pair)) == pytest.approx(1.5 + 0.375)
    batch = objectives.generalization_loss(train, val, 0.5, "batch")
    np.testing.assert_allclose(batch, [1.0 - 0.25, 2.0 + 0.5], rtol=1e-6)
    assert float(tf.reduce_mean(batch)) == pytest.approx(1.5 + 0.125)


def test_batch_form_has_the_gradient_of_the_batch_means():
    train, val = tf.Variable([1.0, 2.0, 0.5]), tf.Variable([1.5, 1.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        spread = tf.reduce_mean(objectives.generalization_loss(train, val, 0.5, "batch"))
        means = tf.reduce_mean(train) + 0.5 * tf.abs(tf.reduce_mean(val) - tf.reduce_mean(train))
    for variable in (train, val):
        np.testing.assert_allclose(
            tape.gradient(spread, variable), tape.gradient(means, variable), rtol=1e-6
        )


def test_an_unknown_gap_form_is_refused_by_name():
    with pytest.raises(ValueError, match="`gap_form`.*median"):
        objectives.generalization_loss(tf.ones([2]), tf.ones([2]), 0.5, "median")


def test_batch_form_on_two_replicas_is_the_one_device_value():
    # Replica 0's gaps [2, 0] have a positive mean, replica 1's [-1, -0.5] a negative one; the
    # global mean 0.125 is positive, and its sign is the one every replica must use.
    train = tf.ones([4])
    val = tf.constant([3.0, 1.0, 0.0, 0.5])
    one_device = float(tf.reduce_mean(objectives.generalization_loss(train, val, 0.5, "batch")))
    assert one_device == pytest.approx(1.0 + 0.5 * 0.125)
    strategy = testing.two_cpu_strategy()
    parts = strategies.split_global_batch(strategy, {"train": train, "val": val})

    @tf.function
    def run():
        def replica(part):
            values = objectives.generalization_loss(part["train"], part["val"], 0.5, "batch")
            return tf.nn.compute_average_loss(values, global_batch_size=4)

        return strategy.reduce("SUM", strategy.run(replica, args=(parts,)), axis=None)

    assert float(run()) == pytest.approx(one_device)


def test_latency_hinge():
    np.testing.assert_allclose(objectives.latency_hinge(tf.constant([3.0, 7.0]), 5.0), [0.0, 2.0])
    with pytest.raises(ValueError, match="target"):
        objectives.latency_hinge(tf.constant([1.0]), 0.0)


def _one_hot_sample(genotype):
    return {
        key: tf.constant(value[None])
        for key, value in darts_genotype.darts_to_one_hot(genotype).items()
    }


def test_penalty_counts_nodes_that_repeat_an_input_op_pair():
    nodes = [
        darts_genotype.Node((0, 1), (1, 1)),
        darts_genotype.Node((0, 0), (2, 2)),
        darts_genotype.Node((1, 1), (3, 4)),
        darts_genotype.Node((2, 2), (0, 0)),
    ]
    genotype = darts_genotype.DartsGenotype(darts_genotype.DARTS_OPS, tuple(nodes), tuple(nodes))
    # Nodes 1 and 3 repeat (input, op) in both cells: 4 repeats.
    np.testing.assert_allclose(darts_penalty.architecture_penalty(_one_hot_sample(genotype)), [0.8])


def test_penalty_of_relaxed_samples_is_the_trace_of_the_outer_products():
    shapes = darts_genotype.darts_choice_shapes(len(darts_genotype.DARTS_OPS))
    logits = {key: tf.random.stateless_normal(shape, seed=[1, 2]) for key, shape in shapes.items()}
    sample = distributions.sample_relaxed(logits, seed=3, sample_shape=[2])
    expected = np.zeros(2)
    for cell in darts_genotype.DARTS_CELLS:
        ops = sample[f"{cell}/ops"].numpy()
        for node in range(darts_genotype.NUM_NODES):
            inputs = sample[f"{cell}/inputs_{node}"].numpy()
            for s in range(2):
                first = np.outer(inputs[s, 0], ops[s, node, 0])
                second = np.outer(inputs[s, 1], ops[s, node, 1])
                expected[s] += np.trace(first @ second.T)
    np.testing.assert_allclose(
        darts_penalty.architecture_penalty(sample, weight=1.0), expected, rtol=1e-5
    )
