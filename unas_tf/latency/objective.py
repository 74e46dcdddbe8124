"""The latency term of the UNAS search objective and its gradient estimator (UNAS App. E.1, Eq. 5).

lambda_lat(t) E_{p_phi(z)}[max(0, L_lat(z) - t_target)]: L_lat is the latency *measured* on
the search's device, which is Python work (build and time a Keras model) and cannot run in a
traced step. So the outer loop draws the step's latency architecture eagerly from a stateless
seed (`LatencyObjective.draw`), measures it, and passes the seed and the latency into the step,
where `surrogate_loss` redraws the same z from the same seed and phi and uses the passed
latency as L(z). The gradient is RELAX's (UNAS Eq. 5) with c(zeta) = max(0, g(zeta) - target)
for the fitted linear surrogate g, or REINFORCE's with a moving-average baseline.
"""

import tensorflow as tf

from unas_tf import estimators, objectives

ESTIMATORS = ("relax", "reinforce")


def annealed_weight(step, search_start, search_steps, final_weight, ramp_steps=0):
    """lambda_lat at a global step: linear from 0 to `final_weight` over the ramp, then constant.

    UNAS App. E.1 anneals the weight "to focus the architecture search on the classification
    loss initially" without saying over how long; the released code ramps it over
    `latency_iter=30000` steps (proxylessnas/train_search.py), which `ramp_steps` sets. The
    first search step has weight final / ramp, step ramp - 1 of the search and later ones the
    final weight; warm-up steps have 0.

    Args:
      step: 0-based global step about to run.
      search_start: the first step that updates the architecture.
      search_steps: number of architecture-updating steps.
      final_weight: lambda_lat at the end of the ramp (0.1 in the paper).
      ramp_steps: search steps the ramp spans; 0 for all `search_steps`.
    """
    ramp = ramp_steps or search_steps
    done = min(max(step - search_start + 1, 0), ramp)
    return final_weight * done / max(ramp, 1)


class LatencyObjective:
    """max(0, L_lat(z) - target) of one architecture per step, with its surrogate loss.

    Args:
      surrogate: differentiable g mapping {group: [S, ..., K]} samples of a space's choices to
        [S] milliseconds (a fitted `latency.surrogate.LatencySurrogate`); RELAX's control
        variate.
      target_ms: the target latency t_target (> 0).
      estimator: "relax" (UNAS Eq. 5) or "reinforce" (Eq. 1 with a moving-average baseline).
      temperature: temperature of RELAX's relaxed samples.

    Raises:
      ValueError: `target_ms` is not positive or `estimator` is unknown.
    """

    def __init__(self, surrogate, target_ms, estimator="relax", temperature=0.4):
        if not target_ms > 0:
            raise ValueError(
                "Invalid value received for argument `target_ms`. Expected a positive latency. "
                f"Received: target_ms={target_ms!r}"
            )
        if estimator not in ESTIMATORS:
            raise ValueError(
                f"Invalid value received for argument `estimator`. Expected one of {ESTIMATORS}. "
                f"Received: estimator={estimator!r}"
            )
        self.surrogate = surrogate
        self.target_ms = float(target_ms)
        if estimator == "relax":
            self.estimator = estimators.create(
                "relax", control_variate=self.control_variate, temperature=temperature
            )
        else:
            self.estimator = estimators.create("reinforce", baseline="ema", temperature=temperature)

    def control_variate(self, samples):
        """c(zeta) = max(0, g(zeta) - target): the hinge of the surrogate's latency, [S]."""
        return objectives.latency_hinge(self.surrogate(samples), self.target_ms)

    def draw(self, logits, seed):
        """The one-hot architecture `surrogate_loss` uses with this seed and logits.

        Runs the estimator itself, so the sample is the estimator's by construction.

        Args:
          logits: {group: [1, ..., K]} (masked) logits.
          seed: shape-[2] stateless seed.

        Returns:
          {group: [1, ..., K]} one-hot sample.
        """
        output = self.estimator.surrogate_loss(logits, lambda z: tf.zeros(_num_samples(z)), seed)
        return output.sample

    def surrogate_loss(self, logits, seed, latency_ms):
        """The estimator's surrogate of max(0, L_lat(z) - target), for z drawn from `seed`.

        Args:
          logits: {group: [1, ..., K]} (masked) logits; gradients flow back to them.
          seed: the shape-[2] seed the measured architecture was drawn with (`draw`).
          latency_ms: scalar, the measured latency of that architecture.

        Returns:
          An `estimators.EstimatorOutput` whose `loss` is the measured hinge, [1].
        """

        def measured_hinge(z):
            latency = tf.fill(_num_samples(z), tf.cast(latency_ms, tf.float32))
            return objectives.latency_hinge(latency, self.target_ms)

        return self.estimator.surrogate_loss(logits, measured_hinge, seed)

    def update(self, hinge):
        """Passes the step's measured hinge to the estimator (REINFORCE's moving average)."""
        self.estimator.update(hinge)

    @property
    def state(self):
        """The estimator's variables, for checkpoints (REINFORCE's baseline)."""
        return [v for v in vars(self.estimator).values() if isinstance(v, tf.Variable)]


def _num_samples(samples):
    """[S], the leading dimension of {group: [S, ..., K]} samples, as a shape."""
    return tf.shape(tf.nest.flatten(samples)[0])[:1]
