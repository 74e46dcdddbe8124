"""The DARTS operations as lean Keras layers, channels-last (NHWC).

Each op is one Keras layer that owns its weights (convolution kernels and batch-norm variables)
and computes with `tf.nn` directly, its batch norm the functions of `search_spaces/primitives.py`.

The structure of every op, its padding and its batch-norm settings follow DARTS (Liu et al.,
2019) as used by UNAS (Vahdat et al., CVPR 2020); tests/ops_test.py checks them. Padding is
explicit and symmetric (k // 2), like PyTorch's, not TensorFlow's 'SAME', which pads only the
bottom and right at stride 2. Every op maps [N, H, W, C_in] to [N, ceil(H / s), ceil(W / s), C]
at stride s.

Ops whose weights are batch norms take `affine`: False in the search supernet, where BN has no
scale or offset, True in evaluation networks.

The ops with weights (`GROUPED_OPS`) also take `groups`: G independent copies of the op, applied
at once to G inputs concatenated on the channel axis (depthwise convolutions and batch norms act
per channel; 1x1 convolutions become grouped convolutions). The search supernet applies one op
to all the states a node may read this way, one graph op where there would be G. Called with
`member=i`, a grouped op applies copy i alone to one un-concatenated input. Evaluation networks
use the default G = 1, where the weights are the plain op's.
"""

import keras
import tensorflow as tf

from unas_tf.search_spaces import primitives
from unas_tf.search_spaces.darts import genotype as darts_genotype

DIL_CONV_DILATION = 2
POOL_SIZE = 3

# The genotype format fixes the order: op indices in genotypes refer to it.
OPS = darts_genotype.DARTS_OPS


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


@tf.custom_gradient
def _grouped_pointwise(x, kernel):
    """1x1 convolution of G groups: [N, H, W, G C] x [1, 1, C, G D] -> [N, H, W, G D].

    TensorFlow's CPU kernels compute grouped convolutions but cannot differentiate them, so the
    gradient is written out: the input's is the grouped convolution with each group's kernel
    transposed, the kernel's each group's input-output product summed over pixels.
    """
    input_channels = kernel.shape[2]
    groups = x.shape[-1] // input_channels
    output_channels = kernel.shape[3] // groups
    y = tf.nn.conv2d(x, kernel, 1, "VALID")

    def gradient(dy):
        per_group = tf.reshape(kernel, [input_channels, groups, output_channels])
        transposed = tf.reshape(
            tf.transpose(per_group, [2, 1, 0]), [1, 1, output_channels, groups * input_channels]
        )
        dx = tf.nn.conv2d(dy, transposed, 1, "VALID")
        # All pairs of groups in one matrix product (faster than a per-group einsum on CPU),
        # then the diagonal blocks.
        pairs = tf.matmul(
            tf.reshape(x, [-1, groups * input_channels]),
            tf.reshape(dy, [-1, groups * output_channels]),
            transpose_a=True,
        )
        dkernel = tf.concat(
            [
                pairs[
                    g * input_channels : (g + 1) * input_channels,
                    g * output_channels : (g + 1) * output_channels,
                ]
                for g in range(groups)
            ],
            axis=1,
        )
        return dx, tf.reshape(dkernel, kernel.shape)

    return y, gradient


