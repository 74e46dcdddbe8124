"""ProxylessNAS space: MBConv shapes and sizes, the published size, supernet == child network,
and its pictures."""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.util import tensor_util

from unas_tf import genotypes, model_size, summaries
from unas_tf.search_spaces import base
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype
from unas_tf.search_spaces.proxyless import networks as proxyless_networks
from unas_tf.search_spaces.proxyless import pictures as proxyless_pictures
from unas_tf.search_spaces.proxyless import supernet as proxyless_supernet

ROOT = pathlib.Path(__file__).resolve().parent.parent
WIDTH, CLASSES, BATCH, SIZE = 0.1, 5, 2, 32


def _images(seed, batch=BATCH, size=SIZE):
    return tf.random.stateless_normal([batch, size, size, 3], seed=[seed, 0])


def _shared(genotype):
    return {
        "layers": tf.constant(proxyless_genotype.proxyless_to_one_hot(genotype)["layers"][None])
    }


def test_backbone_is_the_published_one():
    published = json.loads((ROOT / "unas_tf" / "assets" / "published.json").read_text())
    spec = published["proxyless_network"]
    plan = proxyless_networks.backbone(1.0)
    stages = []
    for layer in plan.layers:
        if layer.channel_change:
            stages.append(layer.channels)
    channels = [plan.stem_channels, plan.first_block_channels, *stages, plan.head_channels]
    assert channels == spec["channels"]
    assert [layer.index for layer in plan.layers if layer.stride == 2] == spec["stride_2_layers"]
    changes = [layer.index for layer in plan.layers if layer.channel_change]
    assert (
        changes
        == spec["channel_change_layers"]
        == list(proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS)
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(40, 40), (40 * 0.1, 8), (1728 * 0.25, 432), (24 * 0.5, 16)]
)
def test_make_divisible(value, expected):
    assert proxyless_networks.make_divisible(value) == expected


@pytest.mark.parametrize(
    ("stride", "residual", "input_size", "output_size"), [(1, True, 7, 7), (2, False, 7, 4)]
)
def test_mbconv_shapes_and_multiply_adds(stride, residual, input_size, output_size):
    block = proxyless_networks.MBConv(8, 5, 3, stride=stride, residual=residual)
    x = tf.random.stateless_normal([2, input_size, input_size, 8], seed=[1, 0])
    y = block(x, training=False)
    assert tuple(y.shape) == (2, output_size, output_size, 8)
    assert block.compute_output_shape(x.shape) == (2, output_size, output_size, 8)
    # expand 1x1 (8 -> 24) on the input, depthwise 5x5 and project 1x1 (24 -> 8) on the output.
    expected = input_size**2 * 8 * 24 + output_size**2 * (25 * 24 + 24 * 8)
    assert block.multiply_adds(x.shape) == expected
    weights = {w.path.split("/")[-1]: tuple(w.shape) for w in block.trainable_weights}
    assert weights["expand_kernel"] == (1, 1, 8, 24)
    assert weights["depthwise_kernel"] == (5, 5, 24, 1)
    assert weights["project_kernel"] == (1, 1, 24, 8)


def test_mbconv_residual_adds_the_input():
    block = proxyless_networks.MBConv(4, 3, 6, residual=True)
    x = tf.random.stateless_normal([2, 5, 5, 4], seed=[2, 0])
    plain = proxyless_networks.MBConv(4, 3, 6)
    plain.build(x.shape)
    block.build(x.shape)
    for source, target in zip(block.weights, plain.weights, strict=True):
        target.assign(source)
    np.testing.assert_allclose(block(x), plain(x) + x, atol=1e-6)


def test_zero_init_residual_starts_a_residual_mbconv_as_the_identity():
    x = tf.random.stateless_normal([2, 5, 5, 4], seed=[3, 0])
    block = proxyless_networks.MBConv(4, 3, 6, residual=True, zero_init_residual=True)
    np.testing.assert_array_equal(block(x, training=True), x)
    # Only the shortcut's branch: a block without one keeps ProxylessNAS's scale of one.
    plain = proxyless_networks.MBConv(8, 3, 6, zero_init_residual=True)
    plain.build(x.shape)
    np.testing.assert_array_equal(plain.project_bn.gamma, np.ones(8))


