"""The random-architecture baseline as an estimator: phi never moves (UNAS Sec. 4, Table 2).

A search with it trains the supernet's weights on uniformly random architectures and ends at
phi = 0, whose argmax is a fixed architecture; the paper's random baseline retrains random
cells instead (`--config.genotype=random:SEED` of the eval presets). As an estimator of
d/dphi E[L(z)] it returns zero, which a user comparing estimators sees for what it is.
"""

import tensorflow as tf

from unas_tf import distributions
from unas_tf.estimators import base


class RandomArchitectures(base.GradientEstimator):
    """Zero gradient; a search skips its architecture step (`updates_architecture`)."""

    name = "random"
    updates_architecture = False

    def surrogate_loss(self, logits, loss_fn, seed=None, relaxed_loss_fn=None):
        del relaxed_loss_fn
        z = distributions.sample_discrete(logits, seed)
        loss = tf.stop_gradient(loss_fn(z))
        zero = tf.add_n([tf.reduce_sum(leaf) for leaf in tf.nest.flatten(logits)]) * 0.0
        return base.EstimatorOutput(tf.zeros_like(loss) + zero, loss, z)
