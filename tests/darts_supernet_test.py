"""The supernet given a one-hot sample is the child network, and it runs no op it need not."""

import numpy as np
import pytest
import tensorflow as tf

from unas_tf import distributions, genotypes
from unas_tf.search_spaces import primitives
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import networks as darts_networks
from unas_tf.search_spaces.darts import ops
from unas_tf.search_spaces.darts import supernet as darts_supernet

CHANNELS, LAYERS, CLASSES, BATCH = 4, 3, 5, 2
# Per stem: the child network builder, C, image size.
NETWORKS = {
    "cifar": (darts_networks.cifar_network, CHANNELS, 32),
    "imagenet": (darts_networks.imagenet_network, 8, 64),
}


def _shared(one_hot):
    return {key: tf.constant(value[None]) for key, value in one_hot.items()}


def _images(seed, size, batch=BATCH):
    return tf.random.stateless_normal([batch, size, size, 3], seed=[seed, 0])


def _child_with_supernet_weights(supernet, genotype, stem="cifar"):
    """Builds the child network of `genotype` and copies the supernet's weights into it."""
    build, channels, size = NETWORKS[stem]
    child = build(
        genotype, CLASSES, init_channels=channels, layers=LAYERS, auxiliary=False, image_size=size
    )

    def copy(source_layer, target_layer, groups=1, member=0):
        """Copies across by name; copy `member` of a grouped op's weights (see `ops`)."""
        sources = {variable.name: variable for variable in source_layer.weights}
        for variable in target_layer.weights:
            if variable.name not in sources:  # affine-only gamma / beta keep their identity
                continue
            source = sources[variable.name]
            if groups > 1:
                # The grouped axis is the one G times longer than the stand-alone op's.
                axis = next(
                    axis
                    for axis, (size, target) in enumerate(
                        zip(source.shape, variable.shape, strict=True)
                    )
                    if size != target
                )
                source = primitives.group_member(source, groups, member, axis)
            variable.assign(source)

    # The stems are the same layer class, affine in both: weights pair up in order.
    for source, target in zip(supernet.stem.weights, child.get_layer("stem").weights, strict=True):
        target.assign(source)
    copy(supernet.classifier, child.get_layer("classifier"))
    for index, cell in enumerate(supernet.cells):
        child_cell = child.get_layer(f"cell_{index}")
        copy(cell.preprocess0, child_cell.preprocess0)
        copy(cell.preprocess1, child_cell.preprocess1)
        nodes = genotype.reduce if cell.reduction else genotype.normal
        child_edges = iter(child_cell.edges)
        for node, spec in enumerate(nodes):
            for state, op_index in zip(spec.inputs, spec.ops, strict=True):
                group, states = next(
                    (group, states)
                    for group, states in enumerate(cell.state_groups(node))
                    if state in states
                )
                source = cell.edge_ops[node][group][op_index]
                copy(source, next(child_edges), len(states), state - states[0])
    return child


def _built_supernet(stem):
    _, channels, size = NETWORKS[stem]
    network = darts_supernet.Supernet(CLASSES, channels, LAYERS, stem=stem)
    one_hot = darts_genotype.darts_to_one_hot(darts_genotype.random_darts(0))
    network(_images(0, size), _shared(one_hot), training=False)
    return network


@pytest.fixture(scope="module")
def supernet():
    return _built_supernet("cifar")


@pytest.mark.parametrize("name", ["UNAS_CIFAR10", "random:1"])
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("one_hot", [False, True])
def test_one_hot_shared_sample_equals_child_network(supernet, name, training, one_hot):
    genotype = darts_genotype.random_darts(1) if name.startswith("random") else genotypes.load(name)
    child = _child_with_supernet_weights(supernet, genotype)
    images = _images(2, 32)
    expected = child(images, training=training)["logits"]
    sample = _shared(darts_genotype.darts_to_one_hot(genotype))
    actual = supernet(images, sample, training=training, one_hot=one_hot)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_imagenet_stems_match_the_mobile_child_network():
    supernet = _built_supernet("imagenet")
    genotype = genotypes.load("UNAS_IMAGENET")
    child = _child_with_supernet_weights(supernet, genotype, stem="imagenet")
    images = _images(3, 64)
    expected = child(images, training=False)["logits"]
    actual = supernet(images, _shared(darts_genotype.darts_to_one_hot(genotype)), training=False)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_per_example_samples_run_each_example_through_its_own_architecture(supernet):
    architectures = [darts_genotype.random_darts(seed) for seed in (4, 5)]
    one_hots = [darts_genotype.darts_to_one_hot(genotype) for genotype in architectures]
    per_example = {key: tf.constant(np.stack([o[key] for o in one_hots])) for key in one_hots[0]}
    images = _images(6, 32)
    actual = supernet(images, per_example, training=False)
    for example, genotype in enumerate(architectures):
        child = _child_with_supernet_weights(supernet, genotype)
        expected = child(images[example : example + 1], training=False)["logits"]
        np.testing.assert_allclose(actual[example : example + 1], expected, atol=1e-5)


