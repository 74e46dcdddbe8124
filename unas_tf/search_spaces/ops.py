"""The DARTS operations as lean Keras layers, channels-last (NHWC).

Each op is one Keras layer that owns its weights (convolution kernels and batch-norm variables)
and computes with `tf.nn` directly. Nesting Keras sub-layers would multiply the Python-side layer
calls that dominate the trace time of an unrolled supernet (notes/tf_graph_size.md), so the
batch norm here is a pair of functions rather than a layer.

The structure of every op, its padding and its batch-norm settings follow DARTS (Liu et al.,
2019) as used by UNAS (Vahdat et al., CVPR 2020); see genotypes/darts_networks.md. Padding is
explicit and symmetric (k // 2), like PyTorch's, not TensorFlow's 'SAME', which pads only the
bottom and right at stride 2. Every op maps [N, H, W, C_in] to [N, ceil(H / s), ceil(W / s), C]
at stride s.

Ops whose weights are batch norms take `affine`: False in the search supernet, where BN has no
scale or offset, True in evaluation networks.
"""

import math
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from unas_tf import genotypes

BN_EPSILON = 1e-5
# Keras counts momentum from the other side: 0.9 here is PyTorch's BatchNorm2d(momentum=0.1).
BN_MOMENTUM = 0.9
DIL_CONV_DILATION = 2
POOL_SIZE = 3
VALID_STRIDES = (1, 2)

# The genotype format fixes the order: op indices in genotypes refer to it.
OPS = genotypes.DARTS_OPS


class BatchNormWeights(NamedTuple):
    """The variables of one batch norm; `gamma` and `beta` are None when it is not affine."""

    gamma: Any
    beta: Any
    moving_mean: Any
    moving_variance: Any


def add_batch_norm_weights(layer, name, channels, affine):
    """Creates the variables of a batch norm over `channels` on `layer` (call from `build`).

    Args:
      layer: The Keras layer that owns the variables.
      name: Prefix of the variable names, e.g. "bn_1" gives "bn_1_gamma", ...
      channels: Number of channels normalised.
      affine: Whether to learn a per-channel scale (gamma) and offset (beta).

    Returns:
      A `BatchNormWeights`.
    """
    gamma = beta = None
    if affine:
        gamma = layer.add_weight(
            shape=(channels,), initializer="ones", autocast=False, name=f"{name}_gamma"
        )
        beta = layer.add_weight(
            shape=(channels,), initializer="zeros", autocast=False, name=f"{name}_beta"
        )
    moving_mean = _replica_local_statistic(layer, channels, "zeros", f"{name}_moving_mean")
    moving_variance = _replica_local_statistic(layer, channels, "ones", f"{name}_moving_variance")
    return BatchNormWeights(gamma, beta, moving_mean, moving_variance)


def _replica_local_statistic(layer, channels, initializer, name):
    """A moving statistic that each replica updates with its own batch, averaged when read.

    On-read synchronisation, as tf.keras batch norms had: an update inside a replica needs no
    cross-replica synchronisation point, which TensorFlow cannot place inside the nested
    `tf.function`s of the search step.
    """
    with keras.name_scope(layer.name, caller=layer):
        variable = keras.Variable(
            initializer=keras.initializers.get(initializer),
            shape=(channels,),
            trainable=False,
            autocast=False,
            aggregation="mean",
            synchronization="on_read",
            name=name,
        )
    layer._track_variable(variable)
    return variable


def batch_norm(x, weights, training):
    """Batch-normalises NHWC `x` per channel.

    In training, normalises with the batch moments and moves the moving statistics towards them
    (the biased batch variance, as Keras does); in inference, uses the moving statistics.

    Args:
      x: A [N, H, W, C] tensor.
      weights: The `BatchNormWeights` of this batch norm.
      training: Python bool.

    Returns:
      The normalised tensor, same shape as `x`.
    """
    if training:
        mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
        weights.moving_mean.assign(weights.moving_mean * BN_MOMENTUM + mean * (1.0 - BN_MOMENTUM))
        weights.moving_variance.assign(
            weights.moving_variance * BN_MOMENTUM + variance * (1.0 - BN_MOMENTUM)
        )
    else:
        mean, variance = weights.moving_mean, weights.moving_variance
    return tf.nn.batch_normalization(
        x, mean, variance, offset=weights.beta, scale=weights.gamma, variance_epsilon=BN_EPSILON
    )


