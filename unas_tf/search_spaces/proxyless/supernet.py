"""The ProxylessNAS space's supernet: every candidate of every layer, weighted by the sample.

Stem, head and candidate ops are the child network's (`networks.proxyless_network`), under the
same layer names, so copying weights between the two is a loop over names
(`copy_supernet_weights`).
"""

import keras
import tensorflow as tf

from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype
from unas_tf.search_spaces.proxyless import networks

# The skip choice is dropped out during search so the latency term cannot simply pick it
# everywhere (UNAS App. E.1, after P-DARTS).
DEFAULT_SKIP_DROPOUT_RATE = 0.1
# Candidates whose weight is at most this for every example are not run (as in the DARTS
# supernet).
DEFAULT_SKIP_THRESHOLD = 0.05


class MixedLayer(keras.layers.Layer):
    """One searchable layer of the supernet: every candidate op, weighted by the sample.

    The output is sum_k w_k op_k(x) over the ops of `genotype.PROXYLESS_OPS`; 'mic_zero' is
    the identity (with dropout in training), and channel-changing layers have no such candidate
    (a weight on it is ignored). Each candidate sits in a `tf.cond` on "is its weight above
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
        networks.check_dropout_rate("skip_dropout_rate", skip_dropout_rate)
        self.layer_plan = networks.LayerPlan(*layer_plan)
        self.skip_threshold = skip_threshold
        self.skip_dropout_rate = skip_dropout_rate
        self.seed_generator = keras.random.SeedGenerator(seed)
        # candidates[k] computes op k; None is the identity of 'mic_zero'.
        self.candidates = {
            k: None
            if k == proxyless_genotype.ZERO_INDEX
            else networks.layer_op(self.layer_plan, name, name, zero_init_residual)
            for k, name in enumerate(proxyless_genotype.PROXYLESS_OPS)
            if not (k == proxyless_genotype.ZERO_INDEX and self.layer_plan.channel_change)
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
            networks.reduced_size(height, stride),
            networks.reduced_size(width, stride),
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
        per example); one-hot or relaxed (`genotype.proxyless_choice_shapes`).
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
        self.plan = networks.backbone(width_multiplier)
        self.stem = list(networks.stem_layers(self.plan))
        self.mixed_layers = [
            MixedLayer(
                layer_plan,
                skip_threshold=skip_threshold,
                skip_dropout_rate=skip_dropout_rate,
                seed=None if seed is None else seed + layer_plan.index,
                zero_init_residual=zero_init_residual,
                name=networks.layer_name(layer_plan.index),
            )
            for layer_plan in self.plan.layers
        ]
        self.head = networks.ConvBNReLU6(self.plan.head_channels, name="head_conv")
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
      genotype: the child's `genotype.ProxylessGenotype`.
    """
    pairs = [(layer, child.get_layer(layer.name)) for layer in supernet.stem]
    pairs += [(supernet.head, child.get_layer("head_conv"))]
    pairs += [(supernet.classifier, child.get_layer("classifier"))]
    for mixed, op in zip(supernet.mixed_layers, genotype.layers, strict=True):
        if op != proxyless_genotype.ZERO_INDEX:
            pairs.append((mixed.candidates[op], child.get_layer(mixed.name)))
    for source, target in pairs:
        for source_weight, target_weight in zip(source.weights, target.weights, strict=True):
            target_weight.assign(source_weight)
