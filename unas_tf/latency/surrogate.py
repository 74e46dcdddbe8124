"""The linear latency surrogate g of UNAS Sec. 5: per-layer, per-op latencies fit to measurements.

g(z) = sum_ij l_ij z_ij + b over the one-hot choices z of a space (its `latency_features`; for
ProxylessNAS, one op per layer), fit by ridge regression to the measured latencies of random
architectures before the search (10k in the paper; a small number on CPU), and optionally refit
with the architectures the search measures. It is RELAX's control variate for the latency term
(UNAS Eq. 5); the held-out MAE and R^2 say how much of the latency a linear model explains on
this device.
"""

import time

import numpy as np
from absl import logging

from unas_tf.estimators import linear_surrogate

# Defaults of `LatencySurrogate.fit`.
DEFAULT_L2 = 1e-3
DEFAULT_HOLDOUT_FRACTION = 0.2
# Random architectures between progress lines of `measure_random`.
_PROGRESS_EVERY = 25


class LatencySurrogate:
    """Measured latencies of a space's architectures and the linear surrogate fit to them.

    Args:
      space: the `SearchSpace`; its `latency_features` are what g weighs, and its
        `random_search_genotype` draws the random architectures.
      config: the search config, whose choices (`space.choice_shapes`) g weighs.
      meter: a `measure.LatencyMeter` for the space's genotypes; None if every point is
        added with its latency.

    Attributes:
      linear: the `LinearSurrogate` g; call the surrogate itself to evaluate it.
      genotypes: the measured architectures, in order.
      latencies_ms: their latencies.
    """

    def __init__(self, space, config, meter=None):
        self.space = space
        self.config = config
        self.meter = meter
        self.linear = linear_surrogate.LinearSurrogate(
            space.choice_shapes(config), name="latency_surrogate"
        )
        self.genotypes = []
        self.latencies_ms = []
        self._features = []

    def __call__(self, samples):
        """g for each sample: [S] milliseconds for {group: [S, ...]} (one-hot or relaxed)."""
        return self.linear(samples)

    def add(self, genotype, latency_ms=None):
        """Adds one data point; measures `genotype` with the meter when no latency is given.

        Returns:
          The latency in milliseconds.

        Raises:
          ValueError: `genotype` is not of the space, or the latency is missing or not positive.
        """
        features = self.space.latency_features(genotype)
        if latency_ms is None:
            if self.meter is None:
                raise ValueError(
                    "Invalid value received for argument `latency_ms`. Expected a latency when "
                    "the surrogate has no meter. Received: latency_ms=None"
                )
            latency_ms = self.meter.measure(genotype).median_ms
        if not latency_ms > 0:
            raise ValueError(
                "Invalid value received for argument `latency_ms`. Expected a positive latency. "
                f"Received: latency_ms={latency_ms!r}"
            )
        self.genotypes.append(genotype)
        self.latencies_ms.append(float(latency_ms))
        self._features.append(features)
        return float(latency_ms)

    def measure_random(self, num_architectures, seed=0):
        """Measures `num_architectures` uniformly random architectures and adds them.

        Architecture i is `space.random_search_genotype([seed, i], config)`, so runs with the
        same seed measure the same architectures.
        """
        if (
            isinstance(num_architectures, bool)
            or not isinstance(num_architectures, int)
            or (num_architectures <= 0)
        ):
            raise ValueError(
                "Invalid value received for argument `num_architectures`. Expected a positive "
                f"integer. Received: num_architectures={num_architectures!r}"
            )
        start = time.perf_counter()
        for i in range(num_architectures):
            self.add(self.space.random_search_genotype([seed, i], self.config))
            if (i + 1) % _PROGRESS_EVERY == 0 and i + 1 < num_architectures:
                logging.info(
                    "Latency surrogate: %d/%d random architectures measured (%.0f s)",
                    i + 1,
                    num_architectures,
                    time.perf_counter() - start,
                )

    def samples(self):
        """Returns the data points' features as {group: one-hot float32 [N, ...]}."""
        return {
            key: np.stack([features[key] for features in self._features])
            for key in self.space.choice_shapes(self.config)
        }

    def fit(self, l2=DEFAULT_L2, holdout_fraction=DEFAULT_HOLDOUT_FRACTION, seed=0):
        """(Re)fits g to every data point so far by ridge regression.

        Args:
          l2: ridge penalty (> 0).
          holdout_fraction: share of the points held out to report MAE and R^2.
          seed: seed of the train / held-out split.

        Returns:
          A `linear_surrogate.SurrogateFit`; MAE in milliseconds.

        Raises:
          ValueError: fewer than two points remain to fit, or a setting is invalid.
        """
        if not self.genotypes:
            raise ValueError("Cannot fit the latency surrogate: no measured architectures yet")
        fit = self.linear.fit(self.samples(), self.latencies_ms, l2, holdout_fraction, seed)
        logging.info(
            "Latency surrogate fit on %d architectures: train MAE %.3f ms, held-out MAE %.3f ms, "
            "held-out R^2 %.3f (%d held out)",
            fit.num_train,
            fit.train_mae,
            fit.holdout_mae,
            fit.holdout_r2,
            fit.num_holdout,
        )
        return fit