def kernel_initializer(fan_in):
    """PyTorch's default convolution initialiser: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    The published networks were trained with it (kaiming_uniform with a=sqrt(5)). Taking the
    fan-in explicitly matters for depthwise kernels: it is k*k, which Keras's own initialisers
    would take as k*k*C.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def _spatial_padding(padding):
    return [[0, 0], [padding, padding], [padding, padding], [0, 0]]


def _depthwise_conv(x, kernel, stride, padding, dilation=1):
    return tf.nn.depthwise_conv2d(
        x,
        kernel,
        strides=[1, stride, stride, 1],
        padding=_spatial_padding(padding),
        dilations=[dilation, dilation],
    )


def _conv(x, kernel, stride=1, padding=0):
    return tf.nn.conv2d(x, kernel, strides=stride, padding=_spatial_padding(padding))


def _check_positive(name, value):
    if not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a positive integer. "
            f"Received: {name}={value}"
        )


def _check_stride(stride):
    if stride not in VALID_STRIDES:
        raise ValueError(
            f"Invalid value received for argument `stride`. Expected one of {VALID_STRIDES}. "
            f"Received: stride={stride}"
        )


def _reduced_shape(input_shape, stride, channels):
    def reduce(size):
        return None if size is None else -(-size // stride)

    batch, height, width, input_channels = input_shape
    return (batch, reduce(height), reduce(width), input_channels if channels is None else channels)


def _output_pixels(input_shape, stride):
    _, height, width, _ = _reduced_shape(input_shape, stride, None)
    return height * width


def _separable_weights(layer, suffix, input_channels, output_channels):
    """Creates one depthwise k x k, pointwise 1x1, batch-norm block's weights on `layer`.

    SepConv has two such blocks (suffixes "_1", "_2"), DilConv one (suffix ""). The names
    are what supernet and child networks match when weights are copied across.

    Returns:
      (depthwise_kernel, pointwise_kernel, BatchNormWeights).
    """
    k = layer.kernel_size
    depthwise = layer.add_weight(
        shape=(k, k, input_channels, 1),
        initializer=kernel_initializer(k * k),
        name=f"depthwise_kernel{suffix}",
    )
    pointwise = layer.add_weight(
        shape=(1, 1, input_channels, output_channels),
        initializer=kernel_initializer(input_channels),
        name=f"pointwise_kernel{suffix}",
    )
    bn = add_batch_norm_weights(layer, f"bn{suffix}", output_channels, layer.affine)
    return depthwise, pointwise, bn


class _ConvolutionOp(keras.layers.Layer):
    """What the convolution ops share: channels, a k x k kernel, a stride and affine BN.

    Subclasses build their weights and compute; this class validates and serialises the
    arguments and gives the output shape [N, ceil(H / s), ceil(W / s), channels].
    """

    def __init__(self, channels, kernel_size, stride=1, affine=True, **kwargs):
        super().__init__(**kwargs)
        _check_positive("channels", channels)
        _check_positive("kernel_size", kernel_size)
        _check_stride(stride)
        self.channels = channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.affine = affine

    def compute_output_shape(self, input_shape):
        return _reduced_shape(input_shape, self.stride, self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "affine": self.affine,
        }


@keras.saving.register_keras_serializable(package="unas_tf")
class ReLUConvBN(_ConvolutionOp):
    """ReLU, k x k convolution (padding k // 2, no bias), batch norm.

    With the default 1x1 kernel this is DARTS's cell preprocessing; with `relu=False` and a 3x3
    kernel it is the convolution-BN pair of the network stems.

    Args:
      channels: Output channels.
      kernel_size: Side of the square convolution kernel.
      stride: 1 or 2.
      affine: Whether the batch norm learns a scale and offset.
      relu: Whether to apply a ReLU to the input first.
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, C_in] tensor.
      training: Python bool; batch statistics in training, moving statistics otherwise.
    """

    def __init__(self, channels, kernel_size=1, stride=1, affine=True, relu=True, **kwargs):
        super().__init__(channels, kernel_size, stride, affine, **kwargs)
        self.relu = relu

    def build(self, input_shape):
        input_channels = input_shape[-1]
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, input_channels, self.channels),
            initializer=kernel_initializer(k * k * input_channels),
            name="kernel",
        )
        self.bn = add_batch_norm_weights(self, "bn", self.channels, self.affine)

    def call(self, inputs, training=False):
        x = tf.nn.relu(inputs) if self.relu else inputs
        x = _conv(x, self.kernel, self.stride, self.kernel_size // 2)
        return batch_norm(x, self.bn, training)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C_in] (N ignored)."""
        kernel_size = self.kernel_size**2 * input_shape[-1] * self.channels
        return kernel_size * _output_pixels(input_shape, self.stride)

    def get_config(self):
        return {**super().get_config(), "relu": self.relu}


