"""model_size.count_macs against a second, independent count: the traced inference graph.

`count_macs` adds up what each layer says it computes (`multiply_adds`, from its config and
input shape). Here the network is traced instead, `tf.function(model).get_concrete_function`,
and the multiply-adds are read off the TensorFlow ops it lowers to, from their kernels and
output shapes: nothing is shared with the layers' own formulas.

Convention, the same on both sides (NAS papers count "multiply-adds" or "FLOPs" this way):
convolutions (Conv2D, DepthwiseConv2dNative) and matrix products (MatMul, the classifier)
count, one multiply-add per kernel tap per output element; batch norms (they fold into the
preceding convolution at inference), bias adds, activations, additions, pooling and the
padding-aware division of the average pool do not. The auxiliary head, a training aid, is
left out of both: the graph is traced from networks built without it.

One difference in what is computed is corrected for: TensorFlow runs a dilated depthwise
convolution as SpaceToBatchND, convolution, BatchToSpaceND, and on an odd-sized input the
space-to-batch pads to an even size and the convolution then computes outputs that
BatchToSpaceND crops away. Those are padding, not the network's maths, so the graph count
takes the cropped output size. The odd sizes are tested on purpose (7x7, as at the end of the
ImageNet network).

The networks are small (4 channels, 5 cells: normal and reduction cells, each kind also after
a reduction) since the count is structural in the channels and cells; the image sizes keep
the resolutions of the real networks' stages where it matters (odd and even).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from unas_tf import genotypes, model_size
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import networks as darts_networks
from unas_tf.search_spaces.darts import ops
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype
from unas_tf.search_spaces.proxyless import networks as proxyless_networks

CHANNELS = 4
LAYERS = 5  # reductions at cells 1 and 3; cells 2 and 4 follow a reduction
# CIFAR stem keeps the size: 14 -> cells at 14, 7, 4 (odd sizes, ceil rounding).
CIFAR_SIZE = 14
# ImageNet stem divides by 8: 56 -> cells at 7, 4, 2.
IMAGENET_SIZE = 56
PROXYLESS_SIZE = 32
PROXYLESS_WIDTH = 0.25
CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative")
PUBLISHED_DARTS = tuple(
    name for name in genotypes.published_names() if genotypes.load(name).space == "darts"
)
RANDOM_SEEDS = (0, 1, 2)


def _computed_elements(op):
    """Output elements of `op` that the network keeps (after BatchToSpaceND's crop, if any)."""
    output = op.outputs[0]
    consumers = output.consumers()
    if len(consumers) == 1 and consumers[0].type == "BatchToSpaceND":
        output = consumers[0].outputs[0]
    return int(np.prod(output.shape))


def graph_macs(model):
    """Multiply-adds of one example, read off the ops of `model`'s traced inference graph.

    Conv2D: kh * kw * (kernel input channels) per output element, which also holds for grouped
    convolutions. DepthwiseConv2dNative: kh * kw per output element. MatMul: the product of
    the three matrix sizes.
    """
    function = tf.function(lambda inputs: model(inputs, training=False))
    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], tf.float32)
    graph = function.get_concrete_function(spec).graph
    total = 0
    for op in graph.get_operations():
        if op.type in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum"):
            raise AssertionError(f"uncounted matrix product {op.type} in the graph: {op.name}")
        if op.type == "Conv2D":
            height, width, in_channels, _ = op.inputs[1].shape
            total += _computed_elements(op) * height * width * in_channels
        elif op.type == "DepthwiseConv2dNative":
            height, width, _, _ = op.inputs[1].shape
            total += _computed_elements(op) * height * width
        elif op.type == "MatMul":
            a, b = op.inputs[0].shape, op.inputs[1].shape
            rows = a[1] if op.get_attr("transpose_a") else a[0]
            inner = a[0] if op.get_attr("transpose_a") else a[1]
            columns = b[0] if op.get_attr("transpose_b") else b[1]
            total += rows * inner * columns
    return int(total)


def _cifar(genotype):
    return darts_networks.cifar_network(
        genotype, 10, CHANNELS, LAYERS, auxiliary=False, image_size=CIFAR_SIZE
    )


def _imagenet(genotype):
    return darts_networks.imagenet_network(
        genotype, 10, CHANNELS, LAYERS, auxiliary=False, image_size=IMAGENET_SIZE
    )


def _assert_counts_agree(model, image_size):
    assert model_size.count_macs(model, image_size) == graph_macs(model)


@pytest.mark.parametrize("name", PUBLISHED_DARTS)
@pytest.mark.parametrize(
    "build, image_size",
    [(_cifar, CIFAR_SIZE), (_imagenet, IMAGENET_SIZE)],
    ids=["cifar", "imagenet"],
)
def test_published_darts_genotypes(name, build, image_size):
    _assert_counts_agree(build(genotypes.load(name)), image_size)


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
@pytest.mark.parametrize(
    "build, image_size",
    [(_cifar, CIFAR_SIZE), (_imagenet, IMAGENET_SIZE)],
    ids=["cifar", "imagenet"],
)
def test_random_darts_genotypes(seed, build, image_size):
    _assert_counts_agree(build(darts_genotype.random_darts(seed)), image_size)


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_proxyless_genotypes(seed):
    model = proxyless_networks.proxyless_network(
        proxyless_genotype.random_proxyless(seed), 10, PROXYLESS_WIDTH, PROXYLESS_SIZE
    )
    _assert_counts_agree(model, PROXYLESS_SIZE)


def test_graph_count_of_a_dilated_convolution_on_an_odd_input():
    # ReLU, depthwise 3x3 dilation 2 (SpaceToBatchND on 7x7), pointwise 1x1 to 6, BN: the
    # graph count must be the 7x7 output's, not the padded 8x8 the space-to-batch computes.
    inputs = keras.Input((7, 7, 5))
    model = keras.Model(inputs, ops.DilConv(6, 3, stride=1)(inputs))
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec([1, 7, 7, 5])).graph
    assert "SpaceToBatchND" in {op.type for op in graph.get_operations()}
    assert graph_macs(model) == (9 * 5 + 5 * 6) * 49
    assert model_size.count_macs(model, 7) == graph_macs(model)
