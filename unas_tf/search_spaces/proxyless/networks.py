"""The ProxylessNAS space's backbone, MBConv layers and child network (UNAS Sec. 5, App. E.1).

The backbone is ProxylessNAS-GPU's (Cai et al., 2019), as `published.json` describes it under
`proxyless_network`: a 3x3 stride-2 convolution and an expansion-1 MBConv as the stem, 21
searchable layers, a 1x1 convolution to 1728 channels, global average pooling and a dense
classifier. Each searchable layer is one of `genotype.PROXYLESS_OPS`: an MBConv (1x1 expansion,
depthwise k x k, 1x1 linear projection; MobileNetV2) with kernel 3, 5 or 7 and expansion 3 or 6,
or 'mic_zero', which removes the layer. The first layer of each stage changes the channels (and
may have stride 2), so it has no identity shortcut and cannot be removed; every other layer
keeps the shape and adds its input back.

Convolutions have no bias and symmetric k // 2 padding (PyTorch's); batch norms use eps 1e-5;
activations are ReLU6. The width multiplier scales every channel count, rounded as ProxylessNAS
and MobileNetV2 do (`make_divisible`).

`proxyless_network` builds the plain Keras model of a genotype (removed layers are absent);
the supernet (`supernet.py`) builds its candidates from the same plan and layers.
"""

import re
from typing import NamedTuple

import keras
import tensorflow as tf

from unas_tf.search_spaces import primitives
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

# The ProxylessNAS-GPU backbone (published.json, key `proxyless_network`).
STEM_CHANNELS = 40
FIRST_BLOCK_CHANNELS = 24
# Output channels of each stage; layer i in CHANNEL_CHANGE_LAYERS starts the next one.
STAGE_CHANNELS = (32, 56, 112, 128, 256, 432)
HEAD_CHANNELS = 1728
STRIDE_2_LAYERS = (1, 5, 9, 17)
STEM_KERNEL_SIZE = 3
CHANNEL_DIVISOR = 8

_MBCONV_OP = re.compile(r"mic_(\d)x\d_e(\d)")


def make_divisible(value, divisor=CHANNEL_DIVISOR):
    """Rounds a channel count to a multiple of `divisor`, losing at most 10% (MobileNetV2)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def mbconv_spec(op_name):
    """Returns (kernel_size, expand_ratio) of an MBConv op name such as 'mic_5x5_e3'."""
    match = _MBCONV_OP.fullmatch(op_name)
    if not match or op_name not in proxyless_genotype.PROXYLESS_OPS:
        raise ValueError(
            "Invalid value received for argument `op_name`. Expected an MBConv op of "
            f"{proxyless_genotype.PROXYLESS_OPS[1:]}. Received: op_name={op_name!r}"
        )
    return int(match.group(1)), int(match.group(2))


class LayerPlan(NamedTuple):
    """A searchable layer's place in the backbone.

    Attributes:
      index: 1-based layer number, as in genotypes and published.json.
      channels: output channels (after the width multiplier).
      stride: 1 or 2.
      channel_change: whether the layer starts a stage: no shortcut, cannot be 'mic_zero'.
    """

    index: int
    channels: int
    stride: int
    channel_change: bool


class Backbone(NamedTuple):
    """Channel counts of the fixed parts and the plans of the 21 searchable layers."""

    stem_channels: int
    first_block_channels: int
    layers: tuple
    head_channels: int


def backbone(width_multiplier=1.0):
    """Plans the ProxylessNAS-GPU backbone at a width multiplier.

    Args:
      width_multiplier: positive scale of every channel count.

    Returns:
      A `Backbone`.

    Raises:
      ValueError: `width_multiplier` is not positive.
    """
    if not width_multiplier > 0:
        raise ValueError(
            "Invalid value received for argument `width_multiplier`. Expected a positive "
            f"number. Received: width_multiplier={width_multiplier!r}"
        )

    def scale(channels):
        return make_divisible(channels * width_multiplier)

    stages = iter(STAGE_CHANNELS)
    channels, plans = None, []
    for index in range(1, proxyless_genotype.NUM_PROXYLESS_LAYERS + 1):
        channel_change = index in proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS
        if channel_change:
            channels = scale(next(stages))
        plans.append(
            LayerPlan(index, channels, 2 if index in STRIDE_2_LAYERS else 1, channel_change)
        )
    return Backbone(
        scale(STEM_CHANNELS), scale(FIRST_BLOCK_CHANNELS), tuple(plans), scale(HEAD_CHANNELS)
    )


def _padding(kernel_size):
    pad = kernel_size // 2
    return [[0, 0], [pad, pad], [pad, pad], [0, 0]]


def reduced_size(size, stride):
    return None if size is None else -(-size // stride)


@keras.saving.register_keras_serializable(package="unas_tf")
class ConvBNReLU6(keras.layers.Layer):
    """k x k convolution (padding k // 2, no bias), batch norm, ReLU6: the stem and head convs.

    Args:
      channels: output channels.
      kernel_size: side of the square kernel.
      stride: 1 or 2.
      **kwargs: base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: a [N, H, W, C_in] tensor.
      training: Python bool; batch statistics in training, moving statistics otherwise.
    """

    def __init__(self, channels, kernel_size=1, stride=1, **kwargs):
        super().__init__(**kwargs)
        primitives.check_positive("channels", channels)
        primitives.check_positive("kernel_size", kernel_size)
        primitives.check_stride(stride)
        self.channels = channels
        self.kernel_size = kernel_size
        self.stride = stride

    def build(self, input_shape):
        k, input_channels = self.kernel_size, input_shape[-1]
        self.kernel = self.add_weight(
            shape=(k, k, input_channels, self.channels),
            initializer=primitives.kernel_initializer(k * k * input_channels),
            name="kernel",
        )
        self.bn = primitives.add_batch_norm_weights(self, "bn", self.channels, affine=True)

    def call(self, inputs, training=False):
        x = tf.nn.conv2d(inputs, self.kernel, self.stride, _padding(self.kernel_size))
        return tf.nn.relu6(primitives.batch_norm(x, self.bn, training))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        stride = self.stride
        return (batch, reduced_size(height, stride), reduced_size(width, stride), self.channels)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C_in] (N ignored)."""
        _, height, width, _ = self.compute_output_shape(input_shape)
        return self.kernel_size**2 * input_shape[-1] * self.channels * height * width

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
        }


