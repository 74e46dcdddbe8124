"""RELAX (Grathwohl et al. 2018) for a loss that need not be differentiable: UNAS Eq. 5."""

import tensorflow as tf

from unas_tf import distributions
from unas_tf.estimators import base


def _conditional_gradient_path(coupled):
    """Returns zeta with gradient d zeta - d zeta~: terms (iii) minus (ii) of UNAS Eq. 3 / 5.

    zeta and zeta~ come from the same noise, so they are equal in value and the control variate
    needs one evaluation: c(this) has the value c(zeta) = c(zeta~) and the gradient
    c'(zeta) (d zeta/d phi - d zeta~/d phi).
    """
    return tf.nest.map_structure(
        lambda zeta, zeta_tilde: zeta + (tf.stop_gradient(zeta_tilde) - zeta_tilde),
        coupled.relaxed,
        coupled.conditional,
    )


def control_variate_surrogate(logits, loss_fn, control_variate, temperature, seed=None):
    """Builds (L(z) - c(zeta~)) log p(z) + c(zeta~ -> zeta), the surrogate of UNAS Eq. 3 and 5.

    Args:
      logits: nest of [S, ..., K] logits.
      loss_fn: the loss L on one-hot samples; it is never differentiated.
      control_variate: differentiable c on relaxed samples (L itself for REBAR, g for RELAX).
      temperature: relaxation temperature.
      seed: stateless seed.

    Returns:
      An `EstimatorOutput`.
    """
    coupled = distributions.sample_coupled(logits, temperature, seed)
    discrete = tf.nest.map_structure(tf.stop_gradient, coupled.discrete)
    loss = tf.stop_gradient(loss_fn(discrete))
    control = control_variate(_conditional_gradient_path(coupled))
    score = distributions.log_prob(logits, coupled.discrete)
    surrogate = tf.stop_gradient(loss - control) * score + control
    return base.EstimatorOutput(surrogate, loss, coupled.discrete)


class Relax(base.GradientEstimator):
    """(L(z) - g(zeta~)) d log p(z) - d g(zeta~) + d g(zeta), with zeta~ ~ r(zeta | z).

    Unbiased for any loss L; the variance is low when the differentiable surrogate g tracks L
    (UNAS Eq. 5; the paper fits a linear g to measured latency).

    Args:
      control_variate: differentiable g mapping relaxed samples [S, ..., K] to [S].
      temperature: relaxation temperature.
    """

    name = "relax"

    def __init__(self, control_variate=None, **kwargs):
        super().__init__(**kwargs)
        if control_variate is None:
            raise ValueError(
                "Invalid value received for argument `control_variate`. relax needs a "
                "differentiable surrogate g of the loss (for example a fitted "
                "unas_tf.estimators.LinearSurrogate). Received: control_variate=None"
            )
        self.control_variate = control_variate

    def surrogate_loss(self, logits, loss_fn, seed=None, relaxed_loss_fn=None):
        del relaxed_loss_fn  # The control variate g, not the loss, sees relaxed samples.
        return control_variate_surrogate(
            logits, loss_fn, self.control_variate, self.temperature, seed
        )
