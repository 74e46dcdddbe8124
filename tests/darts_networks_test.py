"""Tests of the DARTS evaluation networks and of model_size on them (incl. the published sizes)."""

import collections
import importlib.resources
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from unas_tf import model_size
from unas_tf.search_spaces.darts import networks as darts_networks

# Genotypes are duck-typed; these stand in for unas_tf.genotypes, which is tested on its own.
Node = collections.namedtuple("Node", ["inputs", "ops"])
Genotype = collections.namedtuple("Genotype", ["ops", "normal", "reduce"])

MOBILE_MACS = 600e6


def _published(name):
    resource = importlib.resources.files("unas_tf").joinpath("assets", "published.json")
    data = json.loads(resource.read_text())

    def nodes(cell):
        return tuple(Node(tuple(n["inputs"]), tuple(n["ops"])) for n in cell)

    cells = data["darts"][name]
    return Genotype(tuple(data["darts_ops"]), nodes(cells["normal"]), nodes(cells["reduce"]))


def _images(size, batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype("float32")


def _tiny_cifar(drop_path_rate=0.0, auxiliary=True):
    # 32x32 and 3 cells: the auxiliary head reads cell 2 at 8x8, as at full size.
    return darts_networks.cifar_network(
        _published("UNAS_CIFAR10"),
        num_classes=10,
        init_channels=4,
        layers=3,
        auxiliary=auxiliary,
        drop_path_rate=drop_path_rate,
    )


def test_tiny_cifar_network_forward():
    model = _tiny_cifar()
    for training in (True, False):
        outputs = model(_images(32), training=training)
        assert set(outputs) == {"logits", "aux_logits"}
        assert outputs["logits"].shape == (2, 10)
        assert outputs["aux_logits"].shape == (2, 10)
    assert [layer.name for layer in model.layers if "cell" in layer.name] == [
        "cell_0",
        "cell_1",
        "cell_2",
    ]
    reductions = [layer.reduction for layer in model.layers if "cell" in layer.name]
    assert reductions == [False, True, True]


def test_tiny_imagenet_network_forward():
    model = darts_networks.imagenet_network(
        _published("UNAS_IMAGENET"),
        num_classes=5,
        init_channels=8,
        layers=3,
        image_size=64,
        auxiliary=False,
    )
    outputs = model(_images(64), training=True)
    assert set(outputs) == {"logits"}
    assert outputs["logits"].shape == (2, 5)
    # Stems take 64 -> 8 pixels; the first cell reduces stem0's 16x16 output to match.
    assert model.get_layer("cell_0").preprocess0.__class__.__name__ == "FactorizedReduce"


def test_auxiliary_head_on_too_small_an_input_raises():
    with pytest.raises(ValueError, match="auxiliary head"):
        darts_networks.imagenet_network(
            _published("UNAS_IMAGENET"), num_classes=5, init_channels=8, layers=3, image_size=64
        )


def test_cell_output_shape_and_config_round_trip():
    model = _tiny_cifar()
    cell = model.get_layer("cell_1")
    clone = darts_networks.Cell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    s0, s1 = np.zeros((2, 32, 32, 12), "float32"), np.zeros((2, 32, 32, 16), "float32")
    output = clone([s0, s1], training=False)
    assert output.shape == (2, 16, 16, 4 * 8)
    assert tuple(clone.compute_output_shape([s0.shape, s1.shape])) == (2, 16, 16, 32)


def test_drop_path_is_identity_at_rate_zero():
    model = _tiny_cifar(drop_path_rate=0.0)
    x = _images(32)
    first = model(x, training=True)["logits"]
    np.testing.assert_array_equal(first, model(x, training=True)["logits"])


def test_drop_path_changes_training_outputs_only():
    model = _tiny_cifar(drop_path_rate=0.0)
    x = _images(32)
    inference = model(x, training=False)["logits"].numpy()
    darts_networks.set_drop_path_rate(model, 0.5)
    assert model.get_layer("cell_2").drop_path_rate.numpy() == 0.5
    np.testing.assert_array_equal(model(x, training=False)["logits"], inference)
    assert not np.allclose(model(x, training=True)["logits"], model(x, training=True)["logits"])


def test_drop_path_rate_ramps_inside_a_traced_step_without_retracing():
    model = _tiny_cifar(drop_path_rate=0.0)
    x = _images(32)
    forward = tf.function(lambda images: model(images, training=True)["logits"])
    np.testing.assert_array_equal(forward(x), forward(x))
    darts_networks.set_drop_path_rate(model, 0.5)
    assert not np.allclose(forward(x), forward(x))
    assert forward.experimental_get_tracing_count() == 1


def test_every_weight_gets_a_gradient():
    model = _tiny_cifar(drop_path_rate=0.2)
    with tf.GradientTape() as tape:
        outputs = model(_images(32), training=True)
        loss = tf.reduce_sum(outputs["logits"] ** 2) + tf.reduce_sum(outputs["aux_logits"] ** 2)
    gradients = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in gradients)