def _pointwise(x, kernel, groups=1, stride=1):
    """A 1x1 convolution without padding; `groups` of them side by side when G > 1."""
    if groups == 1:
        return _conv(x, kernel, stride)
    return _grouped_pointwise(x[:, ::stride, ::stride, :], tf.convert_to_tensor(kernel))


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
    are what supernet and child networks match when weights are copied across. With
    `layer.groups` = G, each weight holds G copies: the depthwise kernel and the batch norm
    over G * C channels, the pointwise kernel as a grouped 1x1 convolution.

    Returns:
      (depthwise_kernel, pointwise_kernel, primitives.BatchNormWeights).
    """
    k, groups = layer.kernel_size, layer.groups
    depthwise = layer.add_weight(
        shape=(k, k, groups * input_channels, 1),
        initializer=primitives.kernel_initializer(k * k),
        name=f"depthwise_kernel{suffix}",
    )
    pointwise = layer.add_weight(
        shape=(1, 1, input_channels, groups * output_channels),
        initializer=primitives.kernel_initializer(input_channels),
        name=f"pointwise_kernel{suffix}",
    )
    bn = primitives.add_batch_norm_weights(
        layer, f"bn{suffix}", groups * output_channels, layer.affine
    )
    return depthwise, pointwise, bn


class _ConvolutionOp(keras.layers.Layer):
    """What the convolution ops share: channels, a k x k kernel, a stride and affine BN.

    Subclasses build their weights and compute; this class validates and serialises the
    arguments and gives the output shape [N, ceil(H / s), ceil(W / s), channels].
    """

    def __init__(self, channels, kernel_size, stride=1, affine=True, **kwargs):
        super().__init__(**kwargs)
        primitives.check_positive("channels", channels)
        primitives.check_positive("kernel_size", kernel_size)
        primitives.check_stride(stride)
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
            initializer=primitives.kernel_initializer(k * k * input_channels),
            name="kernel",
        )
        self.bn = primitives.add_batch_norm_weights(self, "bn", self.channels, self.affine)

    def call(self, inputs, training=False):
        x = tf.nn.relu(inputs) if self.relu else inputs
        x = _conv(x, self.kernel, self.stride, self.kernel_size // 2)
        return primitives.batch_norm(x, self.bn, training)

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
      groups: Copies of the op applied at once (see the module docstring).
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, groups * C_in] tensor, or [N, H, W, C_in] with `member`.
      training: Python bool; batch statistics in training, moving statistics otherwise.
      member: None, or the copy to apply alone (an int or scalar int tensor).
    """

    def __init__(self, channels, affine=True, groups=1, **kwargs):
        super().__init__(**kwargs)
        primitives.check_positive("channels", channels)
        primitives.check_positive("groups", groups)
        if channels % 2:
            raise ValueError(
                "Invalid value received for argument `channels`. Expected an even number "
                f"(each half comes from one convolution). Received: channels={channels}"
            )
        self.channels = channels
        self.affine = affine
        self.groups = groups
        self.stride = 2

    def build(self, input_shape):
        input_channels = input_shape[-1] // self.groups
        shape = (1, 1, input_channels, self.groups * self.channels // 2)
        self.kernel_1 = self.add_weight(
            shape=shape, initializer=primitives.kernel_initializer(input_channels), name="kernel_1"
        )
        self.kernel_2 = self.add_weight(
            shape=shape, initializer=primitives.kernel_initializer(input_channels), name="kernel_2"
        )
        self.bn = primitives.add_batch_norm_weights(
            self, "bn", self.groups * self.channels, self.affine
        )

    def call(self, inputs, training=False, member=None):
        x = tf.nn.relu(inputs)
        shifted = tf.pad(x[:, 1:, 1:, :], [[0, 0], [0, 1], [0, 1], [0, 0]])
        groups = self.groups if member is None else 1
        halves = [
            _pointwise(x, primitives.group_member(self.kernel_1, self.groups, member), groups, 2),
            _pointwise(
                shifted, primitives.group_member(self.kernel_2, self.groups, member), groups, 2
            ),
        ]
        if member is None and self.groups > 1:
            # Each copy's output channels are its two halves, side by side.
            pixels = tf.shape(halves[0])[:3]
            halves = [tf.reshape(h, tf.concat([pixels, [self.groups, -1]], 0)) for h in halves]
            x = tf.reshape(tf.concat(halves, axis=-1), tf.concat([pixels, [-1]], 0))
        else:
            x = tf.concat(halves, axis=-1)
        return primitives.batch_norm(x, self.bn, training, member)

    def compute_output_shape(self, input_shape):
        return _reduced_shape(input_shape, self.stride, self.groups * self.channels)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C_in] (N ignored)."""
        return input_shape[-1] * self.channels * _output_pixels(input_shape, self.stride)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "affine": self.affine,
            "groups": self.groups,
        }


class _SeparableOp(_ConvolutionOp):
    """What SepConv and DilConv share: `groups` copies (see the module docstring).

    Subclasses build with `_separable_weights` and compute with `_separable_block`.
    """

    def __init__(self, channels, kernel_size, stride=1, affine=True, groups=1, **kwargs):
        super().__init__(channels, kernel_size, stride, affine, **kwargs)
        primitives.check_positive("groups", groups)
        self.groups = groups

    def build(self, input_shape):
        self.input_channels = input_shape[-1] // self.groups

    def compute_output_shape(self, input_shape):
        return _reduced_shape(input_shape, self.stride, self.groups * self.channels)

    def _separable_block(self, x, weights, stride, padding, dilation, training, member):
        """Depthwise, pointwise 1x1, BN with one block's weights (of copy `member`)."""
        depthwise, pointwise, bn = weights
        depthwise = primitives.group_member(depthwise, self.groups, member, axis=2)
        pointwise = primitives.group_member(pointwise, self.groups, member, axis=3)
        x = _depthwise_conv(x, depthwise, stride, padding, dilation)
        x = _pointwise(x, pointwise, self.groups if member is None else 1)
        return primitives.batch_norm(x, bn, training, member)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="unas_tf")
