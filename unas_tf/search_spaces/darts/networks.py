"""Evaluation networks of the DARTS space, built from a genotype as plain Keras models.

A genotype is duck-typed: `.ops` names the ops (`ops.OPS` order), `.normal` and `.reduce` list
the cell's nodes, each with `.inputs` (two state indices: 0 = output of cell k-2, 1 = output of
cell k-1, 2 + m = node m) and `.ops` (two indices into `.ops`). The structures follow DARTS
(Liu et al., 2019) as UNAS (Vahdat et al., CVPR 2020) evaluates them; tests/darts_networks_test.py
checks the sizes against the parameter counts the papers report.

Both builders return a functional `keras.Model` mapping [N, S, S, 3] images to a dict:
{"logits": [N, num_classes]} plus, when `auxiliary=True`, "aux_logits": [N, num_classes] from
the auxiliary head (a training aid, weighted 0.4 in the loss, not part of the reported size).
"""

from typing import NamedTuple

import keras
import tensorflow as tf

from unas_tf import model_size
from unas_tf.search_spaces import primitives
from unas_tf.search_spaces.darts import ops

AUX_POOL_SIZE = 5
AUX_CHANNELS = (128, 768)
CIFAR_STEM_MULTIPLIER = 3
CIFAR_AUX_POOL_STRIDE = 3
IMAGENET_AUX_POOL_STRIDE = 2
# The auxiliary head is named so that model_size leaves it out of the reported size.
AUXILIARY_HEAD_NAME = model_size.AUXILIARY_PREFIX + "_head"


def _check_drop_path_rate(rate):
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            "Invalid value received for argument `drop_path_rate`. Expected a probability in "
            f"[0, 1). Received: drop_path_rate={rate}"
        )


