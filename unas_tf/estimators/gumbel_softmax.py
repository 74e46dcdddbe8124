"""Gumbel-softmax (concrete) reparameterisation, the estimator of SNAS."""

from unas_tf import distributions
from unas_tf.estimators import base


class GumbelSoftmax(base.GradientEstimator):
    """d/dphi E_{p_phi(zeta)}[L(zeta)] by reparameterisation: term (iii) of UNAS Eq. 3 alone.

    Low variance but biased for d/dphi E[L(z)] (UNAS Sec. 3.1): the loss is measured on relaxed
    architectures, never on discrete ones.
    """

    name = "gumbel_softmax"

    def surrogate_loss(self, logits, loss_fn, seed=None, relaxed_loss_fn=None):
        zeta = distributions.sample_relaxed(logits, self.temperature, seed)
        loss = (relaxed_loss_fn or loss_fn)(zeta)
        return base.EstimatorOutput(loss, loss, zeta)
