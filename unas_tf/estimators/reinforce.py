"""REINFORCE, the score-function estimator (UNAS Eq. 1-2 with a constant control variate)."""

import tensorflow as tf

from unas_tf import distributions
from unas_tf.estimators import base

EMA = "ema"
DEFAULT_MOMENTUM = 0.1  # the released code's: 0.1 old average + 0.9 new loss


class Reinforce(base.GradientEstimator):
    """(L(z) - b) d/dphi log p(z), with b a constant or a moving average of past losses.

    Only calls the loss on one-hot samples, so the loss may be non-differentiable. An average
    of *past* losses keeps the estimate unbiased because b does not depend on the current z.

    The moving average is the released code's (`ExpMovingAvgrageMeter` in its util/utils.py):
    it starts at 0 and each step becomes `momentum * b + (1 - momentum) * mean loss`, with
    momentum 0.1 by default: the released code's `momentum=0.9` is the weight of the *new*
    loss there, 0.1 that of the old average.

    Args:
      baseline: a constant b, or "ema" for an exponential moving average updated by `update`.
      momentum: weight of the previous average in the moving average (baseline="ema").
      temperature: unused by REINFORCE; accepted so every estimator is built the same way.
    """

    name = "reinforce"
    # In a search, b is the moving average of past losses, as in the released code.
    search_defaults = {"baseline": EMA}
    search_keys = {"baseline_momentum": "momentum"}

    def __init__(self, baseline=0.0, momentum=DEFAULT_MOMENTUM, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(
                "Invalid value received for argument `momentum`. Expected 0 <= momentum < 1. "
                f"Received: momentum={momentum}"
            )
        self.momentum = momentum
        self.uses_moving_average = baseline == EMA
        self.baseline = tf.Variable(
            0.0 if self.uses_moving_average else float(baseline), trainable=False, name="baseline"
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
        self.baseline.assign(self.momentum * self.baseline + (1.0 - self.momentum) * mean_loss)
