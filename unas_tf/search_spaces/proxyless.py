"""The ProxylessNAS search space of UNAS (Sec. 5, App. E.1): MBConv layers, child network, supernet.

The backbone is ProxylessNAS-GPU's (Cai et al., 2019), as `published.json` describes it under
`proxyless_network`: a 3x3 stride-2 convolution and an expansion-1 MBConv as the stem, 21
searchable layers, a 1x1 convolution to 1728 channels, global average pooling and a dense
classifier. Each searchable layer is one of `genotypes.PROXYLESS_OPS`: an MBConv (1x1 expansion,
depthwise k x k, 1x1 linear projection; MobileNetV2) with kernel 3, 5 or 7 and expansion 3 or 6,
or 'mic_zero', which removes the layer. The first layer of each stage changes the channels (and
may have stride 2), so it has no identity shortcut and cannot be removed; every other layer
keeps the shape and adds its input back.

Convolutions have no bias and symmetric k // 2 padding (PyTorch's); batch norms use eps 1e-5;
activations are ReLU6. The width multiplier scales every channel count, rounded as ProxylessNAS
and MobileNetV2 do (`make_divisible`).

`proxyless_network` builds the plain Keras model of a genotype (removed layers are absent);
`ProxylessSupernet` holds every candidate of every layer under the same layer names, so copying
weights between the two is a loop over names (`copy_supernet_weights`). `ProxylessSpace` is the
space as the search, retraining and launchers see it; its pictures are a labelled heatmap of
the layer choices (`layer_heatmap`) and a drawing of an architecture (`draw_genotype`).
"""

import os
import re
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from unas_tf import config_checks, genotypes, summaries
from unas_tf.search_spaces import base, ops

# The ProxylessNAS-GPU backbone (published.json, key `proxyless_network`).
STEM_CHANNELS = 40
FIRST_BLOCK_CHANNELS = 24
# Output channels of each stage; layer i in CHANNEL_CHANGE_LAYERS starts the next one.
STAGE_CHANNELS = (32, 56, 112, 128, 256, 432)
HEAD_CHANNELS = 1728
STRIDE_2_LAYERS = (1, 5, 9, 17)
STEM_KERNEL_SIZE = 3
CHANNEL_DIVISOR = 8
# The skip choice is dropped out during search so the latency term cannot simply pick it
# everywhere (UNAS App. E.1, after P-DARTS).
DEFAULT_SKIP_DROPOUT_RATE = 0.1
# Candidates whose weight is at most this for every example are not run (as in darts_supernet).
DEFAULT_SKIP_THRESHOLD = 0.05