def test_zero_init_supernet_starts_with_every_residual_layer_as_a_skip():
    """At initialisation any choice of a removable layer computes what removing it does."""
    network = proxyless_supernet.ProxylessSupernet(
        CLASSES, WIDTH, skip_dropout_rate=0.0, zero_init_residual=True
    )
    images = _images(5)
    network.build(images.shape)
    mbconvs = proxyless_genotype.random_proxyless(6)
    skips = proxyless_genotype.ProxylessGenotype(
        mbconvs.ops,
        tuple(
            proxyless_genotype.ZERO_INDEX
            if index not in proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS
            else op
            for index, op in enumerate(mbconvs.layers, start=1)
        ),
    )
    assert skips != mbconvs
    np.testing.assert_allclose(
        network(images, _shared(mbconvs), training=True),
        network(images, _shared(skips), training=True),
        atol=1e-6,
    )


def test_mbconv_config_round_trips():
    block = proxyless_networks.MBConv(16, 7, 6, stride=2, zero_init_residual=True, name="b")
    clone = proxyless_networks.MBConv.from_config(block.get_config())
    assert clone.get_config() == block.get_config()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        (
            {"channels": 8, "kernel_size": 3, "expand_ratio": 3, "stride": 2, "residual": True},
            "residual",
        ),
        ({"channels": 8, "kernel_size": 3, "expand_ratio": 3, "stride": 3}, "stride"),
        ({"channels": 0, "kernel_size": 3, "expand_ratio": 3}, "channels"),
    ],
)
def test_mbconv_rejects_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        proxyless_networks.MBConv(**kwargs)


def test_proxyless_gpu_has_the_published_size():
    # ProxylessNAS (Cai et al., 2019) reports 7.1M parameters and 465M multiply-adds.
    model = proxyless_networks.proxyless_network(genotypes.load("PROXYLESS_GPU"))
    assert model_size.count_params(model) == pytest.approx(7.1e6, rel=0.01)
    assert model_size.count_macs(model, 224) == pytest.approx(465e6, rel=0.02)


def test_child_network_leaves_out_zero_layers():
    genotype = genotypes.load("UNAS_PROXYLESS")
    model = proxyless_networks.proxyless_network(genotype, CLASSES, WIDTH, SIZE)
    present = [layer.name for layer in model.layers if layer.name.startswith("layer_")]
    zero = proxyless_genotype.PROXYLESS_OPS.index("mic_zero")
    assert present == [f"layer_{i + 1}" for i, op in enumerate(genotype.layers) if op != zero]
    # Strides 2 in the stem and layers 1, 5, 9, 17: 32 / 32 = 1 pixel before pooling.
    assert tuple(model.get_layer("head_conv").output.shape) == (None, 1, 1, 176)
    assert tuple(model(_images(0))["logits"].shape) == (BATCH, CLASSES)


def test_child_network_rejects_another_space():
    with pytest.raises(ValueError, match="ProxylessGenotype"):
        proxyless_networks.proxyless_network(genotypes.load("UNAS_CIFAR10"))


@pytest.mark.parametrize("layer", proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS)
def test_zero_choice_on_a_channel_changing_layer_is_rejected(layer):
    layers = list(genotypes.load("PROXYLESS_GPU").layers)
    layers[layer - 1] = proxyless_genotype.PROXYLESS_OPS.index("mic_zero")
    with pytest.raises(ValueError, match=f"layer {layer} changes channels"):
        proxyless_genotype.proxyless_from_indices({"layers": np.array(layers)})


def test_choice_mask_excludes_exactly_the_zero_on_channel_changing_layers():
    mask = proxyless_genotype.choice_mask()
    assert mask.shape == (21, 7)
    assert [i + 1 for i in np.flatnonzero(~mask[:, 0])] == list(
        proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS
    )
    assert mask[:, 1:].all()


