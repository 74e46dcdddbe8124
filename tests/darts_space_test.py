"""The DARTS space's measured-latency methods: child network, surrogate features, random cells."""

import ml_collections
import numpy as np
import pytest

from unas_tf import model_size
from unas_tf.latency import measure
from unas_tf.search_spaces import base as search_space_base
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import networks as darts_networks
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

SPACE = search_space_base.get("darts")


def _search_config(num_ops=5):
    return ml_collections.ConfigDict(dict(num_ops=num_ops, stem="cifar", init_channels=4, layers=3))


def test_features_are_the_one_hot_choices_in_the_search_shapes():
    config = _search_config()
    genotype = SPACE.random_search_genotype([0, 1], config)
    features = SPACE.latency_features(genotype)
    shapes = SPACE.choice_shapes(config)
    assert {key: value.shape for key, value in features.items()} == shapes
    for value in features.values():
        np.testing.assert_array_equal(value.sum(axis=-1), 1.0)
    indices = {key: value.argmax(axis=-1) for key, value in features.items()}
    assert SPACE.genotype_from_indices(indices, config) == genotype


def test_features_refuse_a_genotype_of_another_space():
    with pytest.raises(ValueError, match="Expected a DartsGenotype"):
        SPACE.latency_features(proxyless_genotype.random_proxyless(0))


def test_random_search_cells_use_only_the_search_ops_and_follow_the_seed():
    config = _search_config(num_ops=3)
    drawn = [SPACE.random_search_genotype([7, i], config) for i in range(20)]
    assert all(g.ops == darts_genotype.DARTS_OPS[:3] for g in drawn)
    used = {op for g in drawn for node in g.normal + g.reduce for op in node.ops}
    assert used == {0, 1, 2}
    assert SPACE.random_search_genotype([7, 3], config) == drawn[3]
    assert len({g for g in drawn}) > 1


def test_child_network_is_the_evaluation_network_at_the_search_size_without_aux_head():
    config = _search_config()
    settings = SPACE.latency_network_settings(config, num_classes=10, image_size=8)
    genotype = SPACE.random_search_genotype([0, 0], config)
    child = SPACE.latency_network(genotype, settings)
    reference = darts_networks.cifar_network(
        genotype, 10, init_channels=4, layers=3, auxiliary=False, image_size=8
    )
    assert set(child.output) == {"logits"}
    assert tuple(child.inputs[0].shape) == (None, 8, 8, 3)
    assert model_size.count_params(child) == model_size.count_params(reference)
    # Settings are JSON-ready: a measuring process rebuilds the network from them.
    assert settings == {
        "stem": "cifar",
        "num_classes": 10,
        "init_channels": 4,
        "layers": 3,
        "image_size": 8,
    }


def test_a_meter_times_a_darts_child():
    config = _search_config()
    settings = SPACE.latency_network_settings(config, num_classes=10, image_size=8)
    meter = measure.LatencyMeter(
        lambda g: SPACE.latency_network(g, settings), batch_size=2, warmup_runs=1, repeats=2
    )
    measurement = meter.measure(SPACE.random_search_genotype([0, 0], config))
    assert np.isfinite(measurement.median_ms) and measurement.median_ms > 0
