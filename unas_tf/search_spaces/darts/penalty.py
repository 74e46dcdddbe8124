"""The architecture penalty of the factorized DARTS cell (UNAS App. A.2)."""

import tensorflow as tf

from unas_tf import objectives


def architecture_penalty(sample, weight=objectives.DEFAULT_ARCH_PENALTY_WEIGHT):
    """lambda_arch sum_n tr([i_n (x) o_n][i'_n (x) o'_n]^T) per sample (UNAS App. A.2).

    The factorized cell is symmetric in its two (input, op) selectors, so without this term a
    search may pick the same pair twice. The trace factorises as (i_n . i'_n)(o_n . o'_n): 1 for
    a one-hot sample repeating a pair, 0 otherwise, and smooth in relaxed samples.

    Args:
      sample: a DARTS architecture sample, keys "{cell}/ops" [S, nodes, 2, K] and
        "{cell}/inputs_{n}" [S, 2, n+2] (see `genotype.darts_choice_shapes`).
      weight: lambda_arch.

    Returns:
      [S] penalties, summed over the nodes of both cell types.
    """
    terms = []
    for key, ops in sample.items():
        if not key.endswith("/ops"):
            continue
        cell = key[: -len("/ops")]
        same_op = tf.reduce_sum(ops[:, :, 0] * ops[:, :, 1], axis=-1)  # [S, nodes]
        for node in range(ops.shape[1]):
            inputs = sample[f"{cell}/inputs_{node}"]
            same_input = tf.reduce_sum(inputs[:, 0] * inputs[:, 1], axis=-1)  # [S]
            terms.append(same_input * same_op[:, node])
    return weight * tf.add_n(terms)