@pytest.fixture(scope="module")
def supernet():
    network = proxyless_supernet.ProxylessSupernet(CLASSES, WIDTH, skip_dropout_rate=0.0)
    network.build(_images(0).shape)
    return network


def _child(supernet, genotype):
    child = proxyless_networks.proxyless_network(genotype, CLASSES, WIDTH, SIZE)
    proxyless_supernet.copy_supernet_weights(supernet, child, genotype)
    return child


@pytest.mark.parametrize("name", ["UNAS_PROXYLESS", "PROXYLESS_GPU", "random"])
@pytest.mark.parametrize("training", [False, True])
def test_one_hot_shared_sample_equals_child_network(supernet, name, training):
    genotype = proxyless_genotype.random_proxyless(3) if name == "random" else genotypes.load(name)
    images = _images(1, batch=4)
    expected = _child(supernet, genotype)(images, training=training)["logits"]
    actual = supernet(images, _shared(genotype), training=training)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_one_hot_shared_sample_equals_child_network_in_a_tf_function(supernet):
    genotype = proxyless_genotype.random_proxyless(4)
    images = _images(2)
    expected = _child(supernet, genotype)(images, training=False)["logits"]
    actual = tf.function(lambda x, s: supernet(x, s, training=False))(images, _shared(genotype))
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_per_example_samples_run_each_example_through_its_own_architecture(supernet):
    architectures = [proxyless_genotype.random_proxyless(seed) for seed in (5, 6)]
    sample = {
        "layers": tf.constant(
            np.stack([proxyless_genotype.proxyless_to_one_hot(g)["layers"] for g in architectures])
        )
    }
    images = _images(7)
    actual = supernet(images, sample, training=False)
    for example, genotype in enumerate(architectures):
        expected = _child(supernet, genotype)(images[example : example + 1], training=False)
        np.testing.assert_allclose(actual[example : example + 1], expected["logits"], atol=1e-5)


def _count_candidate_calls(supernet):
    """Wraps every MBConv candidate so that eager calls are counted (eager cond runs one side)."""
    calls = []
    for mixed in supernet.mixed_layers:
        for k, candidate in mixed.candidates.items():
            if candidate is not None:

                def counted(*args, _call=candidate.call, _key=(mixed.name, k), **kwargs):
                    calls.append(_key)
                    return _call(*args, **kwargs)

                candidate.call = counted
    return calls


def test_only_selected_candidates_run():
    network = proxyless_supernet.ProxylessSupernet(CLASSES, WIDTH)
    network.build(_images(0).shape)
    calls = _count_candidate_calls(network)
    zero = proxyless_genotype.PROXYLESS_OPS.index("mic_zero")
    architectures = [proxyless_genotype.random_proxyless(seed) for seed in (8, 9)]

    def selected(genotype):
        return {(f"layer_{i + 1}", op) for i, op in enumerate(genotype.layers) if op != zero}

    network(_images(10), _shared(architectures[0]), training=False)
    assert sorted(calls) == sorted(selected(architectures[0]))

    calls.clear()
    sample = np.stack([proxyless_genotype.proxyless_to_one_hot(g)["layers"] for g in architectures])
    network(_images(10), {"layers": tf.constant(sample)}, training=False)
    assert sorted(calls) == sorted(selected(architectures[0]) | selected(architectures[1]))


def test_relaxed_weights_below_threshold_are_skipped_exactly(supernet):
    rng = np.random.default_rng(11)
    values = np.full((1, 21, 7), 0.01, np.float32)
    chosen = rng.integers(1, 7, size=(1, 21))
    np.put_along_axis(values, chosen[..., None], 0.94, axis=-1)
    values[:, :, 0] = 0.01
    zeroed = np.where(values < proxyless_supernet.DEFAULT_SKIP_THRESHOLD, 0.0, values)
    images = _images(12)
    skipping = supernet(images, {"layers": tf.constant(values)})
    for mixed in supernet.mixed_layers:
        mixed.skip_threshold = 0.0
    try:
        exact = supernet(images, {"layers": tf.constant(zeroed)})
        everything = supernet(images, {"layers": tf.constant(values)})
    finally:
        for mixed in supernet.mixed_layers:
            mixed.skip_threshold = proxyless_supernet.DEFAULT_SKIP_THRESHOLD
    np.testing.assert_allclose(skipping, exact, atol=1e-5)
    assert not np.allclose(skipping, everything, atol=1e-5)


