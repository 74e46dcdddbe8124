"""REBAR (Tucker et al. 2017) for a differentiable loss: UNAS Eq. 3."""

from unas_tf.estimators import base, relax


class Rebar(base.GradientEstimator):
    """(L(z) - L(zeta~)) d log p(z) - d L(zeta~) + d L(zeta), with zeta~ ~ r(zeta | z).

    RELAX whose control variate is the loss itself: two loss evaluations, one on the discrete
    z and one on the relaxed sample (zeta and zeta~ share their value). Unbiased, with the low
    variance of the Gumbel-softmax term (UNAS Sec. 3.1).
    """

    name = "rebar"

    def surrogate_loss(self, logits, loss_fn, seed=None, relaxed_loss_fn=None):
        control_variate = relaxed_loss_fn or loss_fn
        return relax.control_variate_surrogate(
            logits, loss_fn, control_variate, self.temperature, seed
        )