def _record_op_calls(supernet):
    """Wraps every op layer to record its eager calls (eager control flow runs one branch).

    A call records (cell kind, node, first state of the layer, op, number of states it ran on).
    """
    calls = []
    for cell in supernet.cells:
        kind = "reduce" if cell.reduction else "normal"
        for node, node_ops in enumerate(cell.edge_ops):
            for states, group_ops in zip(cell.state_groups(node), node_ops, strict=True):
                for op_index, op in enumerate(group_ops):

                    def recorded(
                        inputs,
                        *args,
                        _call=op.call,
                        _key=(kind, node, states[0], op_index),
                        _channels=cell.channels,
                        **kwargs,
                    ):
                        calls.append((*_key, inputs.shape[-1] // _channels))
                        return _call(inputs, *args, **kwargs)

                    op.call = recorded
    return calls


def _selected_edges(one_hots, kinds):
    """The (cell kind, node, input state, op) edges that some architecture uses."""
    edges = set()
    for one_hot in one_hots:
        for kind in kinds:
            for node in range(darts_genotype.NUM_NODES):
                inputs = one_hot[f"{kind}/inputs_{node}"].argmax(-1)
                ops_ = one_hot[f"{kind}/ops"][node].argmax(-1)
                edges.update(
                    (kind, node, int(s), int(o)) for s, o in zip(inputs, ops_, strict=True)
                )
    return edges


def _layer_of(kind, node, state):
    """(first state, number of states) of the layer serving `state`: a reduction cell's inputs
    (read at stride 2) and its nodes have separate layers."""
    if kind == "reduce":
        return (0, 2) if state < 2 else (2, node)
    return 0, node + 2


def test_only_selected_edge_ops_run():
    supernet = _built_supernet("cifar")
    calls = _record_op_calls(supernet)
    one_hots = [
        darts_genotype.darts_to_one_hot(darts_genotype.random_darts(seed)) for seed in (7, 8)
    ]
    kinds = {"reduce" if cell.reduction else "normal" for cell in supernet.cells}
    cells_of = {
        kind: sum(c.reduction == (kind == "reduce") for c in supernet.cells) for kind in kinds
    }

    # Shared: each selected edge runs alone, on its one state, once per cell of its kind.
    supernet(_images(9, 32), _shared(one_hots[0]), training=False)
    expected = [
        (kind, node, _layer_of(kind, node, state)[0], op, 1)
        for kind, node, state, op in _selected_edges(one_hots[:1], kinds)
        for _ in range(cells_of[kind])
    ]
    assert sorted(calls) == sorted(expected)

    # Per example: a layer runs, on all its states at once, iff some example selected it.
    calls.clear()
    per_example = {key: tf.constant(np.stack([o[key] for o in one_hots])) for key in one_hots[0]}
    supernet(_images(9, 32), per_example, training=False)
    expected = {
        (kind, node, *_layer_of(kind, node, state), op)
        for kind, node, state, op in _selected_edges(one_hots, kinds)
    }
    expected = [(kind, node, first, op, size) for kind, node, first, size, op in expected]
    assert sorted(calls) == sorted(key for key in expected for _ in range(cells_of[key[0]]))


def test_relaxed_weights_below_threshold_are_skipped_exactly(supernet):
    shapes = darts_genotype.darts_choice_shapes(len(darts_genotype.DARTS_OPS))
    rng = np.random.default_rng(10)
    sample = {}
    for key, shape in shapes.items():
        if key.endswith("/ops"):
            # Most mass on two ops, 0.01 on the rest: those edges stay below 0.05 everywhere.
            values = np.full(shape, 0.01, np.float32)
            chosen = rng.integers(0, shape[-1], size=shape[:-1])
            np.put_along_axis(values, chosen[..., None], 0.95, axis=-1)
        else:
            # The two input selectors pick different states, so no edge adds up both weights.
            values = np.zeros(shape, np.float32)
            values[0, 0] = values[1, 1] = 1.0
        sample[key] = values[None]
    zeroed = {key: np.where(value < 0.05, 0.0, value) for key, value in sample.items()}
    images = _images(11, 32)
    skipping = supernet(images, {k: tf.constant(v) for k, v in sample.items()})
    for cell in supernet.cells:
        cell.skip_threshold = 0.0
    try:
        exact = supernet(images, {k: tf.constant(v) for k, v in zeroed.items()})
        everything = supernet(images, {k: tf.constant(v) for k, v in sample.items()})
    finally:
        for cell in supernet.cells:
            cell.skip_threshold = darts_supernet.DEFAULT_SKIP_THRESHOLD
    np.testing.assert_allclose(skipping, exact, atol=1e-5)
    assert not np.allclose(skipping, everything, atol=1e-5)


def test_dense_path_equals_the_skipping_path_when_nothing_is_skipped(supernet):
    shapes = darts_genotype.darts_choice_shapes(len(darts_genotype.DARTS_OPS))
    logits = {key: tf.random.stateless_normal(shape, seed=[12, 0]) for key, shape in shapes.items()}
    relaxed = distributions.sample_relaxed(logits, seed=13, sample_shape=[BATCH])
    images = _images(14, 32)
    dense = supernet(images, relaxed, training=False, skip_inactive=False)
    for cell in supernet.cells:
        cell.skip_threshold = -1.0  # every op layer runs
    try:
        skipping = supernet(images, relaxed, training=False)
    finally:
        for cell in supernet.cells:
            cell.skip_threshold = darts_supernet.DEFAULT_SKIP_THRESHOLD
    np.testing.assert_allclose(dense, skipping, atol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda groups: ops.SepConv(6, 3, stride=2, affine=False, groups=groups),
        lambda groups: ops.DilConv(6, 3, stride=1, affine=False, groups=groups),
        lambda groups: ops.FactorizedReduce(6, affine=False, groups=groups),
    ],
    ids=["sep_conv", "dil_conv", "factorized_reduce"],
)
def test_grouped_op_equals_its_copies_with_gradients(make):
    """The dense path's one call on concatenated states == each state through its own copy."""
    groups, channels = 3, 4
    op = make(groups)
    x = tf.random.stateless_normal([2, 9, 9, groups * channels], seed=[15, 0])
    op.build(x.shape)

    @tf.function
    def outputs_and_gradients(x, per_copy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if per_copy:
                parts = tf.split(x, groups, axis=-1)
                y = tf.concat(
                    [op(part, training=True, member=i) for i, part in enumerate(parts)], axis=-1
                )
            else:
                y = op(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        return y, tape.gradient(loss, [x, *op.trainable_weights])

    statistics = op.non_trainable_weights
    initial = [variable.numpy() for variable in statistics]
    grouped, grouped_gradients = outputs_and_gradients(x, per_copy=False)
    grouped_statistics = [variable.numpy() for variable in statistics]
    for variable, value in zip(statistics, initial, strict=True):
        variable.assign(value)
    copies, copies_gradients = outputs_and_gradients(x, per_copy=True)
    np.testing.assert_allclose(grouped, copies, atol=1e-5)
    for grouped_value, variable in zip(grouped_statistics, statistics, strict=True):
        np.testing.assert_allclose(grouped_value, variable.numpy(), atol=1e-5)
    for grouped_gradient, copy_gradient in zip(grouped_gradients, copies_gradients, strict=True):
        np.testing.assert_allclose(grouped_gradient, copy_gradient, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_build_from_the_image_shape_makes_every_weight_of_a_call_without_warnings(
    stem, recwarn, caplog
):
    _, channels, size = NETWORKS[stem]
    sample = distributions.ArchitectureDistribution(darts_genotype.darts_choice_shapes(2)).sample(
        1, seed=0
    )

    def weights(supernet):
        return [(w.path.split("/", 1)[1], w.shape) for w in supernet.weights]

    called = darts_supernet.Supernet(
        CLASSES, channels, LAYERS, darts_genotype.DARTS_OPS[:2], stem=stem
    )
    with caplog.at_level("WARNING", logger="tensorflow"):
        called(_images(0, size), sample)  # eager, as the search builds its supernet
    built = darts_supernet.Supernet(
        CLASSES, channels, LAYERS, darts_genotype.DARTS_OPS[:2], stem=stem
    )
    built.build((BATCH, size, size, 3))
    assert weights(built) == weights(called)
    # Keras warns when it has to trace `call` to build the layer; TensorFlow warns of retracing
    # when eager calls make a function per call (`_run_copy`).
    assert not [str(warning.message) for warning in recwarn if warning.category is UserWarning]
    assert "retracing" not in caplog.text