@keras.saving.register_keras_serializable(package="unas_tf")
class MBConv(keras.layers.Layer):
    """Mobile inverted bottleneck (MobileNetV2): expand, depthwise, project, optional shortcut.

    1x1 convolution to C_in * expand_ratio channels, BN, ReLU6 (left out when the ratio is 1);
    depthwise k x k convolution at `stride`, BN, ReLU6; 1x1 linear convolution to `channels`,
    BN; plus the input when `residual`.

    Args:
      channels: output channels.
      kernel_size: side of the depthwise kernel, odd.
      expand_ratio: positive integer; hidden channels are C_in * expand_ratio.
      stride: 1 or 2.
      residual: whether to add the input (needs stride 1 and C_in == channels).
      zero_init_residual: with `residual`, start the projection's batch-norm scale at zero, so
        the layer starts as the identity (Goyal et al., 2017). ProxylessNAS starts it at one;
        see `ProxylessSupernet` for why a search may not.
      **kwargs: base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: a [N, H, W, C_in] tensor.
      training: Python bool; batch statistics in training, moving statistics otherwise.
    """

    def __init__(
        self,
        channels,
        kernel_size,
        expand_ratio,
        stride=1,
        residual=False,
        zero_init_residual=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        primitives.check_positive("channels", channels)
        primitives.check_positive("kernel_size", kernel_size)
        primitives.check_positive("expand_ratio", expand_ratio)
        primitives.check_stride(stride)
        if residual and stride != 1:
            raise ValueError(
                "Invalid value received for argument `residual`. Expected False at stride 2 "
                f"(the shortcut needs the input's shape). Received: residual={residual}"
            )
        self.channels = channels
        self.kernel_size = kernel_size
        self.expand_ratio = expand_ratio
        self.stride = stride
        self.residual = residual
        self.zero_init_residual = zero_init_residual

    def build(self, input_shape):
        input_channels = input_shape[-1]
        if self.residual and input_channels != self.channels:
            raise ValueError(
                f"Invalid input shape for a residual MBConv of {self.channels} channels. "
                f"Expected {self.channels} input channels. Received: input_shape={input_shape}"
            )
        hidden = input_channels * self.expand_ratio
        if self.expand_ratio != 1:
            self.expand_kernel = self.add_weight(
                shape=(1, 1, input_channels, hidden),
                initializer=primitives.kernel_initializer(input_channels),
                name="expand_kernel",
            )
            self.expand_bn = primitives.add_batch_norm_weights(
                self, "expand_bn", hidden, affine=True
            )
        k = self.kernel_size
        self.depthwise_kernel = self.add_weight(
            shape=(k, k, hidden, 1),
            initializer=primitives.kernel_initializer(k * k),
            name="depthwise_kernel",
        )
        self.depthwise_bn = primitives.add_batch_norm_weights(
            self, "depthwise_bn", hidden, affine=True
        )
        self.project_kernel = self.add_weight(
            shape=(1, 1, hidden, self.channels),
            initializer=primitives.kernel_initializer(hidden),
            name="project_kernel",
        )
        self.project_bn = primitives.add_batch_norm_weights(
            self,
            "project_bn",
            self.channels,
            affine=True,
            gamma_initializer="zeros" if self.residual and self.zero_init_residual else "ones",
        )

    def call(self, inputs, training=False):
        x = inputs
        if self.expand_ratio != 1:
            x = tf.nn.conv2d(x, self.expand_kernel, 1, "VALID")
            x = tf.nn.relu6(primitives.batch_norm(x, self.expand_bn, training))
        x = tf.nn.depthwise_conv2d(
            x, self.depthwise_kernel, [1, self.stride, self.stride, 1], _padding(self.kernel_size)
        )
        x = tf.nn.relu6(primitives.batch_norm(x, self.depthwise_bn, training))
        x = primitives.batch_norm(
            tf.nn.conv2d(x, self.project_kernel, 1, "VALID"), self.project_bn, training
        )
        return x + inputs if self.residual else x

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        stride = self.stride
        return (batch, reduced_size(height, stride), reduced_size(width, stride), self.channels)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C_in] (N ignored)."""
        _, height, width, input_channels = input_shape
        _, out_height, out_width, _ = self.compute_output_shape(input_shape)
        hidden = input_channels * self.expand_ratio
        expand = height * width * input_channels * hidden if self.expand_ratio != 1 else 0
        per_output_pixel = self.kernel_size**2 * hidden + hidden * self.channels
        return expand + out_height * out_width * per_output_pixel

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "kernel_size": self.kernel_size,
            "expand_ratio": self.expand_ratio,
            "stride": self.stride,
            "residual": self.residual,
            "zero_init_residual": self.zero_init_residual,
        }


def stem_layers(plan):
    return (
        ConvBNReLU6(plan.stem_channels, STEM_KERNEL_SIZE, stride=2, name="stem_conv"),
        MBConv(plan.first_block_channels, STEM_KERNEL_SIZE, 1, name="stem_mbconv"),
    )


def layer_op(layer_plan, op_name, name, zero_init_residual=False):
    kernel_size, expand_ratio = mbconv_spec(op_name)
    return MBConv(
        layer_plan.channels,
        kernel_size,
        expand_ratio,
        layer_plan.stride,
        residual=not layer_plan.channel_change,
        zero_init_residual=zero_init_residual,
        name=name,
    )


def layer_name(index):
    """Name of searchable layer `index` (1-based) in child networks and supernets alike."""
    return f"layer_{index}"


def check_dropout_rate(name, rate):
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a probability in [0, 1). "
            f"Received: {name}={rate!r}"
        )


def proxyless_network(
    genotype, num_classes=1000, width_multiplier=1.0, image_size=224, dropout_rate=0.0
):
    """Builds the plain Keras model of a ProxylessNAS-space genotype.

    Layers whose op is 'mic_zero' are absent. The MBConv of searchable layer i is named
    "layer_{i}", as the supernet's mixed layer for it, so weights copy across by name.

    Args:
      genotype: a `proxyless_genotype.ProxylessGenotype`.
      num_classes: classifier outputs.
      width_multiplier: scale of every channel count (1.0: ProxylessNAS-GPU, 7.1M parameters
        and 465M multiply-adds at 224x224 with 1000 classes).
      image_size: side of the square input images.
      dropout_rate: dropout before the classifier in training.

    Returns:
      A functional `keras.Model` from [N, S, S, 3] images to {"logits": [N, num_classes]}.

    Raises:
      ValueError: `genotype` is not a ProxylessNAS genotype, or a size is invalid.
    """
    if not isinstance(genotype, proxyless_genotype.ProxylessGenotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a ProxylessGenotype. "
            f"Received: genotype={genotype!r}"
        )
    check_dropout_rate("dropout_rate", dropout_rate)
    plan = backbone(width_multiplier)
    images = keras.Input((image_size, image_size, 3), name="images")
    x = images
    for layer in stem_layers(plan):
        x = layer(x)
    for layer_plan, op in zip(plan.layers, genotype.layers, strict=True):
        if op == proxyless_genotype.ZERO_INDEX:
            continue
        # The name is the layer's place; the op is in the layer's config.
        x = layer_op(layer_plan, genotype.ops[op], layer_name(layer_plan.index))(x)
    x = ConvBNReLU6(plan.head_channels, name="head_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="classifier")(x)
    return keras.Model(images, {"logits": logits}, name="proxyless_network")
