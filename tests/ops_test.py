"""Tests of the DARTS ops: shapes, sizes, padding, batch norm, and NumPy references."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from unas_tf.search_spaces import primitives
from unas_tf.search_spaces.darts import ops

CHANNELS = 6
BATCH = 2
BN_SCALE = 1.0 / math.sqrt(1.0 + primitives.BN_EPSILON)  # inference BN with fresh statistics


def _images(size=8, channels=CHANNELS, seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, size, size, channels)).astype("float32")


def _num_weights(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def _relu(x):
    return np.maximum(x, 0.0)


def _depthwise_reference(x, kernel, stride, padding, dilation=1):
    """Zero-padded depthwise convolution in NumPy: x [N, H, W, C], kernel [k, k, C, 1]."""
    k = kernel.shape[0]
    x = np.pad(x, [(0, 0), (padding, padding), (padding, padding), (0, 0)])
    span = dilation * (k - 1) + 1
    out_h = (x.shape[1] - span) // stride + 1
    out_w = (x.shape[2] - span) // stride + 1
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), np.float64)
    for i in range(k):
        for j in range(k):
            rows = x[:, i * dilation : i * dilation + stride * out_h : stride]
            out += (
                rows[:, :, j * dilation : j * dilation + stride * out_w : stride]
                * kernel[i, j, :, 0]
            )
    return out


def _pointwise_reference(x, kernel):
    return np.einsum("nhwc,cd->nhwd", x, kernel[0, 0])


def test_registry_order_is_the_published_one():
    assert ops.OPS == (
        "skip_connect",
        "sep_conv_3x3",
        "max_pool_3x3",
        "dil_conv_3x3",
        "sep_conv_5x5",
        "avg_pool_3x3",
        "sep_conv_7x7",
    )


def test_unknown_op_lists_the_known_ones():
    with pytest.raises(ValueError, match="sep_conv_7x7.*Received: name=conv_9x9"):
        ops.create_op("conv_9x9", CHANNELS, 1, affine=True)


def test_invalid_stride_and_odd_factorized_reduce_channels_raise():
    with pytest.raises(ValueError, match="Received: stride=3"):
        ops.create_op("sep_conv_3x3", CHANNELS, 3, affine=True)
    with pytest.raises(ValueError, match="Received: channels=5"):
        ops.FactorizedReduce(5)


@pytest.mark.parametrize("size", [8, 7])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", ops.OPS)
def test_output_shape(name, stride, size):
    op = ops.create_op(name, CHANNELS, stride, affine=False)
    y = op(_images(size), training=True)
    expected = (BATCH, math.ceil(size / stride), math.ceil(size / stride), CHANNELS)
    assert tuple(y.shape) == expected
    assert tuple(op.compute_output_shape((BATCH, size, size, CHANNELS))) == expected


def _expected_params(name, stride, c, affine):
    bn = 2 * c if affine else 0
    if name == "skip_connect":
        return 0 if stride == 1 else c * c + bn  # FactorizedReduce: two 1x1 convs to c/2
    if name.startswith("sep_conv"):
        k = int(name[-1])
        return 2 * (k * k * c + c * c + bn)
    if name == "dil_conv_3x3":
        return 9 * c + c * c + bn
    return 0  # pools


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", ops.OPS)
def test_parameter_counts(name, stride, affine):
    op = ops.create_op(name, CHANNELS, stride, affine=affine)
    op.build((BATCH, 8, 8, CHANNELS))
    assert _num_weights(op.trainable_weights) == _expected_params(name, stride, CHANNELS, affine)
    num_bns = {"sep": 2, "dil": 1, "ski": stride - 1}.get(name[:3], 0)
    assert _num_weights(op.non_trainable_weights) == num_bns * 2 * CHANNELS


def test_relu_conv_bn_parameter_count():
    op = ops.ReLUConvBN(8, kernel_size=3, stride=2)
    op.build((BATCH, 8, 8, 4))
    assert _num_weights(op.trainable_weights) == 3 * 3 * 4 * 8 + 2 * 8


@pytest.mark.parametrize("name", ["sep_conv_3x3", "dil_conv_3x3", "skip_connect"])
def test_affine_false_has_no_scale_or_offset(name):
    op = ops.create_op(name, CHANNELS, 2, affine=False)
    op.build((BATCH, 8, 8, CHANNELS))
    names = [w.name for w in op.weights]
    assert not [n for n in names if n.endswith(("gamma", "beta"))]
    assert all("kernel" in w.name for w in op.trainable_weights)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [8, 7])
def test_avg_pool_excludes_padding(stride, size):
    constant = np.full((BATCH, size, size, 3), 3.0, np.float32)
    y = ops.AvgPool(stride)(constant).numpy()
    # Counting the padded zeros would give 3 * 4/9 in a corner and 3 * 6/9 along the edges.
    np.testing.assert_allclose(y, 3.0, rtol=1e-6)


def test_avg_pool_matches_numpy_reference():
    x = _images(7, 3)
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    inside = np.pad(np.ones_like(x), [(0, 0), (1, 1), (1, 1), (0, 0)])
    ones_kernel = np.ones((3, 3, 3, 1))
    expected = _depthwise_reference(padded, ones_kernel, 2, 0) / _depthwise_reference(
        inside, ones_kernel, 2, 0
    )
    np.testing.assert_allclose(ops.AvgPool(2)(x), expected, rtol=1e-5, atol=1e-6)


def test_max_pool_padding_never_wins():
    negative = np.full((BATCH, 8, 8, 3), -5.0, np.float32)
    np.testing.assert_array_equal(ops.MaxPool(2)(negative), -5.0)


@pytest.mark.parametrize("size", [8, 7])
def test_factorized_reduce_matches_numpy_reference(size):
    op = ops.FactorizedReduce(CHANNELS, affine=True)
    x = _images(size)
    y = op(x, training=False).numpy()
    x = _relu(x)
    even = _pointwise_reference(x[:, ::2, ::2], op.kernel_1.numpy())
    odd_pixels = np.pad(x[:, 1:, 1:], [(0, 0), (0, 1), (0, 1), (0, 0)])[:, ::2, ::2]
    odd = _pointwise_reference(odd_pixels, op.kernel_2.numpy())
    expected = np.concatenate([even, odd], axis=-1) * BN_SCALE
    assert y.shape == (BATCH, math.ceil(size / 2), math.ceil(size / 2), CHANNELS)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_sep_conv_matches_numpy_reference(kernel_size, stride):
    op = ops.SepConv(CHANNELS, kernel_size, stride)
    x = _images(8)
    y = op(x, training=False).numpy()
    padding = kernel_size // 2
    h = _depthwise_reference(_relu(x), op.depthwise_kernel_1.numpy(), stride, padding)
    h = _pointwise_reference(h, op.pointwise_kernel_1.numpy()) * BN_SCALE
    h = _depthwise_reference(_relu(h), op.depthwise_kernel_2.numpy(), 1, padding)
    expected = _pointwise_reference(h, op.pointwise_kernel_2.numpy()) * BN_SCALE
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", [8, 7])
@pytest.mark.parametrize("stride", [1, 2])
def test_dil_conv_matches_numpy_reference(stride, size):
    op = ops.DilConv(CHANNELS, 3, stride)
    x = _images(size)
    y = op(x, training=False).numpy()
    h = _depthwise_reference(_relu(x), op.depthwise_kernel.numpy(), stride, 2, dilation=2)
    expected = _pointwise_reference(h, op.pointwise_kernel.numpy()) * BN_SCALE
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_strided_dil_conv_has_gradients():
    op = ops.DilConv(CHANNELS, 3, 2)
    x = tf.constant(_images(8))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(op(x, training=True) ** 2)
    gradients = tape.gradient(loss, [x, *op.trainable_weights])
    assert all(g is not None and np.all(np.isfinite(g)) for g in gradients)


def test_multiply_adds_of_sep_conv():
    op = ops.SepConv(8, 5, stride=2)
    c_in = 4
    out_pixels = 4 * 4
    expected = out_pixels * (2 * 25 * c_in + c_in * c_in + c_in * 8)
    assert op.multiply_adds((BATCH, 8, 8, c_in)) == expected


def test_batch_norm_uses_batch_statistics_in_training_and_moving_ones_in_inference():
    op = ops.ReLUConvBN(CHANNELS, affine=True)
    x = _images(8) + 2.0
    y = op(x, training=True).numpy()
    conv = _pointwise_reference(_relu(x), op.kernel.numpy())
    mean, variance = conv.mean(axis=(0, 1, 2)), conv.var(axis=(0, 1, 2))
    np.testing.assert_allclose(
        y, (conv - mean) / np.sqrt(variance + primitives.BN_EPSILON), atol=1e-4
    )
    np.testing.assert_allclose(op.bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-4, atol=1e-6)
    # As PyTorch: the moving variance follows the unbiased batch variance.
    np.testing.assert_allclose(
        op.bn.moving_variance.numpy(),
        0.9 + 0.1 * conv.var(axis=(0, 1, 2), ddof=1),
        rtol=1e-4,
        atol=1e-6,
    )
    moving_mean, moving_variance = op.bn.moving_mean.numpy(), op.bn.moving_variance.numpy()
    y = op(x, training=False).numpy()
    expected = (conv - moving_mean) / np.sqrt(moving_variance + primitives.BN_EPSILON)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(op.bn.moving_mean.numpy(), moving_mean)  # inference: no update


@pytest.mark.parametrize(
    "op",
    [
        ops.ReLUConvBN(8, kernel_size=3, stride=2, affine=False, relu=False),
        ops.FactorizedReduce(8, affine=False),
        ops.SepConv(8, 7, stride=2, affine=False),
        ops.DilConv(8, 3, stride=2),
        ops.MaxPool(2),
        ops.AvgPool(1),
    ],
    ids=lambda op: type(op).__name__,
)
def test_get_config_round_trip(op):
    clone = type(op).from_config(op.get_config())
    assert clone.get_config() == op.get_config()
    x = _images(8, 8)
    assert clone(x).shape == op(x).shape
    assert _num_weights(clone.weights) == _num_weights(op.weights)
    serialized = keras.saving.serialize_keras_object(op)
    assert type(keras.saving.deserialize_keras_object(serialized)) is type(op)
