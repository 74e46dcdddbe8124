"""Building blocks every space's Keras layers share: batch norm as functions, PyTorch's init.

The spaces' ops are lean Keras layers that own their weights and compute with `tf.nn`
directly: nesting Keras sub-layers would multiply the Python-side layer calls that dominate the
trace time of an unrolled supernet (bench/supernet.py), so the batch norm here is a pair of
functions (`add_batch_norm_weights` in `build`, `batch_norm` in `call`) rather than a layer. It
follows PyTorch's BatchNorm2d, with which the published networks were trained.

A grouped op holds G independent copies of its weights, concatenated on the channel axis, and
applies them at once to G inputs concatenated the same way (the DARTS supernet applies one op
to all the states a node may read so). Called with `member=i`, `batch_norm` and
`group_member` use copy i alone.
"""

import math
from typing import Any, NamedTuple

import keras
import tensorflow as tf

BN_EPSILON = 1e-5
# Keras counts momentum from the other side: 0.9 here is PyTorch's BatchNorm2d(momentum=0.1).
BN_MOMENTUM = 0.9
VALID_STRIDES = (1, 2)


class BatchNormWeights(NamedTuple):
    """The variables of one batch norm; `gamma` and `beta` are None when it is not affine."""

    gamma: Any
    beta: Any
    moving_mean: Any
    moving_variance: Any


def add_batch_norm_weights(layer, name, channels, affine, gamma_initializer="ones"):
    """Creates the variables of a batch norm over `channels` on `layer` (call from `build`).

    Args:
      layer: The Keras layer that owns the variables.
      name: Prefix of the variable names, e.g. "bn_1" gives "bn_1_gamma", ...
      channels: Number of channels normalised.
      affine: Whether to learn a per-channel scale (gamma) and offset (beta).
      gamma_initializer: initializer of gamma: "ones" (PyTorch's), or "zeros" for the last
        batch norm of a residual branch that should start as the identity.

    Returns:
      A `BatchNormWeights`.
    """
    gamma = beta = None
    if affine:
        gamma = layer.add_weight(
            shape=(channels,),
            initializer=gamma_initializer,
            autocast=False,
            name=f"{name}_gamma",
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


def group_member(weight, groups, member, axis=-1):
    """The part of a grouped weight that belongs to copy `member` (see the module docstring).

    Args:
      weight: A variable or tensor whose `axis` holds `groups` equal blocks, one per copy.
      groups: G.
      member: None for the whole weight, or a scalar (int or int tensor) in [0, G).
      axis: The grouped axis.

    Returns:
      `weight` itself when `member` is None, else its `member`-th block along `axis`.
    """
    if member is None:
        return weight
    shape = weight.shape
    axis %= len(shape)
    split = [*shape[:axis], groups, shape[axis] // groups, *shape[axis + 1 :]]
    return tf.gather(tf.reshape(weight, split), member, axis=axis)


def _move_member(weights, batch_mean, batch_variance, member):
    """Moves one copy's block of a grouped op's moving statistics towards the batch's.

    A masked update of the whole variables: fewer graph ops than slicing out the block.
    """
    channels = batch_mean.shape[0]
    groups = weights.moving_mean.shape[0] // channels
    copy_of_channel = tf.constant([g for g in range(groups) for _ in range(channels)])
    step = tf.cast(tf.equal(copy_of_channel, member), batch_mean.dtype) * (1.0 - BN_MOMENTUM)
    for variable, batch_statistic in (
        (weights.moving_mean, batch_mean),
        (weights.moving_variance, batch_variance),
    ):
        variable.assign_add(step * (tf.tile(batch_statistic, [groups]) - variable))


def batch_norm(x, weights, training, member=None):
    """Batch-normalises NHWC `x` per channel, as PyTorch's BatchNorm2d.

    In training, normalises with the batch moments and moves the moving statistics towards them
    (the mean and the unbiased variance of the batch, as PyTorch, which trained the published
    networks); in inference, normalises with the moving statistics.

    Args:
      x: A [N, H, W, C] tensor.
      weights: The `BatchNormWeights` of this batch norm, over C channels, or over G C channels
        of which `member` picks the C that normalise `x`.
      training: Python bool.
      member: None, or the copy of a grouped op (see `group_member`).

    Returns:
      The normalised tensor, same shape as `x`.
    """
    channels = x.shape[-1]
    groups = weights.moving_mean.shape[0] // channels if member is not None else 1

    def affine_part(weight, identity):
        """gamma or beta of `member`; a constant identity value when BN is not affine."""
        if weight is None:
            return tf.constant(identity, shape=[channels])
        return group_member(weight, groups, member)

    # One fused op instead of the dozen of moments, normalisation and moving average: fewer
    # graph nodes to start up (TensorFlow's start-up grows with them) and one pass less over x.
    # It moves the moving statistics itself, except one copy's of a grouped op, moved here
    # from the batch's.
    fused_update = not (training and member is not None)
    y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
        x=x,
        scale=affine_part(weights.gamma, 1.0),
        offset=affine_part(weights.beta, 0.0),
        mean=group_member(weights.moving_mean, groups, member) if fused_update else tf.zeros([0]),
        variance=(
            group_member(weights.moving_variance, groups, member) if fused_update else tf.zeros([0])
        ),
        epsilon=BN_EPSILON,
        exponential_avg_factor=1.0 - BN_MOMENTUM if fused_update else 1.0,
        is_training=training,
    )
    if training and fused_update:
        weights.moving_mean.assign(mean)
        weights.moving_variance.assign(variance)
    elif training:
        _move_member(weights, mean, variance, member)
    return y


def kernel_initializer(fan_in):
    """PyTorch's default convolution initialiser: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    The published networks were trained with it (kaiming_uniform with a=sqrt(5)). Taking the
    fan-in explicitly matters for depthwise kernels: it is k*k, which Keras's own initialisers
    would take as k*k*C.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def check_positive(name, value):
    """Raises Keras's ValueError for a layer argument that is not a positive integer."""
    if not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a positive integer. "
            f"Received: {name}={value}"
        )


def check_stride(stride):
    """Raises Keras's ValueError for a stride other than 1 or 2."""
    if stride not in VALID_STRIDES:
        raise ValueError(
            f"Invalid value received for argument `stride`. Expected one of {VALID_STRIDES}. "
            f"Received: stride={stride}"
        )
