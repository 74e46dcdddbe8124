"""A linear surrogate g(z) = sum_ij l_ij z_ij + b of a loss, fit by ridge regression.

RELAX's control variate for non-differentiable terms such as latency (UNAS Eq. 5; the linear
form follows FBNet and ProxylessNAS). Being linear, it applies to relaxed samples unchanged.
"""

import math
from typing import NamedTuple

import tensorflow as tf


class SurrogateFit(NamedTuple):
    """Quality of a fit. Held-out figures are NaN when nothing was held out."""

    num_train: int
    num_holdout: int
    train_mae: float
    holdout_mae: float
    holdout_r2: float


class LinearSurrogate(tf.Module):
    """g(z) = sum over selectors and choices of l * z, plus b.

    Args:
      choice_shapes: mapping from a selector group's name to its shape [..., K], as for
        `ArchitectureDistribution`; samples passed in are mappings of [S, ..., K] tensors.
      name: module name.
    """

    def __init__(self, choice_shapes, name=None):
        super().__init__(name=name)
        self.choice_shapes = {group: tuple(shape) for group, shape in choice_shapes.items()}
        self.weights = {
            group: tf.Variable(tf.zeros(shape), trainable=False, name=group.replace("/", "_"))
            for group, shape in self.choice_shapes.items()
        }
        self.bias = tf.Variable(0.0, trainable=False, name="bias")

    def __call__(self, samples):
        """Returns g for each sample: [S] for a mapping of [S, ..., K] samples."""
        terms = []
        for group, weight in self.weights.items():
            sample = tf.cast(samples[group], weight.dtype)
            terms.append(tf.reduce_sum(tf.reshape(sample * weight, [tf.shape(sample)[0], -1]), 1))
        return tf.add_n(terms) + self.bias

    def _design_matrix(self, samples):
        if set(samples) != set(self.choice_shapes):
            raise ValueError(
                "Invalid value received for argument `samples`. Expected the selector groups "
                f"{sorted(self.choice_shapes)}. Received: {sorted(samples)}"
            )
        columns = []
        for group, shape in self.choice_shapes.items():
            sample = tf.convert_to_tensor(samples[group], tf.float64)
            if tuple(sample.shape[1:]) != shape:
                raise ValueError(
                    f"Invalid value received for argument `samples`. Expected samples[{group!r}] "
                    f"of shape [N, {', '.join(map(str, shape))}]. Received: {sample.shape}"
                )
            columns.append(tf.reshape(sample, [tf.shape(sample)[0], -1]))
        return tf.concat(columns, axis=1)

    def fit(self, samples, values, l2=1e-3, holdout_fraction=0.2, seed=0):
        """Fits l and b in closed form by ridge regression; b is not penalised.

        Args:
          samples: mapping of one-hot architectures [N, ..., K].
          values: [N] measured losses (for example latencies).
          l2: ridge penalty on l; one-hot features are collinear with b, so it must be > 0.
          holdout_fraction: share of the N samples held out to report the fit's quality.
          seed: seed of the train / held-out split.

        Returns:
          A `SurrogateFit`.

        Raises:
          ValueError: shapes disagree, l2 <= 0, or fewer than two samples remain to fit.
        """
        features = self._design_matrix(samples)
        values = tf.reshape(tf.convert_to_tensor(values, tf.float64), [-1])
        num = int(features.shape[0])
        if int(values.shape[0]) != num:
            raise ValueError(
                "Invalid value received for argument `values`. Expected one value per sample "
                f"({num}). Received: {int(values.shape[0])} values"
            )
        if l2 <= 0:
            raise ValueError(
                f"Invalid value received for argument `l2`. Expected > 0. Received: l2={l2}"
            )
        if not 0.0 <= holdout_fraction < 1.0:
            raise ValueError(
                "Invalid value received for argument `holdout_fraction`. Expected 0 <= fraction "
                f"< 1. Received: holdout_fraction={holdout_fraction}"
            )
        num_holdout = int(math.floor(num * holdout_fraction))
        if num - num_holdout < 2:
            raise ValueError(
                f"Invalid value received for argument `samples`. Expected at least 2 samples to "
                f"fit after holding out {num_holdout}. Received: {num} samples"
            )
        order = tf.random.experimental.stateless_shuffle(tf.range(num), seed=[seed, 0])
        train, holdout = order[num_holdout:], order[:num_holdout]
        x, y = tf.gather(features, train), tf.gather(values, train)
        x_mean, y_mean = tf.reduce_mean(x, axis=0), tf.reduce_mean(y)
        xc, yc = x - x_mean, y - y_mean
        gram = tf.matmul(xc, xc, transpose_a=True) + l2 * tf.eye(int(x.shape[1]), dtype=tf.float64)
        coef = tf.linalg.solve(gram, tf.matmul(xc, yc[:, None], transpose_a=True))[:, 0]
        intercept = y_mean - tf.reduce_sum(x_mean * coef)

        offset = 0
        for group, shape in self.choice_shapes.items():
            size = math.prod(shape)
            self.weights[group].assign(
                tf.cast(tf.reshape(coef[offset : offset + size], shape), tf.float32)
            )
            offset += size
        self.bias.assign(tf.cast(intercept, tf.float32))

        def predict(rows):
            return tf.linalg.matvec(tf.gather(features, rows), coef) + intercept

        train_mae = float(tf.reduce_mean(tf.abs(predict(train) - y)))
        holdout_mae = holdout_r2 = float("nan")
        if num_holdout:
            truth = tf.gather(values, holdout)
            residual = predict(holdout) - truth
            holdout_mae = float(tf.reduce_mean(tf.abs(residual)))
            total = tf.reduce_sum(tf.square(truth - tf.reduce_mean(truth)))
            holdout_r2 = float(1.0 - tf.reduce_sum(tf.square(residual)) / total)
        return SurrogateFit(num - num_holdout, num_holdout, train_mae, holdout_mae, holdout_r2)
