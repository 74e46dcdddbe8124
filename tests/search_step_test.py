"""The search step: which parameters each phase moves, and bad settings."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from unas_tf import distributions, estimators, objectives, search_step
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import penalty as darts_penalty
from unas_tf.search_spaces.darts import supernet as darts_supernet

# Two ops and one cell keep the traced step small; batch 4 of 8x8 images.
OPS = darts_genotype.DARTS_OPS[:2]
BATCH = 4


def _batch(seed):
    return {
        "image": tf.random.stateless_normal([BATCH, 8, 8, 3], seed=[seed, 0]),
        "label": tf.random.stateless_uniform([BATCH], [seed, 1], maxval=5, dtype=tf.int32),
    }


def _trainer(estimator, optimizers=None, **settings):
    supernet = darts_supernet.Supernet(5, 4, 1, op_names=OPS)
    distribution = distributions.ArchitectureDistribution(
        darts_genotype.darts_choice_shapes(len(OPS))
    )
    supernet(_batch(0)["image"], distribution.sample(1, seed=0))
    weight_optimizer, arch_optimizer = optimizers or (
        keras.optimizers.Adam(1e-2),
        keras.optimizers.Adam(1e-1),
    )
    return search_step.SearchTrainer(
        supernet,
        distribution,
        estimator,
        weight_optimizer,
        arch_optimizer,
        search_step.SearchSettings(global_batch_size=BATCH, **settings),
        seed=0,
        architecture_penalty=darts_penalty.architecture_penalty,
    )


def _snapshot(variables):
    return [v.numpy().copy() for v in variables]


def _moved(before, variables):
    return any(not np.allclose(b, v.numpy()) for b, v in zip(before, variables, strict=True))


@pytest.fixture(scope="module")
def rebar_trainer():
    search = _trainer(estimators.create("rebar"))
    steps = {flag: search.step_function(flag) for flag in (True, False)}
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


def _numpy_adam_first_step(variable, gradient, optimizer):
    """Keras's (and PyTorch's) Adam after one step from zero moments, in NumPy."""
    lr, beta_1, beta_2 = float(optimizer.learning_rate), optimizer.beta_1, optimizer.beta_2
    m, v = (1 - beta_1) * gradient, (1 - beta_2) * gradient**2
    return variable - lr * np.sqrt(1 - beta_2) / (1 - beta_1) * m / (np.sqrt(v) + optimizer.epsilon)


def _numpy_clip(gradients, clip_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in gradients))
    return [g * min(1.0, clip_norm / norm) for g in gradients]


def test_weight_decay_is_l2_added_to_the_gradient_before_adam():
    # PyTorch's Adam(weight_decay=wd), as the released code uses: w's gradient is clipped,
    # then wd * w is added, then the Adam moments; phi's gradient gets wd_phi * phi. A large
    # epsilon keeps the first Adam step sensitive to the gradient's size, not only its sign.
    wd, arch_wd, clip_norm = 0.5, 0.3, 0.05
    optimizers = (
        keras.optimizers.Adam(1e-2, epsilon=1e-2),
        keras.optimizers.Adam(1e-1, epsilon=1e-2),
    )
    search = _trainer(
        estimators.create("gumbel_softmax"),
        optimizers,
        weight_decay=wd,
        arch_weight_decay=arch_wd,
        grad_clip_norm=clip_norm,
    )
    phi = [search.distribution.logits[key] for key in sorted(search.distribution.logits)]
    for index, variable in enumerate(phi):
        variable.assign(tf.random.stateless_normal(variable.shape, seed=[index, 7]))
    train, val = _batch(1), _batch(2)

    # Warm-up step: w alone, on the gradient the step draws (seeded by the step counter).
    weights = search.supernet.trainable_weights
    before = _snapshot(weights)
    gradients = [g.numpy() for g in search.weight_gradients(train, replica_id=0)[0]]
    clipped = _numpy_clip(gradients, clip_norm)
    assert np.sqrt(sum(np.sum(g**2) for g in gradients)) > clip_norm  # the clip acts
    search.train_step(train, val, update_architecture=False)
    decay_effect = 0.0
    for variable, w, g in zip(weights, before, clipped, strict=True):
        expected = _numpy_adam_first_step(w, g + wd * w, optimizers[0])
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)
        without_decay = _numpy_adam_first_step(w, g, optimizers[0])
        decay_effect = max(decay_effect, np.abs(expected - without_decay).max())
    assert decay_effect > 1e-3  # the comparison sees the L2 term

    # Search step: phi's first Adam step on its gradient + arch_wd * phi.
    before = _snapshot(phi)
    gradients = [g.numpy() for g in search.architecture_gradients(train, val, replica_id=0)[0]]
    search.train_step(train, val, update_architecture=True)
    decay_effect = 0.0
    for variable, value, g in zip(phi, before, gradients, strict=True):
        expected = _numpy_adam_first_step(value, g + arch_wd * value, optimizers[1])
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)
        without_decay = _numpy_adam_first_step(value, g, optimizers[1])
        decay_effect = max(decay_effect, np.abs(expected - without_decay).max())
    assert decay_effect > 1e-3


@pytest.mark.parametrize("gap_form", ["per_pair", "batch"])
def test_architecture_loss_uses_the_gap_form(gap_form):
    # The per-example losses average to L_train + lambda * gap, where the gap is the batch mean
    # of |L_val_i - L_train_i| ("per_pair") or |mean L_val - mean L_train| ("batch").
    search = _trainer(estimators.create("gumbel_softmax"), gap_form=gap_form)
    train, val = _batch(1), _batch(2)
    sample = distributions.sample_discrete(search.logits(), seed=[0, 1], sample_shape=[BATCH])
    record = {}
    losses = search.architecture_loss_fn(train, val, one_hot=True, record=record)(sample)
    penalty = darts_penalty.architecture_penalty(sample, search.settings.arch_penalty_weight)
    train_losses, val_losses = (
        objectives.task_loss(batch["label"], search._forward(batch["image"], sample, True))
        for batch in (train, val)
    )
    if gap_form == "per_pair":
        gap = np.mean(np.abs(val_losses - train_losses))
    else:
        gap = abs(float(record["val_loss"]) - float(record["train_loss"]))
    expected = float(record["train_loss"]) + search.settings.gap_weight * gap
    assert float(tf.reduce_mean(losses - penalty)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("objective", "test"),
        ("sampling", "per_epoch"),
        ("gap_weight", -1.0),
        ("temperature", 0.0),
        ("global_batch_size", 0),
        ("gap_form", "median"),
        ("weight_sample", "gumbel"),
        ("weight_decay", -1e-4),
        ("arch_weight_decay", -1e-6),
    ],
)
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"`{field}`"):
        search_step.SearchSettings(**{field: value})


def test_total_variance_of_sum_is_unbiased():
    # 20k draws of S = 4 contributions in 3 dimensions, each coordinate of variance 0.25:
    # tr Cov of the sum is 4 * 3 * 0.25 = 3.
    contributions = tf.random.stateless_normal([20_000, 4, 3], seed=[0, 1]) * 0.5
    estimates = tf.vectorized_map(search_step.total_variance_of_sum, contributions)
    mean = float(tf.reduce_mean(estimates))
    standard_error = float(tf.math.reduce_std(estimates)) / np.sqrt(20_000)
    assert abs(mean - 3.0) < 4 * standard_error


def test_evaluation_scores_the_argmax_architecture(rebar_trainer):
    search, _ = rebar_trainer
    metrics = search.evaluate_step(_batch(5))
    assert set(metrics) == {"loss", "accuracy"}
    assert np.isfinite(float(metrics["loss"])) and 0 <= float(metrics["accuracy"]) <= 1


def _selected_and_other_op_layers(supernet, sample):
    """The op layers of a shared one-hot sample's edges, and the supernet's other op layers."""
    selected, others = [], []
    for cell in supernet.cells:
        kind = "reduce" if cell.reduction else "normal"
        for node, node_ops in enumerate(cell.edge_ops):
            edges = [
                (
                    int(tf.argmax(sample[f"{kind}/inputs_{node}"][0, j])),
                    int(tf.argmax(sample[f"{kind}/ops"][0, node, j])),
                )
                for j in range(2)
            ]
            for states, group_ops in zip(cell.state_groups(node), node_ops, strict=True):
                for op, layer in enumerate(group_ops):
                    chosen = any(state in states and k == op for state, k in edges)
                    (selected if chosen else others).append(layer)
    return selected, others


@pytest.fixture(scope="module")
def shared_discrete_trainer():
    """REINFORCE, one one-hot architecture per batch for phi and for w: one forward trace."""
    return _trainer(estimators.create("reinforce"), sampling="per_batch", weight_sample="discrete")


def test_discrete_weight_step_trains_the_selected_ops_of_a_shared_sample(shared_discrete_trainer):
    # UNAS Eq. 7 on one architecture for the batch: the gradient of the child network's loss,
    # here the dense supernet with the same one-hot weights (unselected edges weigh 0), and
    # zero for the ops the sample leaves out, which the step does not run.
    search = shared_discrete_trainer
    train = _batch(1)
    gradients, _, logits = search.weight_gradients(train, replica_id=0)
    sample = search.weight_step_sample(replica_id=0, num_samples=1)
    weights = search.supernet.trainable_weights
    with tf.GradientTape() as tape:
        expected_logits = search.supernet(
            train["image"], sample, training=True, skip_inactive=False
        )
        loss = tf.nn.compute_average_loss(
            objectives.task_loss(train["label"], expected_logits), global_batch_size=BATCH
        )
    expected = tape.gradient(loss, weights, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-6)
    for weight, gradient, want in zip(weights, gradients, expected, strict=True):
        np.testing.assert_allclose(gradient, want, rtol=1e-4, atol=1e-7, err_msg=weight.path)

    selected, others = _selected_and_other_op_layers(search.supernet, sample)
    gradient_of = {id(w): g.numpy() for w, g in zip(weights, gradients, strict=True)}
    unused = [w for layer in others for w in layer.trainable_weights]
    used = [w for layer in selected for w in layer.trainable_weights]
    assert unused and used  # the sample leaves out ops with weights and selects some
    assert all(not gradient_of[id(w)].any() for w in unused)
    assert any(gradient_of[id(w)].any() for w in used)


def test_discrete_weight_sample_is_one_hot_and_distributed_as_phi():
    search = _trainer(estimators.create("gumbel_softmax"), weight_sample="discrete")
    for index, variable in enumerate(search.distribution.trainable_variables):
        variable.assign(2.0 * tf.random.stateless_normal(variable.shape, seed=[index, 3]))
    draws = 4000
    sample = search.weight_step_sample(replica_id=0, num_samples=draws)
    for key, logits in search.logits().items():
        z = sample[key].numpy()
        assert np.all((z == 0) | (z == 1)) and np.all(z.sum(-1) == 1), key
        probabilities = tf.nn.softmax(logits).numpy()
        standard_error = np.sqrt(probabilities * (1 - probabilities) / draws)
        assert np.all(np.abs(z.mean(0) - probabilities) <= 4 * standard_error + 1e-6), key
    # The step's weight seed: the same sample within a step, another at the next.
    again = search.weight_step_sample(replica_id=0, num_samples=draws)
    assert all(np.array_equal(sample[key], again[key]) for key in sample)
    search.step.assign_add(1)
    later = search.weight_step_sample(replica_id=0, num_samples=draws)
    assert not all(np.array_equal(sample[key], later[key]) for key in sample)


def test_relaxed_weight_sample_is_the_default_and_trains_on_a_fresh_zeta():
    # The recipe the weight step has always had: zeta ~ RelaxedOneHotCategorical with the
    # step's weight seed, one per example, through the dense forward; bit for bit.
    assert search_step.SearchSettings().weight_sample == "relaxed"
    search = _trainer(estimators.create("gumbel_softmax"))
    train = _batch(1)
    gradients, _, _ = search.weight_gradients(train, replica_id=0)
    zeta = distributions.sample_relaxed(
        search.logits(),
        search.settings.temperature,
        search._step_seeds(0)[1],
        sample_shape=[BATCH],
    )
    weights = search.supernet.trainable_weights
    with tf.GradientTape() as tape:
        per_example = objectives.task_loss(
            train["label"], search._dense_forward(train["image"], zeta)
        )
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=BATCH)
    for weight, gradient, want in zip(
        weights, gradients, tape.gradient(loss, weights), strict=True
    ):
        np.testing.assert_array_equal(gradient, want, err_msg=weight.path)


@pytest.mark.slow
def test_a_shared_discrete_step_runs_one_forward_trace_and_moves_only_the_selected_ops(
    shared_discrete_trainer,
):
    # REINFORCE's losses and the weights' gradient both run the shared one-hot forward: one
    # trace, differentiated for the weights; no dense forward. Adam's first step from zero
    # moments moves exactly the weights with a non-zero gradient (no weight decay here).
    search = shared_discrete_trainer
    sample = search.weight_step_sample(replica_id=0, num_samples=1)
    phi = _snapshot(search.distribution.trainable_variables)
    selected, others = _selected_and_other_op_layers(search.supernet, sample)
    unused = [w for layer in others for w in layer.trainable_weights]
    before = _snapshot(unused)
    weights = _snapshot(search.supernet.trainable_weights)
    metrics = search.step_function(True)(_batch(1), _batch(2))
    assert all(np.isfinite(float(value)) for value in metrics.values())
    assert _moved(phi, search.distribution.trainable_variables)
    assert _moved(weights, search.supernet.trainable_weights)
    assert unused and not _moved(before, unused)
    assert search._shared_one_hot_forward.experimental_get_tracing_count() == 1
    assert search._dense_forward.experimental_get_tracing_count() == 0
