"""A new search space is one file: a toy space defined here alone is searched, retrained, exported.

The toy space is a chain of 3 dense layers, each an identity or a ReLU dense layer. Nothing in
the library knows it: the search loop, retraining, genotype files, export and the launchers'
helpers find it through the registry.
"""

import dataclasses
import json
from typing import ClassVar

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs.eval import digits as eval_digits
from configs.search import digits as search_digits
from unas_tf import export_lib, genotypes, retrain_run, search_run
from unas_tf.search_spaces import base

CHAIN_OPS = ("identity", "dense_relu")
CHAIN_LAYERS = 3
WIDTH = 8


@dataclasses.dataclass(frozen=True)
class ChainGenotype:
    """One op index per layer of the chain."""

    ops: tuple
    layers: tuple
    space: ClassVar[str] = "toy_chain"


class ChainSupernet(keras.layers.Layer):
    """Flatten, a dense stem, 3 mixed layers (the weighted sum of both ops), a dense head."""

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.stem = keras.layers.Dense(WIDTH, activation="relu")
        self.candidates = [
            keras.layers.Dense(WIDTH, activation="relu") for _ in range(CHAIN_LAYERS)
        ]
        self.head = keras.layers.Dense(num_classes)

    def call(self, images, sample, training=False, skip_inactive=True, one_hot=False):
        del training, skip_inactive, one_hot  # no batch statistics; every candidate is computed
        hidden = self.stem(keras.ops.reshape(images, [keras.ops.shape(images)[0], -1]))
        weights = sample["layers"]  # [S, layers, 2], S = 1 or the batch
        for layer, candidate in enumerate(self.candidates):
            hidden = weights[:, layer, 0:1] * hidden + weights[:, layer, 1:2] * candidate(hidden)
        return self.head(hidden)


class ChainSpace(base.SearchSpace):
    name = ChainGenotype.space
    networks = ("toy_chain",)

    def choice_shapes(self, config):
        return {"layers": (CHAIN_LAYERS, len(CHAIN_OPS))}

    def build_supernet(self, config, num_classes):
        return ChainSupernet(num_classes)

    def genotype_from_indices(self, indices, config):
        return ChainGenotype(ops=CHAIN_OPS, layers=tuple(int(i) for i in indices["layers"]))

    def describe(self, genotype):
        return ["  chain: " + ", ".join(genotype.ops[op] for op in genotype.layers)]

    def genotype_to_dict(self, genotype):
        return {"ops": list(genotype.ops), "layers": list(genotype.layers)}

    def genotype_from_dict(self, data):
        return ChainGenotype(ops=tuple(data["ops"]), layers=tuple(data["layers"]))

    def random_genotype(self, seed, config):
        rng = np.random.default_rng(seed)
        return ChainGenotype(CHAIN_OPS, tuple(rng.integers(0, 2, CHAIN_LAYERS).tolist()))

    def build_network(self, genotype, config):
        images = keras.Input([config.image_size, config.image_size, 3])
        hidden = keras.layers.Dense(WIDTH, activation="relu")(keras.layers.Flatten()(images))
        for op in genotype.layers:
            if CHAIN_OPS[op] == "dense_relu":
                hidden = keras.layers.Dense(WIDTH, activation="relu")(hidden)
        logits = keras.layers.Dense(config.num_classes)(hidden)
        return keras.Model(images, {"logits": logits})


@pytest.fixture
def chain_space():
    base.register(ChainSpace)
    yield base.get(ChainSpace.name)
    base.unregister(ChainSpace.name)


def test_the_built_in_spaces_are_registered_by_name():
    assert {"darts", "proxyless"} <= set(base.names())
    assert base.for_network("cifar").name == "darts"
    with pytest.raises(ValueError, match="config.space: unknown search space 'nasnet'"):
        base.get("nasnet")
    with pytest.raises(ValueError, match="config.network: unknown 'resnet'"):
        base.for_network("resnet")


def test_a_genotype_of_a_registered_space_round_trips_through_json(chain_space, tmp_path):
    genotype = chain_space.random_genotype(3, None)
    genotypes.save(genotype, tmp_path / "chain.json")
    assert genotypes.load(tmp_path / "chain.json", expected_space="toy_chain") == genotype
    with pytest.raises(ValueError, match="space: expected 'darts', got 'toy_chain'"):
        genotypes.load(tmp_path / "chain.json", expected_space="darts")


def chain_search_config(**overrides):
    """The digits search preset on the toy space: 8x8 images, 2 epochs (1 of warm-up)."""
    search = search_digits.get_config()
    search.update(
        dict(
            space="toy_chain",
            image_size=8,
            batch_size=8,
            epochs=2,
            warmup_epochs=1,
            steps_per_epoch=3,
            eval_batches=1,
            log_every=1,
        )
    )
    search.update(overrides)
    return search


# In the fast tier: the one end-to-end search, retraining and export it runs (a few seconds).
def test_a_space_defined_in_a_test_is_searched_retrained_and_exported(chain_space, tmp_path):
    search = chain_search_config()
    found = search_run.run_search(search, tmp_path / "search")
    assert isinstance(found, ChainGenotype) and len(found.layers) == CHAIN_LAYERS
    saved = json.loads((tmp_path / "search" / "genotype.json").read_text())
    assert saved["space"] == "toy_chain" and saved["layers"] == list(found.layers)

    config = eval_digits.get_config()
    config.update(
        dict(
            network="toy_chain",
            genotype=str(tmp_path / "search" / "genotype.json"),
            image_size=8,
            epochs=1,
            steps_per_epoch=4,
            auxiliary=False,
        )
    )
    metrics = retrain_run.run_training(config, tmp_path / "train")
    hidden = sum(CHAIN_OPS[op] == "dense_relu" for op in found.layers)
    expected_params = (8 * 8 * 3 + 1) * WIDTH + hidden * (WIDTH + 1) * WIDTH + (WIDTH + 1) * 10
    assert metrics["params"] == expected_params
    assert 0.0 <= metrics["top1"] <= 1.0

    output = export_lib.export_from_workdir(tmp_path / "train", tmp_path / "export")
    loaded = tf.saved_model.load(output)
    images = np.random.default_rng(0).integers(0, 17, size=(2, 8, 8, 3)).astype(np.uint8)
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    assert served["probabilities"].shape == (2, 10)
    np.testing.assert_allclose(served["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
