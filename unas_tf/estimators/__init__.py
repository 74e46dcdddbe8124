"""Gradient estimators of d/dphi E_{p_phi(z)}[L(z)] over independent categoricals (UNAS Sec. 3.1).

Pick one by name with `create`, or get per-sample estimates with `estimate_gradient`.
"""

from unas_tf.estimators import comparison, exact
from unas_tf.estimators.base import EstimatorOutput, GradientEstimator
from unas_tf.estimators.estimate import create, create_for_search, estimate_gradient, known_names
from unas_tf.estimators.gumbel_softmax import GumbelSoftmax
from unas_tf.estimators.linear_surrogate import LinearSurrogate, SurrogateFit
from unas_tf.estimators.random_architectures import RandomArchitectures
from unas_tf.estimators.rebar import Rebar
from unas_tf.estimators.reinforce import Reinforce
from unas_tf.estimators.relax import Relax

__all__ = [
    "EstimatorOutput",
    "GradientEstimator",
    "GumbelSoftmax",
    "LinearSurrogate",
    "RandomArchitectures",
    "Rebar",
    "Reinforce",
    "Relax",
    "SurrogateFit",
    "comparison",
    "create",
    "create_for_search",
    "estimate_gradient",
    "exact",
    "known_names",
]