def test_dense_path_equals_the_skipping_path_when_nothing_is_skipped(supernet):
    logits = tf.random.stateless_normal([BATCH, 21, 7], seed=[13, 0])
    relaxed = {"layers": tf.nn.softmax(logits)}
    images = _images(14)
    dense = supernet(images, relaxed, training=False, skip_inactive=False)
    for mixed in supernet.mixed_layers:
        mixed.skip_threshold = -1.0
    try:
        skipping = supernet(images, relaxed, training=False)
    finally:
        for mixed in supernet.mixed_layers:
            mixed.skip_threshold = proxyless_supernet.DEFAULT_SKIP_THRESHOLD
    np.testing.assert_allclose(dense, skipping, atol=1e-5)


def test_skip_choice_is_dropped_out_in_training_only():
    plan = proxyless_networks.backbone(WIDTH).layers[1]  # layer 2: keeps the shape, may be skipped
    mixed = proxyless_supernet.MixedLayer(plan, skip_dropout_rate=0.5, seed=0)
    x = tf.ones([4, 6, 6, plan.channels])
    mixed.build(x.shape)
    skip = tf.one_hot([[0]], 7)[:, 0]
    np.testing.assert_array_equal(mixed(x, skip, training=False), x)
    for call in (mixed, tf.function(mixed)):
        dropped = call(x, skip, training=True).numpy()
        assert set(np.unique(dropped)) == {0.0, 2.0}
        assert 0.3 < np.mean(dropped == 0.0) < 0.7


def test_channel_changing_layers_have_no_skip_candidate(supernet):
    for mixed in supernet.mixed_layers:
        has_zero = None in mixed.candidates.values()
        assert has_zero == (
            mixed.layer_plan.index not in proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS
        )
        assert isinstance(mixed.candidates.get(1), keras.layers.Layer)


# Pictures: the layer-choice heatmap and the drawing of an architecture.


def test_op_labels_name_expansion_and_kernel():
    labels = [proxyless_pictures.op_label(op) for op in proxyless_genotype.PROXYLESS_OPS]
    assert labels == ["zero/skip", "MB3 k3", "MB6 k3", "MB3 k5", "MB6 k5", "MB3 k7", "MB6 k7"]


def test_an_architecture_is_drawn_through_the_space(tmp_path):
    path = tmp_path / "layers.png"
    base.get("proxyless").draw(genotypes.load("PROXYLESS_GPU"), path)
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="ProxylessGenotype"):
        proxyless_pictures.draw_genotype(genotypes.load("UNAS_CIFAR10"), tmp_path / "cells.png")


def test_epoch_summaries_write_the_heatmap_and_the_drawing(tmp_path):
    logits = {"layers": tf.zeros(proxyless_genotype.proxyless_choice_shapes()["layers"])}
    with tf.summary.create_file_writer(str(tmp_path)).as_default(step=3):
        base.get("proxyless").epoch_summaries(logits, genotypes.load("UNAS_PROXYLESS"))
    images = {
        value.tag: tensor_util.make_ndarray(value.tensor)
        for event in summaries.read_events(tmp_path)
        for value in event.summary.value
    }
    assert set(images) == {"layer_probabilities", "architecture"}
    # tf.summary.image stores [width, height, PNG]: a tall heatmap (21 rows), a wide drawing.
    heatmap_width, heatmap_height = map(int, images["layer_probabilities"][:2])
    drawing_width, drawing_height = map(int, images["architecture"][:2])
    assert heatmap_height > heatmap_width and drawing_width > 3 * drawing_height
