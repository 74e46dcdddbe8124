"""REINFORCE, the score-function estimator (UNAS Eq. 1-2 with a constant control variate)."""

import tensorflow as tf

from unas_tf import distributions
from unas_tf.estimators import base

EMA = "ema"


class Reinforce(base.GradientEstimator):
    """(L(z) - b) d/dphi log p(z), with b a constant or a moving average of past losses.

    Only calls the loss on one-hot samples, so the loss may be non-differentiable. An average
    of *past* losses keeps the estimate unbiased because b does not depend on the current z.

    Args:
      baseline: a constant b, or "ema" for an exponential moving average updated by `update`.
      momentum: moving-average momentum for baseline="ema".
      temperature: unused by REINFORCE; accepted so every estimator is built the same way.
    """

    name = "reinforce"
    # In a search, b is the moving average of past losses, as in the released code.
    search_defaults = {"baseline": EMA}

    def __init__(self, baseline=0.0, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(
                "Invalid value received for argument `momentum`. Expected 0 <= momentum < 1. "
                f"Received: momentum={momentum}"
            )
        self.momentum = momentum
        self.uses_moving_average = baseline == EMA
        # The moving average starts at the first observed loss, not at an arbitrary zero.
        self.baseline = tf.Variable(
            0.0 if self.uses_moving_average else float(baseline), trainable=False, name="baseline"
        )
        self.baseline_initialized = tf.Variable(
            not self.uses_moving_average, trainable=False, name="baseline_initialized"
        )

    def surrogate_loss(self, logits, loss_fn, seed=None, relaxed_loss_fn=None):
        del relaxed_loss_fn  # REINFORCE never evaluates relaxed samples.
        z = distributions.sample_discrete(logits, seed)
        loss = tf.stop_gradient(loss_fn(z))
        advantage = loss - tf.cast(self.baseline, loss.dtype)
        return base.EstimatorOutput(advantage * distributions.log_prob(logits, z), loss, z)

    def update(self, mean_loss):
        if not self.uses_moving_average:
            return
        mean_loss = tf.cast(mean_loss, self.baseline.dtype)
        blended = self.momentum * self.baseline + (1.0 - self.momentum) * mean_loss
        self.baseline.assign(tf.where(self.baseline_initialized, blended, mean_loss))
        self.baseline_initialized.assign(True)
