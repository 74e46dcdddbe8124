"""The supernet given a one-hot sample is the child network of that genotype."""

import numpy as np
import pytest
import tensorflow as tf

from unas_tf import genotypes
from unas_tf.search_spaces import darts_networks, darts_supernet

CHANNELS, LAYERS, CLASSES, BATCH = 4, 3, 5, 2


def _shared(one_hot):
    return {key: tf.constant(value[None]) for key, value in one_hot.items()}


def _child_with_supernet_weights(supernet, genotype):
    """Builds the child network of `genotype` and copies the supernet's weights into it."""
    child = darts_networks.cifar_network(
        genotype, CLASSES, init_channels=CHANNELS, layers=LAYERS, auxiliary=False
    )

    def copy(source_layer, target_layer):
        sources = {variable.name: variable for variable in source_layer.weights}
        for variable in target_layer.weights:
            if variable.name in sources:  # affine-only gamma / beta keep their identity values
                variable.assign(sources[variable.name])

    copy(supernet.stem, child.get_layer("stem"))
    copy(supernet.classifier, child.get_layer("classifier"))
    for index, cell in enumerate(supernet.cells):
        child_cell = child.get_layer(f"cell_{index}")
        copy(cell.preprocess0, child_cell.preprocess0)
        copy(cell.preprocess1, child_cell.preprocess1)
        nodes = genotype.reduce if cell.reduction else genotype.normal
        child_edges = iter(child_cell.edges)
        for node, spec in enumerate(nodes):
            for state, op_index in zip(spec.inputs, spec.ops, strict=True):
                copy(cell.edges[node][state][op_index], next(child_edges))
    return child


@pytest.fixture(scope="module")
def supernet():
    network = darts_supernet.CifarSupernet(CLASSES, CHANNELS, LAYERS)
    images = tf.random.stateless_normal([BATCH, 32, 32, 3], seed=[0, 1])
    one_hot = genotypes.darts_to_one_hot(genotypes.random_darts(0))
    network(images, _shared(one_hot), training=False)
    return network


@pytest.mark.parametrize("name", ["UNAS_CIFAR10", "random:1"])
@pytest.mark.parametrize("training", [False, True])
def test_one_hot_shared_sample_equals_child_network(supernet, name, training):
    genotype = genotypes.random_darts(1) if name.startswith("random") else genotypes.load(name)
    child = _child_with_supernet_weights(supernet, genotype)
    images = tf.random.stateless_normal([BATCH, 32, 32, 3], seed=[2, 3])
    expected = child(images, training=training)["logits"]
    actual = supernet(images, _shared(genotypes.darts_to_one_hot(genotype)), training=training)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_per_example_samples_run_each_example_through_its_own_architecture(supernet):
    architectures = [genotypes.random_darts(seed) for seed in (4, 5)]
    one_hots = [genotypes.darts_to_one_hot(genotype) for genotype in architectures]
    per_example = {key: tf.constant(np.stack([o[key] for o in one_hots])) for key in one_hots[0]}
    images = tf.random.stateless_normal([2, 32, 32, 3], seed=[6, 7])
    actual = supernet(images, per_example, training=False)
    for example, genotype in enumerate(architectures):
        child = _child_with_supernet_weights(supernet, genotype)
        expected = child(images[example : example + 1], training=False)["logits"]
        np.testing.assert_allclose(actual[example : example + 1], expected, atol=1e-5)


def test_relaxed_sample_is_the_weighted_mixture_of_edges(supernet):
    shapes = genotypes.darts_choice_shapes(len(genotypes.DARTS_OPS))
    uniform = {key: tf.fill([1, *shape], 1.0 / shape[-1]) for key, shape in shapes.items()}
    images = tf.random.stateless_normal([BATCH, 32, 32, 3], seed=[8, 9])
    logits = supernet(images, uniform, training=False)
    assert logits.shape == (BATCH, CLASSES)
    assert np.all(np.isfinite(logits))
    one_hot = supernet(images, _shared(genotypes.darts_to_one_hot(genotypes.random_darts(2))))
    assert not np.allclose(logits, one_hot)