class SepConv(_SeparableOp):
    """DARTS separable convolution: the depthwise-pointwise-BN block, applied twice.

    ReLU, depthwise k x k (stride s), pointwise 1x1, BN, ReLU, depthwise k x k (stride 1),
    pointwise 1x1, BN; padding k // 2, no biases.

    Args:
      channels: Output channels (the first block keeps the input channels).
      kernel_size: Side of the depthwise kernels, odd.
      stride: 1 or 2, applied by the first depthwise convolution.
      affine: Whether the batch norms learn a scale and offset.
      groups: Copies of the op applied at once (see the module docstring).
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, groups * C_in] tensor, or [N, H, W, C_in] with `member`.
      training: Python bool; batch statistics in training, moving statistics otherwise.
      member: None, or the copy to apply alone (an int or scalar int tensor).
    """

    def build(self, input_shape):
        super().build(input_shape)
        channels = self.input_channels
        self.depthwise_kernel_1, self.pointwise_kernel_1, self.bn_1 = _separable_weights(
            self, "_1", channels, channels
        )
        self.depthwise_kernel_2, self.pointwise_kernel_2, self.bn_2 = _separable_weights(
            self, "_2", channels, self.channels
        )

    def call(self, inputs, training=False, member=None):
        padding = self.kernel_size // 2
        block_1 = (self.depthwise_kernel_1, self.pointwise_kernel_1, self.bn_1)
        block_2 = (self.depthwise_kernel_2, self.pointwise_kernel_2, self.bn_2)
        x = self._separable_block(
            tf.nn.relu(inputs), block_1, self.stride, padding, 1, training, member
        )
        return self._separable_block(tf.nn.relu(x), block_2, 1, padding, 1, training, member)

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
class DilConv(_SeparableOp):
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
      groups: Copies of the op applied at once (see the module docstring).
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, groups * C_in] tensor, or [N, H, W, C_in] with `member`.
      training: Python bool; batch statistics in training, moving statistics otherwise.
      member: None, or the copy to apply alone (an int or scalar int tensor).
    """

    def __init__(self, channels, kernel_size=3, stride=1, affine=True, groups=1, **kwargs):
        super().__init__(channels, kernel_size, stride, affine, groups, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.depthwise_kernel, self.pointwise_kernel, self.bn = _separable_weights(
            self, "", self.input_channels, self.channels
        )

    def call(self, inputs, training=False, member=None):
        x = tf.nn.relu(inputs)
        half = self.kernel_size // 2
        if self.stride == 1:
            padding, dilation = DIL_CONV_DILATION * half, DIL_CONV_DILATION
        else:
            x, padding, dilation = x[:, ::2, ::2, :], half, 1
        block = (self.depthwise_kernel, self.pointwise_kernel, self.bn)
        return self._separable_block(x, block, 1, padding, dilation, training, member)

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
        primitives.check_stride(stride)
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
        # Padding with the lowest value and pooling "VALID" is the same maths as explicit
        # padding, and TensorFlow's CPU gradient of it is several times faster.
        padded = tf.pad(inputs, _spatial_padding(POOL_SIZE // 2), constant_values=inputs.dtype.min)
        return tf.nn.max_pool2d(padded, POOL_SIZE, self.stride, "VALID")


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


def create_op(name, channels, stride, affine, layer_name=None, groups=1):
    """Creates the DARTS op `name` mapping C channels to `channels` at `stride`.

    Args:
      name: One of `OPS`.
      channels: Output channels (pools keep their input channels, which must equal this).
      stride: 1, or 2 on the edges of a reduction cell that read the cell's inputs.
      affine: Whether batch norms learn a scale and offset (False in the search supernet).
      layer_name: Name of the layer (Keras picks a unique one by default).
      groups: Copies applied at once to inputs concatenated on the channel axis (see the module
        docstring); ops without weights act per channel and need no copies.

    Returns:
      A Keras layer; skip_connect at stride 1 is a `keras.layers.Identity`.

    Raises:
      ValueError: if `name` is not one of `OPS`.
    """
    if name == "skip_connect":
        if stride == 1:
            return keras.layers.Identity(name=layer_name)
        return FactorizedReduce(channels, affine=affine, groups=groups, name=layer_name)
    if name in ("sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"):
        kernel_size = int(name[-1])
        return SepConv(channels, kernel_size, stride, affine=affine, groups=groups, name=layer_name)
    if name == "dil_conv_3x3":
        return DilConv(channels, 3, stride, affine=affine, groups=groups, name=layer_name)
    if name == "max_pool_3x3":
        return MaxPool(stride, name=layer_name)
    if name == "avg_pool_3x3":
        return AvgPool(stride, name=layer_name)
    raise ValueError(
        f"Invalid value received for argument `name`. Expected one of {OPS}. Received: name={name}"
    )


# The ops with weights: they take `groups` and, when called, `member`.
GROUPED_OPS = (SepConv, DilConv, FactorizedReduce)