@keras.saving.register_keras_serializable(package="unas_tf")
class FactorizedReduce(keras.layers.Layer):
    """Halves the resolution with two 1x1 stride-2 convolutions on offset pixel grids.

    ReLU; one convolution reads the even pixels, the other the odd ones (the input shifted by
    one pixel, x[1:, 1:]); each gives half the output channels; concatenation; batch norm. Odd
    sizes give ceil(H / 2) rows: the shifted grid's missing last row and column read zeros.

    Args:
      channels: Output channels, even.
      affine: Whether the batch norm learns a scale and offset.
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, C_in] tensor.
      training: Python bool; batch statistics in training, moving statistics otherwise.
    """

    def __init__(self, channels, affine=True, **kwargs):
        super().__init__(**kwargs)
        _check_positive("channels", channels)
        if channels % 2:
            raise ValueError(
                "Invalid value received for argument `channels`. Expected an even number "
                f"(each half comes from one convolution). Received: channels={channels}"
            )
        self.channels = channels
        self.affine = affine
        self.stride = 2

    def build(self, input_shape):
        input_channels = input_shape[-1]
        shape = (1, 1, input_channels, self.channels // 2)
        self.kernel_1 = self.add_weight(
            shape=shape, initializer=kernel_initializer(input_channels), name="kernel_1"
        )
        self.kernel_2 = self.add_weight(
            shape=shape, initializer=kernel_initializer(input_channels), name="kernel_2"
        )
        self.bn = add_batch_norm_weights(self, "bn", self.channels, self.affine)

    def call(self, inputs, training=False):
        x = tf.nn.relu(inputs)
        shifted = tf.pad(x[:, 1:, 1:, :], [[0, 0], [0, 1], [0, 1], [0, 0]])
        x = tf.concat([_conv(x, self.kernel_1, 2), _conv(shifted, self.kernel_2, 2)], axis=-1)
        return batch_norm(x, self.bn, training)

    def compute_output_shape(self, input_shape):
        return _reduced_shape(input_shape, self.stride, self.channels)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C_in] (N ignored)."""
        return input_shape[-1] * self.channels * _output_pixels(input_shape, self.stride)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "affine": self.affine}


@keras.saving.register_keras_serializable(package="unas_tf")
class SepConv(_ConvolutionOp):
    """DARTS separable convolution: the depthwise-pointwise-BN block, applied twice.

    ReLU, depthwise k x k (stride s), pointwise 1x1, BN, ReLU, depthwise k x k (stride 1),
    pointwise 1x1, BN; padding k // 2, no biases.

    Args:
      channels: Output channels (the first block keeps the input channels).
      kernel_size: Side of the depthwise kernels, odd.
      stride: 1 or 2, applied by the first depthwise convolution.
      affine: Whether the batch norms learn a scale and offset.
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, C_in] tensor.
      training: Python bool; batch statistics in training, moving statistics otherwise.
    """

    def build(self, input_shape):
        input_channels = input_shape[-1]
        self.depthwise_kernel_1, self.pointwise_kernel_1, self.bn_1 = _separable_weights(
            self, "_1", input_channels, input_channels
        )
        self.depthwise_kernel_2, self.pointwise_kernel_2, self.bn_2 = _separable_weights(
            self, "_2", input_channels, self.channels
        )

    def call(self, inputs, training=False):
        padding = self.kernel_size // 2
        x = _depthwise_conv(tf.nn.relu(inputs), self.depthwise_kernel_1, self.stride, padding)
        x = batch_norm(_conv(x, self.pointwise_kernel_1), self.bn_1, training)
        x = _depthwise_conv(tf.nn.relu(x), self.depthwise_kernel_2, 1, padding)
        return batch_norm(_conv(x, self.pointwise_kernel_2), self.bn_2, training)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C_in] (N ignored)."""
        input_channels = input_shape[-1]
        per_pixel = (
            2 * self.kernel_size**2 * input_channels
            + input_channels * input_channels
            + input_channels * self.channels
        )
        return per_pixel * _output_pixels(input_shape, self.stride)