@keras.saving.register_keras_serializable(package="unas_tf")
class Stem(keras.layers.Layer):
    """Maps images to (s0, s1), the first cell's two inputs; shared by search and evaluation.

    "cifar": 3x3 conv to 3C, BN; s0 = s1. "imagenet" (mobile setting): stem0 = 3x3 stride-2
    conv to C/2, BN, ReLU, 3x3 stride-2 conv to C, BN; stem1 = ReLU, 3x3 stride-2 conv, BN;
    s0 = stem0's output, s1 = stem1's (224 -> 28 pixels). The first ImageNet cell then counts as
    following a reduction (`reduction_prev`).

    Args:
      kind: "cifar" or "imagenet".
      init_channels: C.
      **kwargs: base layer keyword arguments, e.g. `name`.

    Call arguments:
      images: [N, S, S, 3].
      training: Python bool.
    """

    KINDS = ("cifar", "imagenet")

    def __init__(self, kind, init_channels, **kwargs):
        super().__init__(**kwargs)
        if kind not in self.KINDS:
            raise ValueError(
                f"Invalid value received for argument `kind`. Expected one of {self.KINDS}. "
                f"Received: kind={kind!r}"
            )
        self.kind = kind
        self.init_channels = init_channels
        if kind == "cifar":
            channels = CIFAR_STEM_MULTIPLIER * init_channels
            self.convs = [ops.ReLUConvBN(channels, kernel_size=3, relu=False, name="conv")]
        else:
            self.convs = [
                ops.ReLUConvBN(init_channels // 2, 3, stride=2, relu=False, name="stem0_conv1"),
                ops.ReLUConvBN(init_channels, 3, stride=2, name="stem0_conv2"),
                ops.ReLUConvBN(init_channels, 3, stride=2, name="stem1"),
            ]

    @property
    def reduction_prev(self):
        """Whether the first cell's input 0 is twice the resolution of its input 1."""
        return self.kind == "imagenet"

    def _input_shapes(self, input_shape):
        shapes = [tuple(input_shape)]
        for conv in self.convs[:-1]:
            shapes.append(conv.compute_output_shape(shapes[-1]))
        return shapes

    def build(self, input_shape):
        for conv, shape in zip(self.convs, self._input_shapes(input_shape), strict=True):
            conv.build(shape)

    def call(self, images, training=False):
        outputs, x = [], images
        for conv in self.convs:
            x = conv(x, training=training)
            outputs.append(x)
        return (x, x) if self.kind == "cifar" else (outputs[1], outputs[2])

    def compute_output_shape(self, input_shape):
        shapes = self._input_shapes(input_shape)
        last = self.convs[-1].compute_output_shape(shapes[-1])
        return (last, last) if self.kind == "cifar" else (shapes[-1], last)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example given the image shape."""
        shapes = self._input_shapes(input_shape)
        return sum(
            conv.multiply_adds(shape) for conv, shape in zip(self.convs, shapes, strict=True)
        )

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "init_channels": self.init_channels}


@keras.saving.register_keras_serializable(package="unas_tf")
class Cell(keras.layers.Layer):
    """A DARTS cell of an evaluation network: preprocessing, two ops per node, concatenation.

    preprocess0 maps the output of cell k-2 to C channels (a FactorizedReduce when cell k-1 was
    a reduction cell, so that both inputs share a resolution), preprocess1 maps the output of
    cell k-1. Node m sums op0(state[in0]) + op1(state[in1]); the cell outputs the concatenation
    of its nodes. In a reduction cell, the ops reading the cell inputs have stride 2.

    Drop-path (DARTS, after FractalNet): in training, each non-identity branch output is zeroed
    per example with probability `drop_path_rate` and the kept ones scaled by 1 / (1 - p). The
    rate is a non-trainable variable so that training can ramp it (`set_drop_path_rate`).

    Args:
      channels: C, the channels of every node.
      node_inputs: Per node, a pair of state indices.
      node_ops: Per node, a pair of op names from `ops.OPS`.
      reduction: Whether this cell halves the resolution.
      reduction_prev: Whether the previous cell did (its input 0 is then twice as large).
      drop_path_rate: Initial drop-path probability.
      seed: Optional int seeding the drop-path masks.
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A pair [output of cell k-2, output of cell k-1], NHWC.
      training: Python bool; enables drop-path and batch statistics.
    """

    def __init__(
        self,
        channels,
        node_inputs,
        node_ops,
        reduction,
        reduction_prev,
        drop_path_rate=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        node_inputs = [[int(i) for i in pair] for pair in node_inputs]
        node_ops = [[str(name) for name in pair] for pair in node_ops]
        if len(node_inputs) != len(node_ops) or not node_inputs:
            raise ValueError(
                "Invalid value received for arguments `node_inputs` and `node_ops`. Expected "
                f"one pair of each per node. Received: node_inputs={node_inputs}, "
                f"node_ops={node_ops}"
            )
        for node, pair in enumerate(node_inputs):
            if len(pair) != 2 or not all(0 <= i < 2 + node for i in pair):
                raise ValueError(
                    "Invalid value received for argument `node_inputs`. Expected node m to read "
                    f"two of the states 0..m+1. Received: node_inputs={node_inputs}"
                )
        _check_drop_path_rate(drop_path_rate)
        self.channels = channels
        self.node_inputs = node_inputs
        self.node_ops = node_ops
        self.reduction = reduction
        self.reduction_prev = reduction_prev
        self.initial_drop_path_rate = drop_path_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        if reduction_prev:
            self.preprocess0 = ops.FactorizedReduce(channels, name="preprocess0")
        else:
            self.preprocess0 = ops.ReLUConvBN(channels, name="preprocess0")
        self.preprocess1 = ops.ReLUConvBN(channels, name="preprocess1")
        self.edges = [
            ops.create_op(
                name,
                channels,
                self._stride(state),
                affine=True,
                layer_name=f"node{node}_edge{edge}_{name}",
            )
            for node, (inputs, names) in enumerate(zip(node_inputs, node_ops, strict=True))
            for edge, (state, name) in enumerate(zip(inputs, names, strict=True))
        ]

    def _stride(self, state):
        return 2 if self.reduction and state < 2 else 1

    def _edge_input_shapes(self, input_shape):
        """The shape of the state each edge reads, edges in node order.

        The two cell inputs, once preprocessed, have input 1's resolution; the nodes have the
        cell's output resolution, which a reduction cell has already halved: there only the
        edges reading the cell inputs have stride 2, the others run at the reduced size.
        """
        batch, height, width, _ = input_shape[1]
        _, node_height, node_width, _ = self.compute_output_shape(input_shape)
        cell_input = (batch, height, width, self.channels)
        node = (batch, node_height, node_width, self.channels)
        return [cell_input if state < 2 else node for pair in self.node_inputs for state in pair]

    def build(self, input_shape):
        self.preprocess0.build(input_shape[0])
        self.preprocess1.build(input_shape[1])
        for edge, shape in zip(self.edges, self._edge_input_shapes(input_shape), strict=True):
            edge.build(shape)
        self.drop_path_rate = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_drop_path_rate),
            trainable=False,
            name="drop_path_rate",
        )

    def _drop_path(self, x):
        keep = 1.0 - self.drop_path_rate
        # floor(keep + U[0, 1)) is 1 with probability keep; exactly 1 when keep == 1.
        noise = keras.random.uniform([tf.shape(x)[0], 1, 1, 1], seed=self.seed_generator)
        return x / keep * tf.floor(keep + noise)

    def call(self, inputs, training=False):
        s0, s1 = inputs
        states = [self.preprocess0(s0, training=training), self.preprocess1(s1, training=training)]
        edges = iter(self.edges)
        for pair in self.node_inputs:
            branches = []
            for state in pair:
                edge = next(edges)
                branch = edge(states[state], training=training)
                if training and not isinstance(edge, keras.layers.Identity):
                    branch = self._drop_path(branch)
                branches.append(branch)
            states.append(tf.add_n(branches))
        return tf.concat(states[2:], axis=-1)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape[1]
        if self.reduction:
            height, width = -(-height // 2), -(-width // 2)
        return (batch, height, width, len(self.node_inputs) * self.channels)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example given the shapes of the two inputs."""
        total = self.preprocess0.multiply_adds(input_shape[0])
        total += self.preprocess1.multiply_adds(input_shape[1])
        for edge, shape in zip(self.edges, self._edge_input_shapes(input_shape), strict=True):
            if not isinstance(edge, keras.layers.Identity):
                total += edge.multiply_adds(shape)
        return total

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "node_inputs": self.node_inputs,
            "node_ops": self.node_ops,
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "drop_path_rate": self.initial_drop_path_rate,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="unas_tf")
class AuxiliaryHead(keras.layers.Layer):
    """The DARTS auxiliary classifier, attached after the second reduction cell in training.

    ReLU, 5x5 average pooling (no padding), 1x1 conv -> 128, BN, ReLU, 2x2 conv -> 768, BN,
    ReLU, dense -> classes. At the published sizes the 2x2 conv leaves 1x1 pixels; any larger
    remainder is averaged.

    Args:
      num_classes: Number of logits.
      pool_stride: 3 for CIFAR (8x8 input), 2 for ImageNet (7x7 input).
      **kwargs: Base layer keyword arguments, e.g. `name`.

    Call arguments:
      inputs: A [N, H, W, C] tensor with H, W >= 6.
      training: Python bool; batch statistics in training, moving statistics otherwise.
    """

    def __init__(self, num_classes, pool_stride, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.pool_stride = pool_stride

    def _pooled_size(self, size):
        return (size - AUX_POOL_SIZE) // self.pool_stride + 1

    def build(self, input_shape):
        _, height, width, input_channels = input_shape
        if min(height, width) < AUX_POOL_SIZE + 1:
            raise ValueError(
                "Invalid input shape for the auxiliary head. Expected at least "
                f"{AUX_POOL_SIZE + 1}x{AUX_POOL_SIZE + 1} pixels (a 5x5 pooling then a 2x2 "
                f"convolution). Received: input_shape={input_shape}"
            )
        hidden, features = AUX_CHANNELS
        self.conv_kernel_1 = self.add_weight(
            shape=(1, 1, input_channels, hidden),
            initializer=primitives.kernel_initializer(input_channels),
            name="conv_kernel_1",
        )
        self.bn_1 = primitives.add_batch_norm_weights(self, "bn_1", hidden, affine=True)
        self.conv_kernel_2 = self.add_weight(
            shape=(2, 2, hidden, features),
            initializer=primitives.kernel_initializer(4 * hidden),
            name="conv_kernel_2",
        )
        self.bn_2 = primitives.add_batch_norm_weights(self, "bn_2", features, affine=True)
        self.dense_kernel = self.add_weight(
            shape=(features, self.num_classes), initializer="glorot_uniform", name="dense_kernel"
        )
        self.dense_bias = self.add_weight(
            shape=(self.num_classes,), initializer="zeros", name="dense_bias"
        )

    def call(self, inputs, training=False):
        x = tf.nn.avg_pool2d(tf.nn.relu(inputs), AUX_POOL_SIZE, self.pool_stride, "VALID")
        x = primitives.batch_norm(
            tf.nn.conv2d(x, self.conv_kernel_1, 1, "VALID"), self.bn_1, training
        )
        x = tf.nn.relu(x)
        x = primitives.batch_norm(
            tf.nn.conv2d(x, self.conv_kernel_2, 1, "VALID"), self.bn_2, training
        )
        x = tf.reduce_mean(tf.nn.relu(x), axis=[1, 2])
        return tf.matmul(x, self.dense_kernel) + self.dense_bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def multiply_adds(self, input_shape):
        """Multiply-adds for one example of shape [N, H, W, C] (N ignored)."""
        _, height, width, input_channels = input_shape
        height, width = self._pooled_size(height), self._pooled_size(width)
        hidden, features = AUX_CHANNELS
        conv_1 = height * width * input_channels * hidden
        conv_2 = (height - 1) * (width - 1) * 4 * hidden * features
        return conv_1 + conv_2 + features * self.num_classes

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "pool_stride": self.pool_stride,
        }


