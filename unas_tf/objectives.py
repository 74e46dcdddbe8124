"""The search objectives as pure functions (UNAS Sec. 3.2, App. E.1).

Every function returns per-sample values, so that an estimator gets the loss of each
architecture sample ([S]) and the caller decides how to average.
"""

import tensorflow as tf

DEFAULT_GAP_WEIGHT = 0.5  # lambda of UNAS Eq. 8
# lambda_arch of UNAS App. A.2, the weight of a space's architecture penalty
# (`SearchSpace.architecture_penalty`).
DEFAULT_ARCH_PENALTY_WEIGHT = 0.2
# How a batch estimates Eq. 8's gap (see `generalization_loss`); the first is the default.
GAP_FORMS = ("per_pair", "batch")
DEFAULT_GAP_FORM = GAP_FORMS[0]


def task_loss(labels, logits):
    """Per-example softmax cross-entropy: [N] for integer labels [N] and logits [N, classes]."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def _global_mean(values):
    """Mean of `values` over every replica's batch (this replica's alone outside a strategy)."""
    context = tf.distribute.get_replica_context()
    total, count = tf.reduce_sum(values), tf.cast(tf.size(values), values.dtype)
    if context is not None:
        total, count = context.all_reduce("SUM", [total, count])
    return total / count


def generalization_loss(
    train_loss, val_loss, gap_weight=DEFAULT_GAP_WEIGHT, gap_form=DEFAULT_GAP_FORM
):
    """L_gen = L_train + lambda |L_val - L_train| (UNAS Eq. 8), one value per train/val pair.

    An architecture should do well on the training data and as well on held-out data, even
    with the shared, suboptimal weights of the search. Eq. 8's losses are over the data; a
    batch of train/val pairs estimates the gap in one of two forms:

    - "per_pair" (the released code's): L_train_i + lambda |L_val_i - L_train_i| for pair i.
      Averaged over the batch after the absolute value, the gap term is mean_i |d_i|
      (d_i = L_val_i - L_train_i), which exceeds |mean_i d_i| by the spread of the d_i.
    - "batch" (Eq. 8 on batch means): the gap term is lambda |mean_i d_i|, the mean over the
      global batch. It is returned per pair as L_train_i + lambda s d_i, with s the sign of
      mean_i d_i held constant (no gradient): the mean over the global batch is exactly
      mean_i L_train_i + lambda |mean_i d_i|, and its gradient is that of the batch form
      (d|x|/dx = sign x). Under a `tf.distribute` strategy, call it in replica context: s
      comes from the mean over all replicas (one all-reduce), so the values averaged over the
      global batch are the same for one device or several.

    With one architecture sample per example (the search's "per_example" sampling) neither
    form is Eq. 8 exactly: Eq. 8 takes the absolute value per architecture, outside the data
    mean; "per_pair" adds the examples' spread to it, "batch" also averages the gap over the
    architectures before the absolute value (so it is at most Eq. 8's term, by Jensen).

    Args:
      train_loss: [N] losses on the search-train examples.
      val_loss: [N] losses on the paired search-val examples.
      gap_weight: lambda.
      gap_form: "per_pair" or "batch".

    Returns:
      [N] values whose mean over the (global) batch is the objective.

    Raises:
      ValueError: `gap_weight` is negative or `gap_form` unknown.
    """
    if gap_weight < 0:
        raise ValueError(
            "Invalid value received for argument `gap_weight`. Expected >= 0. "
            f"Received: gap_weight={gap_weight}"
        )
    gap = val_loss - train_loss
    if gap_form == "per_pair":
        return train_loss + gap_weight * tf.abs(gap)
    if gap_form == "batch":
        sign = tf.sign(_global_mean(tf.stop_gradient(gap)))
        return train_loss + gap_weight * sign * gap
    raise ValueError(
        f"Invalid value received for argument `gap_form`. Expected one of {GAP_FORMS}. "
        f"Received: gap_form={gap_form!r}"
    )


def latency_hinge(latency, target):
    """max(0, latency - target): only latency above the target costs (UNAS App. E.1).

    Raises:
      ValueError: `target` is not positive.
    """
    if target <= 0:
        raise ValueError(
            "Invalid value received for argument `target`. Expected a positive latency. "
            f"Received: target={target}"
        )
    return tf.nn.relu(latency - target)


def accuracy(labels, logits):
    """Top-1 accuracy of [N, classes] logits against [N] integer labels, a scalar."""
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predictions, labels), tf.float32))
