"""What every gradient estimator of d/dphi E_{p_phi(z)}[L(z)] provides."""

import abc
from typing import Any, ClassVar, NamedTuple

import tensorflow as tf

from unas_tf import distributions


class EstimatorOutput(NamedTuple):
    """One estimator call on S architecture samples.

    Attributes:
      surrogate: [S] surrogate losses whose gradient with respect to the logits is the
        estimate (row s depends on sample s only).
      loss: [S] the loss the estimator measured: L(z) on discrete samples, or L(zeta) for the
        relaxed-only gumbel_softmax. Gradient-free; use it for logging and baselines.
      sample: the architecture samples `loss` was measured on, a nest of [S, ..., K].
    """

    surrogate: tf.Tensor
    loss: tf.Tensor
    sample: Any


class GradientEstimator(tf.Module, abc.ABC):
    """A single-sample estimator, vectorised over a leading sample axis.

    Subclasses set `name` (the string that selects them) and implement `surrogate_loss`. An
    estimator is a `tf.Module`: its state (REINFORCE's moving-average baseline) is its
    variables, which a `tf.train.Checkpoint` holding the estimator saves and restores.

    Args:
      temperature: temperature of the Gumbel-softmax relaxation (UNAS uses 0.4).
    """

    name: ClassVar[str]
    # False for a baseline that never moves phi: a search then skips the architecture step.
    updates_architecture: ClassVar[bool] = True
    # Constructor arguments a search adds to the temperature (`estimate.create_for_search`).
    search_defaults: ClassVar[dict] = {}
    # {search-config key: constructor argument} of the keys a search passes on.
    search_keys: ClassVar[dict] = {}

    def __init__(self, temperature=distributions.DEFAULT_TEMPERATURE):
        super().__init__(name=self.name)
        if temperature <= 0:
            raise ValueError(
                "Invalid value received for argument `temperature`. Expected a positive "
                f"number. Received: temperature={temperature}"
            )
        self.temperature = temperature

    @abc.abstractmethod
    def surrogate_loss(self, logits, loss_fn, seed=None, relaxed_loss_fn=None) -> EstimatorOutput:
        """Draws one architecture per row of `logits` and builds the surrogate loss.

        Args:
          logits: nest of [S, ..., K] logits, one row per sample (broadcast shared logits to
            get an estimate of their gradient averaged over the S samples).
          loss_fn: maps a nest of [S, ..., K] samples to [S] losses.
          relaxed_loss_fn: the same loss for relaxed samples, where estimators differentiate
            it; None to use `loss_fn`. Lets a caller evaluate one-hot samples the cheap way
            (a supernet skipping unselected ops) and relaxed ones the differentiable way.
          seed: stateless seed of the samples.

        Returns:
          An `EstimatorOutput`.
        """

    def update(self, mean_loss):
        """Takes the step's mean measured loss; stateful estimators (baselines) override this."""
        del mean_loss