def _cell_spec(genotype, nodes):
    node_inputs = [list(node.inputs) for node in nodes]
    node_ops = [[genotype.ops[i] for i in node.ops] for node in nodes]
    return node_inputs, node_ops


class CellPlan(NamedTuple):
    """A cell's place in a DARTS network: its channels, and whether it or its input reduces."""

    channels: int
    reduction: bool
    reduction_prev: bool


def auxiliary_cell(layers):
    """Index of the cell whose output feeds the auxiliary head: the second reduction cell."""
    return 2 * layers // 3


def cell_plans(layers, init_channels, reduction_prev=False):
    """Plans the `layers` cells of a DARTS network, search supernet and evaluation network alike.

    Cells L//3 and 2L//3 are reduction cells and double the channels.

    Args:
      layers: number of cells, L.
      init_channels: C of the first cells.
      reduction_prev: whether the stem counts as a reduction (ImageNet networks).

    Returns:
      A list of `CellPlan`, one per cell.
    """
    reduction_cells = (layers // 3, auxiliary_cell(layers))
    plans, channels = [], init_channels
    for index in range(layers):
        reduction = index in reduction_cells
        channels *= 2 if reduction else 1
        plans.append(CellPlan(channels, reduction, reduction_prev))
        reduction_prev = reduction
    return plans


def _cells(genotype, s0, s1, channels, layers, reduction_prev, drop_path_rate, auxiliary):
    """Stacks `layers` cells on the stem outputs; returns the last output and the aux input."""
    normal = _cell_spec(genotype, genotype.normal)
    reduce = _cell_spec(genotype, genotype.reduce)
    aux_input = None
    for i, plan in enumerate(cell_plans(layers, channels, reduction_prev)):
        node_inputs, node_ops = reduce if plan.reduction else normal
        cell = Cell(
            plan.channels,
            node_inputs,
            node_ops,
            reduction=plan.reduction,
            reduction_prev=plan.reduction_prev,
            drop_path_rate=drop_path_rate,
            name=f"cell_{i}",
        )
        s0, s1 = s1, cell([s0, s1])
        if i == auxiliary_cell(layers) and auxiliary:
            aux_input = s1
    return s1, aux_input


def _outputs(features, aux_input, num_classes, aux_pool_stride):
    pooled = keras.layers.GlobalAveragePooling2D(name="global_pool")(features)
    outputs = {"logits": keras.layers.Dense(num_classes, name="classifier")(pooled)}
    if aux_input is not None:
        head = AuxiliaryHead(num_classes, aux_pool_stride, name=AUXILIARY_HEAD_NAME)
        outputs["aux_logits"] = head(aux_input)
    return outputs


# Per stem: the auxiliary head's pooling stride (its input is 8x8 on CIFAR, 14x14 on ImageNet).
AUX_POOL_STRIDES = {"cifar": CIFAR_AUX_POOL_STRIDE, "imagenet": IMAGENET_AUX_POOL_STRIDE}


def _network(
    kind, genotype, num_classes, init_channels, layers, auxiliary, drop_path_rate, image_size
):
    """Stem of `kind`, the cells, the heads: the body both public builders share."""
    _check_drop_path_rate(drop_path_rate)
    images = keras.Input((image_size, image_size, 3), name="images")
    stem = Stem(kind, init_channels, name="stem")
    s0, s1 = stem(images)
    features, aux_input = _cells(
        genotype, s0, s1, init_channels, layers, stem.reduction_prev, drop_path_rate, auxiliary
    )
    outputs = _outputs(features, aux_input, num_classes, AUX_POOL_STRIDES[kind])
    return keras.Model(images, outputs, name=f"darts_{kind}_network")


def cifar_network(
    genotype,
    num_classes,
    init_channels=36,
    layers=20,
    auxiliary=True,
    drop_path_rate=0.0,
    image_size=32,
):
    """Builds the CIFAR evaluation network of `genotype` (DARTS NetworkCIFAR).

    Stem: 3x3 conv to 3C, BN. Cells L//3 and 2L//3 are reduction cells and double C. Head:
    global average pooling, dense. The auxiliary head reads the output of cell 2L//3 (8x8).

    Args:
      genotype: A DARTS genotype (see the module docstring).
      num_classes: Number of classes.
      init_channels: C of the first cells.
      layers: Number of cells, L.
      auxiliary: Whether to add the auxiliary head and its "aux_logits" output.
      drop_path_rate: Initial drop-path probability of every cell.
      image_size: Side of the square input images.

    Returns:
      A `keras.Model` from images to {"logits"[, "aux_logits"]}.
    """
    return _network(
        "cifar", genotype, num_classes, init_channels, layers, auxiliary, drop_path_rate, image_size
    )


def imagenet_network(
    genotype,
    num_classes=1000,
    init_channels=48,
    layers=14,
    auxiliary=True,
    drop_path_rate=0.0,
    image_size=224,
):
    """Builds the ImageNet evaluation network of `genotype` (DARTS NetworkImageNet).

    stem0: 3x3 stride-2 conv to C/2, BN, ReLU, 3x3 stride-2 conv to C, BN; stem1: ReLU, 3x3
    stride-2 conv, BN (224 -> 28 pixels). The first cell counts as following a reduction, so it
    reduces stem0's output with a FactorizedReduce. Cells L//3 and 2L//3 reduce and double C.
    Head: global (7x7) average pooling, dense. The auxiliary head reads cell 2L//3's output.

    Args:
      genotype: A DARTS genotype (see the module docstring).
      num_classes: Number of classes.
      init_channels: C (even); 46 with 14 cells is UNAS's mobile setting (< 600M
        multiply-adds: 548.6M for UNAS_IMAGENET; 48 channels would still fit, at 595.2M).
      layers: Number of cells, L.
      auxiliary: Whether to add the auxiliary head and its "aux_logits" output.
      drop_path_rate: Initial drop-path probability of every cell.
      image_size: Side of the square input images.

    Returns:
      A `keras.Model` from images to {"logits"[, "aux_logits"]}.
    """
    return _network(
        "imagenet",
        genotype,
        num_classes,
        init_channels,
        layers,
        auxiliary,
        drop_path_rate,
        image_size,
    )


def set_drop_path_rate(model, rate):
    """Sets the drop-path probability of every cell of `model` (training ramps it per epoch).

    Args:
      model: A network from `cifar_network` or `imagenet_network`.
      rate: The new probability, in [0, 1).
    """
    _check_drop_path_rate(rate)
    for layer in model.layers:
        if isinstance(layer, Cell):
            layer.drop_path_rate.assign(rate)