def test_saved_model_reloads_with_the_same_outputs(tmp_path):
    model = _tiny_cifar(drop_path_rate=0.2)
    x = _images(32)
    model(x, training=True)  # moves the BN statistics away from their initial values
    path = str(tmp_path / "network.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded(x)["logits"], model(x)["logits"])


def test_cell_rejects_a_node_reading_a_later_state():
    with pytest.raises(ValueError, match="node_inputs"):
        darts_networks.Cell(4, [[0, 2]], [["skip_connect", "skip_connect"]], False, False)


def test_drop_path_rate_is_validated():
    with pytest.raises(ValueError, match="Received: drop_path_rate=1.0"):
        darts_networks.set_drop_path_rate(_tiny_cifar(), 1.0)


def test_count_params_leaves_out_the_auxiliary_head():
    with_head, without_head = _tiny_cifar(auxiliary=True), _tiny_cifar(auxiliary=False)
    assert model_size.count_params(with_head) == model_size.count_params(without_head)
    all_trainable = sum(int(np.prod(w.shape)) for w in without_head.trainable_weights)
    assert model_size.count_params(without_head) == all_trainable
    assert model_size.count_macs(with_head, 32) == model_size.count_macs(without_head, 32)


def test_count_macs_of_keras_layers():
    images = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(images)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(10)(x)
    auxiliary = keras.layers.Dense(7, name=model_size.AUXILIARY_PREFIX + "_dense")(x)
    model = keras.Model(images, [logits, auxiliary])
    assert model_size.count_macs(model, 8) == 16 * 27 * 4 + 16 * 9 * 4 + 4 * 10
    assert model_size.count_params(model) == 27 * 4 + (9 * 4 + 4) + (4 * 10 + 10)
    with pytest.raises(ValueError, match="Received: image_size=32"):
        model_size.count_macs(model, 32)


@pytest.fixture(scope="module")
def cifar10_network():
    return darts_networks.cifar_network(_published("UNAS_CIFAR10"), num_classes=10)


@pytest.fixture(scope="module")
def cifar100_network():
    return darts_networks.cifar_network(_published("UNAS_CIFAR100"), num_classes=100)


def _imagenet_mobile(channels):
    return darts_networks.imagenet_network(_published("UNAS_IMAGENET"), init_channels=channels)


def test_published_cifar10_size(cifar10_network):
    assert round(model_size.count_params(cifar10_network) / 1e6, 1) == 3.3


def test_published_cifar100_size(cifar100_network):
    assert round(model_size.count_params(cifar100_network) / 1e6, 1) == 4.1


def test_published_imagenet_mobile_size():
    # UNAS Table 6 reports 5.07M params and 563M multiply-adds at C=46. The parameters match;
    # the multiply-adds the network computes are 548.6M (model_size_test.py checks the count
    # against the traced graph), 2.6% fewer. The table's counting convention is not stated:
    # DARTS V2, whose reduction cell has no convolution on an intermediate node, counts 530M
    # here against the 574M DARTS reports, so the published counts include something more.
    model = _imagenet_mobile(46)
    assert abs(model_size.count_params(model) - 5.07e6) <= 0.01e6
    macs = model_size.count_macs(model, 224)
    assert macs == 548_602_256
    assert abs(macs - 563e6) <= 0.03 * 563e6
    assert macs < MOBILE_MACS


def test_largest_channels_under_mobile_budget():
    # The paper's C=46 is under the budget; by this count C=48 (595.2M) is too, C=50 is not.
    channels = model_size.largest_channels_under_budget(
        _imagenet_mobile, MOBILE_MACS, range(36, 62, 2)
    )
    assert channels == 48


def test_largest_channels_under_budget_raises_when_none_fits():
    with pytest.raises(ValueError, match="candidates"):
        model_size.largest_channels_under_budget(_imagenet_mobile, 1e6, [8])