@keras.saving.register_keras_serializable(package="unas_tf")
class DilConv(_ConvolutionOp):
    """DARTS dilated separable convolution: ReLU, depthwise k x k dilation 2, pointwise 1x1, BN.

    Padding is 2 * (k // 2), which keeps the size at stride 1. At stride 2 (equal to the
    dilation) every tap of the dilated kernel lands on an even pixel, so the op is computed
    exactly, and four times cheaper, as an undilated convolution of the even pixels; TensorFlow's
    CPU kernels also cannot differentiate a depthwise convolution that is both strided and
    dilated.

    Args:
      channels: Output channels.
      kernel_size: Side of the depthwise kernel, odd.
      stride: 1 or 2.
      affine: Whether the batch norm learns a scale and offset.
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, C_in] tensor.
      training: Python bool; batch statistics in training, moving statistics otherwise.
    """

    def __init__(self, channels, kernel_size=3, stride=1, affine=True, **kwargs):
        super().__init__(channels, kernel_size, stride, affine, **kwargs)

    def build(self, input_shape):
        self.depthwise_kernel, self.pointwise_kernel, self.bn = _separable_weights(
            self, "", input_shape[-1], self.channels
        )

    def call(self, inputs, training=False):
        x = tf.nn.relu(inputs)
        half = self.kernel_size // 2
        if self.stride == 1:
            x = _depthwise_conv(
                x, self.depthwise_kernel, 1, DIL_CONV_DILATION * half, DIL_CONV_DILATION
            )
        else:
            x = _depthwise_conv(x[:, ::2, ::2, :], self.depthwise_kernel, 1, half)
        return batch_norm(_conv(x, self.pointwise_kernel), self.bn, training)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C_in] (N ignored)."""
        input_channels = input_shape[-1]
        per_pixel = self.kernel_size**2 * input_channels + input_channels * self.channels
        return per_pixel * _output_pixels(input_shape, self.stride)


class _Pool(keras.layers.Layer):
    """What the 3x3 pools share: a stride, the output shape, no multiply-adds, the config.

    Args:
      stride: 1 or 2.
      **kwargs: Base layer keyword arguments, e.g. `name`.
    """

    def __init__(self, stride=1, **kwargs):
        super().__init__(**kwargs)
        _check_stride(stride)
        self.stride = stride

    def compute_output_shape(self, input_shape):
        return _reduced_shape(input_shape, self.stride, None)

    def multiply_adds(self, input_shape):
        """Pooling has no multiply-adds."""
        del input_shape
        return 0

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package="unas_tf")
class MaxPool(_Pool):
    """3x3 max pooling, padding 1 (padded pixels never win), stride 1 or 2.

    Args:
      stride: 1 or 2.
      **kwargs: Base layer keyword arguments, e.g. `name`.
    """

    def call(self, inputs):
        return tf.nn.max_pool2d(
            inputs, POOL_SIZE, self.stride, padding=_spatial_padding(POOL_SIZE // 2)
        )


@keras.saving.register_keras_serializable(package="unas_tf")
class AvgPool(_Pool):
    """3x3 average pooling, padding 1, stride 1 or 2, averaging only the real pixels.

    PyTorch's AvgPool2d(count_include_pad=False), as DARTS uses: a window at the border is
    divided by the number of pixels inside the image, not by 9.

    Args:
      stride: 1 or 2.
      **kwargs: Base layer keyword arguments, e.g. `name`.
    """

    def call(self, inputs):
        padding = _spatial_padding(POOL_SIZE // 2)
        window_sums = tf.nn.avg_pool2d(tf.pad(inputs, padding), POOL_SIZE, self.stride, "VALID")
        # The same pooling of a padded image of ones gives the fraction of each window inside.
        ones = tf.pad(tf.ones_like(inputs[:1, :, :, :1]), padding)
        inside_fraction = tf.nn.avg_pool2d(ones, POOL_SIZE, self.stride, "VALID")
        return window_sums / inside_fraction


def create_op(name, channels, stride, affine, layer_name=None):
    """Creates the DARTS op `name` mapping C channels to `channels` at `stride`.

    Args:
      name: One of `OPS`.
      channels: Output channels (pools keep their input channels, which must equal this).
      stride: 1, or 2 on the edges of a reduction cell that read the cell's inputs.
      affine: Whether batch norms learn a scale and offset (False in the search supernet).
      layer_name: Name of the layer (Keras picks a unique one by default).

    Returns:
      A Keras layer; skip_connect at stride 1 is a `keras.layers.Identity`.

    Raises:
      ValueError: if `name` is not one of `OPS`.
    """
    if name == "skip_connect":
        if stride == 1:
            return keras.layers.Identity(name=layer_name)
        return FactorizedReduce(channels, affine=affine, name=layer_name)
    if name in ("sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"):
        kernel_size = int(name[-1])
        return SepConv(channels, kernel_size, stride, affine=affine, name=layer_name)
    if name == "dil_conv_3x3":
        return DilConv(channels, 3, stride, affine=affine, name=layer_name)
    if name == "max_pool_3x3":
        return MaxPool(stride, name=layer_name)
    if name == "avg_pool_3x3":
        return AvgPool(stride, name=layer_name)
    raise ValueError(
        f"Invalid value received for argument `name`. Expected one of {OPS}. Received: name={name}"
    )
