"""Exact expectations and gradients by enumerating every architecture of a small space.

The ground truth that the estimators are tested against, also useful to check a new loss or
estimator on a toy problem before a long search.
"""

import itertools
import math

import numpy as np
import tensorflow as tf

from unas_tf import distributions

MAX_CONFIGURATIONS = 1_000_000


def enumerate_configurations(logits_shape):
    """Returns every one-hot configuration of [..., K] categoricals: shape [K**n, ..., K]."""
    *selector_shape, num_choices = logits_shape
    num_selectors = math.prod(selector_shape)
    if num_choices**num_selectors > MAX_CONFIGURATIONS:
        raise ValueError(
            f"Invalid value received for argument `logits`. Expected at most "
            f"{MAX_CONFIGURATIONS} configurations to enumerate. Received: shape "
            f"{tuple(logits_shape)} ({num_choices}**{num_selectors} configurations)"
        )
    indices = np.array(list(itertools.product(range(num_choices), repeat=num_selectors)))
    one_hot = np.eye(num_choices, dtype=np.float32)[indices]
    return one_hot.reshape([-1, *selector_shape, num_choices])


def expectation_and_gradient(logits, loss_fn):
    """Returns E_{p(z)}[L(z)] and its exact gradient with respect to `logits`.

    Args:
      logits: [..., K] logits of independent categoricals.
      loss_fn: maps one-hot configurations [N, ..., K] to [N] losses; never differentiated.

    Returns:
      (expectation, gradient) with gradient shaped like `logits`.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    configurations = tf.constant(enumerate_configurations(logits.shape))
    losses = tf.stop_gradient(tf.cast(loss_fn(configurations), tf.float32))
    with tf.GradientTape() as tape:
        tape.watch(logits)
        probabilities = tf.exp(distributions.log_prob(logits, configurations))
        expectation = tf.reduce_sum(probabilities * losses)
    return expectation, tape.gradient(expectation, logits)