ZERO_INDEX = genotypes.PROXYLESS_OPS.index(genotypes.PROXYLESS_ZERO)
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
    if not match or op_name not in genotypes.PROXYLESS_OPS:
        raise ValueError(
            "Invalid value received for argument `op_name`. Expected an MBConv op of "
            f"{genotypes.PROXYLESS_OPS[1:]}. Received: op_name={op_name!r}"
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
    for index in range(1, genotypes.NUM_PROXYLESS_LAYERS + 1):
        channel_change = index in genotypes.PROXYLESS_CHANNEL_CHANGE_LAYERS
        if channel_change:
            channels = scale(next(stages))
        plans.append(
            LayerPlan(index, channels, 2 if index in STRIDE_2_LAYERS else 1, channel_change)
        )
    return Backbone(
        scale(STEM_CHANNELS), scale(FIRST_BLOCK_CHANNELS), tuple(plans), scale(HEAD_CHANNELS)
    )


def choice_mask():
    """Returns a [21, 7] bool array: True where a layer may take an op.

    'mic_zero' is not a choice of channel-changing layers; a search should mask those logits,
    and the supernet ignores any weight a sample puts there.
    """
    mask = np.ones(genotypes.proxyless_choice_shapes()["layers"], bool)
    for index in genotypes.PROXYLESS_CHANNEL_CHANGE_LAYERS:
        mask[index - 1, ZERO_INDEX] = False
    return mask


def _padding(kernel_size):
    pad = kernel_size // 2
    return [[0, 0], [pad, pad], [pad, pad], [0, 0]]


def _reduced_size(size, stride):
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
        ops.check_positive("channels", channels)
        ops.check_positive("kernel_size", kernel_size)
        ops.check_stride(stride)
        self.channels = channels
        self.kernel_size = kernel_size
        self.stride = stride

    def build(self, input_shape):
        k, input_channels = self.kernel_size, input_shape[-1]
        self.kernel = self.add_weight(
            shape=(k, k, input_channels, self.channels),
            initializer=ops.kernel_initializer(k * k * input_channels),
            name="kernel",
        )
        self.bn = ops.add_batch_norm_weights(self, "bn", self.channels, affine=True)

    def call(self, inputs, training=False):
        x = tf.nn.conv2d(inputs, self.kernel, self.stride, _padding(self.kernel_size))
        return tf.nn.relu6(ops.batch_norm(x, self.bn, training))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        stride = self.stride
        return (batch, _reduced_size(height, stride), _reduced_size(width, stride), self.channels)

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
        ops.check_positive("channels", channels)
        ops.check_positive("kernel_size", kernel_size)
        ops.check_positive("expand_ratio", expand_ratio)
        ops.check_stride(stride)
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
                initializer=ops.kernel_initializer(input_channels),
                name="expand_kernel",
            )
            self.expand_bn = ops.add_batch_norm_weights(self, "expand_bn", hidden, affine=True)
        k = self.kernel_size
        self.depthwise_kernel = self.add_weight(
            shape=(k, k, hidden, 1),
            initializer=ops.kernel_initializer(k * k),
            name="depthwise_kernel",
        )
        self.depthwise_bn = ops.add_batch_norm_weights(self, "depthwise_bn", hidden, affine=True)
        self.project_kernel = self.add_weight(
            shape=(1, 1, hidden, self.channels),
            initializer=ops.kernel_initializer(hidden),
            name="project_kernel",
        )
        self.project_bn = ops.add_batch_norm_weights(
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
            x = tf.nn.relu6(ops.batch_norm(x, self.expand_bn, training))
        x = tf.nn.depthwise_conv2d(
            x, self.depthwise_kernel, [1, self.stride, self.stride, 1], _padding(self.kernel_size)
        )
        x = tf.nn.relu6(ops.batch_norm(x, self.depthwise_bn, training))
        x = ops.batch_norm(
            tf.nn.conv2d(x, self.project_kernel, 1, "VALID"), self.project_bn, training
        )
        return x + inputs if self.residual else x

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        stride = self.stride
        return (batch, _reduced_size(height, stride), _reduced_size(width, stride), self.channels)

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


def _stem_layers(plan):
    return (
        ConvBNReLU6(plan.stem_channels, STEM_KERNEL_SIZE, stride=2, name="stem_conv"),
        MBConv(plan.first_block_channels, STEM_KERNEL_SIZE, 1, name="stem_mbconv"),
    )


def _layer_op(layer_plan, op_name, name, zero_init_residual=False):
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


def _check_dropout_rate(name, rate):
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
      genotype: a `genotypes.ProxylessGenotype`.
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
    if not isinstance(genotype, genotypes.ProxylessGenotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a ProxylessGenotype. "
            f"Received: genotype={genotype!r}"
        )
    _check_dropout_rate("dropout_rate", dropout_rate)
    plan = backbone(width_multiplier)
    images = keras.Input((image_size, image_size, 3), name="images")
    x = images
    for layer in _stem_layers(plan):
        x = layer(x)
    for layer_plan, op in zip(plan.layers, genotype.layers, strict=True):
        if op == ZERO_INDEX:
            continue
        # The name is the layer's place; the op is in the layer's config.
        x = _layer_op(layer_plan, genotype.ops[op], layer_name(layer_plan.index))(x)
    x = ConvBNReLU6(plan.head_channels, name="head_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="classifier")(x)
    return keras.Model(images, {"logits": logits}, name="proxyless_network")


class MixedLayer(keras.layers.Layer):
    """One searchable layer of the supernet: every candidate op, weighted by the sample.

    The output is sum_k w_k op_k(x) over the ops of `genotypes.PROXYLESS_OPS`; 'mic_zero' is the
    identity (with dropout in training), and channel-changing layers have no such candidate (a
    weight on it is ignored). Each candidate sits in a `tf.cond` on "is its weight above
    `skip_threshold` for some example", so a one-hot sample shared by the batch runs one MBConv,
    exactly (0 + 1 * y == y), and per-example or relaxed samples run only the candidates some
    example weighs. One `tf.switch_case` on the argmax would also run a single MBConv for a
    shared one-hot sample, but measured no cheaper, and dearer with the backward pass (figures
    in bench/README.md). Conds also serve relaxed samples, so they are the one mechanism.

    Args:
      layer_plan: the layer's `LayerPlan`.
      skip_threshold: candidates whose weight is at most this for every example are not run.
      skip_dropout_rate: dropout on the 'mic_zero' output in training (UNAS App. E.1).
      seed: optional int seeding that dropout.
      zero_init_residual: see `MBConv`.
      **kwargs: base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: a [N, H, W, C_in] tensor.
      choice_weights: [S, 7] weights of the ops (S = 1 or N).
      training: Python bool.
      skip_inactive: Python bool; False runs every candidate without control flow.
    """

    def __init__(
        self,
        layer_plan,
        skip_threshold=DEFAULT_SKIP_THRESHOLD,
        skip_dropout_rate=DEFAULT_SKIP_DROPOUT_RATE,
        seed=None,
        zero_init_residual=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_dropout_rate("skip_dropout_rate", skip_dropout_rate)
        self.layer_plan = LayerPlan(*layer_plan)
        self.skip_threshold = skip_threshold
        self.skip_dropout_rate = skip_dropout_rate
        self.seed_generator = keras.random.SeedGenerator(seed)
        # candidates[k] computes op k; None is the identity of 'mic_zero'.
        self.candidates = {
            k: None
            if k == ZERO_INDEX
            else _layer_op(self.layer_plan, name, name, zero_init_residual)
            for k, name in enumerate(genotypes.PROXYLESS_OPS)
            if not (k == ZERO_INDEX and self.layer_plan.channel_change)
        }

    def build(self, input_shape):
        for candidate in self.candidates.values():
            if candidate is not None:
                candidate.build(input_shape)

    def _candidate(self, k, inputs, training):
        candidate = self.candidates[k]
        if candidate is not None:
            return candidate(inputs, training=training)
        if training and self.skip_dropout_rate:
            return keras.random.dropout(inputs, self.skip_dropout_rate, seed=self.seed_generator)
        return inputs

    def call(self, inputs, choice_weights, training=False, skip_inactive=True):
        weights = tf.cast(choice_weights, inputs.dtype)[:, :, None, None, None]
        if not skip_inactive:
            return tf.add_n(
                [weights[:, k] * self._candidate(k, inputs, training) for k in self.candidates]
            )
        active = tf.unstack(tf.reduce_any(weights[:, :, 0, 0, 0] > self.skip_threshold, axis=0))
        # The sum is threaded through the conds, so a skipped candidate passes it on instead of
        # adding zeros.
        total = tf.zeros(self._output_shape(inputs), inputs.dtype)
        for k in self.candidates:

            def accumulate(total=total, k=k):
                return total + weights[:, k] * self._candidate(k, inputs, training)

            total = tf.cond(active[k], accumulate, lambda total=total: tf.identity(total))
        return total

    def _output_shape(self, inputs):
        shape = tf.shape(inputs)
        stride = self.layer_plan.stride
        height, width = (shape[1] + stride - 1) // stride, (shape[2] + stride - 1) // stride
        return [shape[0], height, width, self.layer_plan.channels]

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        stride = self.layer_plan.stride
        return (
            batch,
            _reduced_size(height, stride),
            _reduced_size(width, stride),
            self.layer_plan.channels,
        )


class ProxylessSupernet(keras.layers.Layer):
    """The search network of the ProxylessNAS space: stem, 21 mixed layers, head.

    Stem, head and candidate ops are those of `proxyless_network`, under the same names, so a
    one-hot sample with the weights copied across (`copy_supernet_weights`) reproduces the child
    network's logits. Batch norms are affine, as in ProxylessNAS.

    `zero_init_residual` is not ProxylessNAS's (its batch-norm scales start at one) and is off
    by default. A short search may want it: a supernet trained on a different path each step
    sees every residual layer's candidates change under it. Started as the identity, the
    residual layers join in as they learn: a width-0.25 supernet on digits reached 0.28 train
    accuracy after 600 steps, against 0.19 with the scales at one
    (configs/search/proxyless_digits.py).

    Args:
      num_classes: classifier outputs.
      width_multiplier: scale of every channel count.
      skip_threshold: see `MixedLayer`.
      skip_dropout_rate: see `MixedLayer`.
      seed: optional int seeding the skip dropout.
      zero_init_residual: start every residual candidate as the identity (see `MBConv`).
      **kwargs: base layer keyword arguments.

    Call arguments:
      images: [N, H, W, 3].
      sample: {"layers": [S, 21, 7]} with S = 1 (one architecture for the batch) or S = N (one
        per example); one-hot or relaxed (`genotypes.proxyless_choice_shapes`).
      training: Python bool.
      skip_inactive: Python bool. True runs only candidates whose weight exceeds
        `skip_threshold` for some example (cheapest to run); False runs every candidate without
        control flow (cheapest to differentiate).
      one_hot: Python bool, the DARTS supernet's promise that `sample` is one-hot; accepted
        for the search step's common call, and needs nothing here: the conds that skip
        inactive candidates already run a one-hot sample's choice alone.

    Returns:
      [N, num_classes] logits.
    """

    def __init__(
        self,
        num_classes,
        width_multiplier=1.0,
        skip_threshold=DEFAULT_SKIP_THRESHOLD,
        skip_dropout_rate=DEFAULT_SKIP_DROPOUT_RATE,
        seed=None,
        zero_init_residual=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.width_multiplier = width_multiplier
        self.plan = backbone(width_multiplier)
        self.stem = list(_stem_layers(self.plan))
        self.mixed_layers = [
            MixedLayer(
                layer_plan,
                skip_threshold=skip_threshold,
                skip_dropout_rate=skip_dropout_rate,
                seed=None if seed is None else seed + layer_plan.index,
                zero_init_residual=zero_init_residual,
                name=layer_name(layer_plan.index),
            )
            for layer_plan in self.plan.layers
        ]
        self.head = ConvBNReLU6(self.plan.head_channels, name="head_conv")
        self.classifier = keras.layers.Dense(num_classes, name="classifier")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in (*self.stem, *self.mixed_layers, self.head):
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.classifier.build((shape[0], shape[-1]))

    def call(self, images, sample, training=False, skip_inactive=True, one_hot=False):
        del one_hot  # see the docstring
        x = images
        for layer in self.stem:
            x = layer(x, training=training)
        choices = sample["layers"]
        for i, layer in enumerate(self.mixed_layers):
            x = layer(x, choices[:, i], training=training, skip_inactive=skip_inactive)
        x = self.head(x, training=training)
        return self.classifier(tf.reduce_mean(x, axis=[1, 2]))


def copy_supernet_weights(supernet, child, genotype):
    """Copies a supernet's weights for `genotype` into its child network (`proxyless_network`).

    Args:
      supernet: a built `ProxylessSupernet`.
      child: `proxyless_network(genotype, ...)` at the supernet's width and classes.
      genotype: the child's `genotypes.ProxylessGenotype`.
    """
    pairs = [(layer, child.get_layer(layer.name)) for layer in supernet.stem]
    pairs += [(supernet.head, child.get_layer("head_conv"))]
    pairs += [(supernet.classifier, child.get_layer("classifier"))]
    for mixed, op in zip(supernet.mixed_layers, genotype.layers, strict=True):
        if op != ZERO_INDEX:
            pairs.append((mixed.candidates[op], child.get_layer(mixed.name)))
    for source, target in pairs:
        for source_weight, target_weight in zip(source.weights, target.weights, strict=True):
            target_weight.assign(source_weight)


# Pictures.

# Fill of an MBConv box by kernel size; a box's height also grows with the kernel size and its
# width with the expansion ratio, so the figure reads without a legend.
_KERNEL_COLORS = {3: "#9ecae1", 5: "#fdae6b", 7: "#fb6a4a"}
_BOX_HEIGHT_PER_KERNEL = 0.25  # a k x k layer's box is k times this tall
_BOX_WIDTH_PER_EXPANSION = 0.12  # an expansion-e layer's box is e times this wide


def op_label(op_name):
    """A short label of a layer choice: "MB6 k5" (expansion 6, kernel 5) or "zero/skip"."""
    if op_name == genotypes.PROXYLESS_ZERO:
        return "zero/skip"
    kernel_size, expand_ratio = mbconv_spec(op_name)
    return f"MB{expand_ratio} k{kernel_size}"


def layer_heatmap(probabilities):
    """Returns the layer choices' probabilities as a labelled [1, H, W, 4] heatmap image.

    Args:
      probabilities: [21, 7] array, the softmax of the masked layer logits (rows: layers 1-21,
        columns: `genotypes.PROXYLESS_OPS`). The choices the mask rules out ('mic_zero' on a
        channel-changing layer) are left blank rather than shown as a 0.00.
    """
    matrix = np.where(choice_mask(), np.asarray(probabilities, float), np.nan)
    rows = [
        f"layer {plan.index}" + (" (stride 2)" if plan.stride == 2 else "")
        for plan in backbone().layers
    ]
    fig = summaries.figure((7, 9))
    summaries.draw_heatmap(
        fig.subplots(),
        matrix,
        rows,
        [op_label(op) for op in genotypes.PROXYLESS_OPS],
        "layer choice probabilities (blank: not a choice)",
    )
    fig.tight_layout()
    return summaries.png_image(lambda buffer: fig.savefig(buffer, format="png", dpi=72))


def draw_genotype(genotype, path):
    """Saves a PNG of a ProxylessNAS-space architecture: stem, its 21 layers in order, head.

    Each MBConv layer is a box labelled "MB6 k5", its height growing with the kernel size and
    its width with the expansion ratio; a skipped layer ('mic_zero') is a dashed outline. Layers
    of stride 2 are marked "/2", and a dotted line starts each stage, labelled with the stage's
    output channels at width 1.0 (a width multiplier scales them all). The fixed stem and head
    are grey boxes of one size.

    Args:
      genotype: a `genotypes.ProxylessGenotype`.
      path: destination PNG file, or a binary file object (TensorBoard images use a buffer).

    Raises:
      ValueError: `genotype` is not a ProxylessNAS genotype.
    """
    from matplotlib import patches

    if not isinstance(genotype, genotypes.ProxylessGenotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a ProxylessGenotype. "
            f"Received: genotype={genotype!r}"
        )
    plan = backbone()
    fig = summaries.figure((20, 4.2))
    axes = fig.subplots()
    top = 7 * _BOX_HEIGHT_PER_KERNEL / 2

    def box(x, label, kernel_size, expand_ratio, fill, dashed=False):
        width = expand_ratio * _BOX_WIDTH_PER_EXPANSION
        height = kernel_size * _BOX_HEIGHT_PER_KERNEL
        axes.add_patch(
            patches.FancyBboxPatch(
                (x - width / 2, -height / 2),
                width,
                height,
                boxstyle="round,pad=0.02",
                facecolor=fill,
                edgecolor="gray" if dashed else "black",
                linestyle="--" if dashed else "-",
            )
        )
        axes.text(x, 0, label, ha="center", va="center", rotation=90, fontsize=10)

    fixed = "#e0e0e0"
    box(-2, f"conv k{STEM_KERNEL_SIZE} /2", STEM_KERNEL_SIZE, 6, fixed)
    box(-1, f"MB1 k{STEM_KERNEL_SIZE}", STEM_KERNEL_SIZE, 6, fixed)
    for layer_plan, op in zip(plan.layers, genotype.layers, strict=True):
        x = layer_plan.index
        if op == ZERO_INDEX:
            box(x, "skip", 3, 3, "white", dashed=True)
        else:
            kernel_size, expand_ratio = mbconv_spec(genotype.ops[op])
            label = op_label(genotype.ops[op])
            box(x, label, kernel_size, expand_ratio, _KERNEL_COLORS[kernel_size])
        axes.text(x, -top - 0.25, str(x), ha="center", va="top", fontsize=9)
        if layer_plan.stride == 2:
            axes.text(x, top + 0.1, "/2", ha="center", va="bottom", fontsize=10, weight="bold")
        if layer_plan.channel_change:
            axes.axvline(x - 0.5, color="gray", linestyle=":", linewidth=1)
            axes.text(
                x - 0.4,
                top + 0.55,
                f"{layer_plan.channels} ch",
                ha="left",
                fontsize=9,
                color="dimgray",
            )
    head = genotypes.NUM_PROXYLESS_LAYERS + 1
    axes.axvline(head - 0.5, color="gray", linestyle=":", linewidth=1)
    box(head, "conv k1", 3, 6, fixed)
    box(head + 1, "pool, FC", 3, 6, fixed)
    skipped = sum(op == ZERO_INDEX for op in genotype.layers)
    axes.set_title(
        f"ProxylessNAS-space architecture: {genotypes.NUM_PROXYLESS_LAYERS - skipped} MBConv "
        f"layers, {skipped} skipped (channels at width 1.0)",
        fontsize=12,
    )
    axes.set_xlim(-2.6, head + 1.6)
    axes.set_ylim(-top - 0.7, top + 1.0)
    axes.axis("off")
    fig.tight_layout()
    fig.savefig(path if hasattr(path, "write") else os.fspath(path), format="png", dpi=100)


@base.register
class ProxylessSpace(base.SearchSpace):
    """21 MBConv layers with 7 choices each (UNAS Sec. 5, App. E), searched with latency."""

    name = genotypes.ProxylessGenotype.space
    networks = ("proxyless",)
    measures_latency = True

    search_rules = {
        "width_multiplier": config_checks.POSITIVE,
        "skip_dropout_rate": config_checks.FRACTION,
        "zero_init_residual": config_checks.BOOLEAN,
    }
    network_rules = {
        "width_multiplier": config_checks.POSITIVE,
        "dropout_rate": config_checks.with_meaning(config_checks.FRACTION, "(a probability)"),
    }

    def ops(self, config):
        return genotypes.PROXYLESS_OPS

    def choice_shapes(self, config):
        return genotypes.proxyless_choice_shapes()

    def choice_masks(self, config):
        return {"layers": choice_mask()}

    def build_supernet(self, config, num_classes):
        return ProxylessSupernet(
            num_classes,
            config.width_multiplier,
            skip_dropout_rate=config.skip_dropout_rate,
            seed=config.seed,
            zero_init_residual=config.zero_init_residual,
        )

    def genotype_from_indices(self, indices, ops):
        return genotypes.proxyless_from_indices(indices)

    def epoch_summaries(self, logits, genotype):
        """A heatmap of the layer choices' probabilities and a drawing of the argmax genotype."""
        probabilities = tf.nn.softmax(logits["layers"]).numpy()
        tf.summary.image("layer_probabilities", layer_heatmap(probabilities))
        drawing = summaries.png_image(lambda buffer: draw_genotype(genotype, buffer))
        tf.summary.image("architecture", drawing)

    def describe(self, genotype):
        return ["  layers: " + ", ".join(genotype.ops[op] for op in genotype.layers)]

    def genotype_to_dict(self, genotype):
        return genotypes.proxyless_to_dict(genotype)

    def genotype_from_dict(self, data):
        return genotypes.proxyless_from_dict(data)

    def random_genotype(self, seed, config):
        return genotypes.random_proxyless(seed)

    def build_network(self, genotype, config):
        return proxyless_network(
            genotype,
            num_classes=config.num_classes,
            width_multiplier=config.width_multiplier,
            image_size=config.image_size,
            dropout_rate=config.dropout_rate,
        )

    def network_report(self, model, genotype, config):
        """The width and each searchable layer's op and output shape (a skipped one keeps its
        input's shape)."""
        rows, shape = [], list(model.get_layer("stem_mbconv").output.shape[1:])
        for index, op in enumerate(genotype.layers, start=1):
            if op != ZERO_INDEX:
                shape = list(model.get_layer(layer_name(index)).output.shape[1:])
            rows.append({"index": index, "op": genotype.ops[op], "output_shape": shape})
        return {
            "width_multiplier": config.width_multiplier,
            "searchable_layers": rows,
        }

    def draw(self, genotype, path):
        draw_genotype(genotype, path)
