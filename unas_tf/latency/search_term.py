"""The measured-latency term of a search, as one object the search run drives (UNAS App. E.1).

A search with a `latency` section measures sampled architectures with its back end
(`backends`: timed on the search's own device, or summed from a table), keeps every
measurement in WORKDIR/latency_measurements.json so that a resumed search reuses them, fits the
linear surrogate g on random architectures before the search, and, when
`config.latency.weight` > 0, adds lambda_lat(t) max(0, L_lat(z) - target) to the architecture
objective (`objective.LatencyObjective`). `SearchLatency` holds all of it; the loop calls it at
start, at each architecture step, at each epoch's end and at the end.
"""

import json
import math
import os
import time

import tensorflow as tf
from absl import logging

from unas_tf import config_checks, genotypes, run_directory
from unas_tf.latency import backends, measure
from unas_tf.latency import objective as latency_objective
from unas_tf.latency import surrogate as latency_surrogate
from unas_tf.latency import target as latency_target

FILE = "latency_measurements.json"
# Stream of the stateless seeds of the latency architectures, apart from the step's own.
_SEED_STREAM = 1


# The rules of the `latency` keys of the search's latency term (the meter checks its own).
RULES = {
    **latency_target.RULES,
    "weight": config_checks.NON_NEGATIVE,
    "ramp_steps": config_checks.with_meaning(
        config_checks.NON_NEGATIVE_INT, "(0 = every search step)"
    ),
    "estimator": config_checks.one_of(latency_objective.ESTIMATORS),
    "holdout_fraction": config_checks.FRACTION,
    "surrogate_architectures": config_checks.POSITIVE_INT,
    "l2": config_checks.POSITIVE,
    "refit_every_epoch": config_checks.BOOLEAN,
}


def validate(config, space):
    """Checks the `latency` section of a search in `space`.

    Raises:
      ValueError: `space` does not measure latency, or an impossible value; the message names
        the key.
    """
    if not space.measures_latency:
        raise ValueError(
            f"config.latency: the {space.name} space does not measure latency; remove the section"
        )
    latency = config.latency
    config_checks.check(latency, RULES, prefix="config.latency.")
    latency_target.validate(latency)
    surrogate_left = latency.surrogate_architectures - math.floor(
        latency.surrogate_architectures * latency.holdout_fraction
    )
    checks = [
        (
            "surrogate_architectures",
            surrogate_left >= 2,
            "at least 2 architectures left to fit after holding out holdout_fraction",
        ),
        (
            "batch_size",
            latency.batch_size <= config.batch_size,
            f"at most config.batch_size={config.batch_size} (the data batch)",
        ),
    ]
    for key, valid, expected in checks:
        if not valid:
            raise ValueError(f"config.latency.{key}: expected {expected}, got {latency[key]!r}")
    backends.search_meter(config, space, num_classes=1)  # names a bad meter setting or table


class SearchLatency:
    """A search's meter, measurement record, surrogate and latency objective.

    Args:
      config: the search config (its `latency` section is checked by `validate`).
      space: the `SearchSpace`: it builds the timed networks, gives g's features and random
        architectures, and turns sampled indices into genotypes.
      workdir: the run's directory; the measurements live in WORKDIR/latency_measurements.json,
        a quantile target in WORKDIR/latency_target.json.
      writes: whether this process writes the record (the chief).
      num_classes: the data set's classes, for the timed networks' heads.

    Attributes:
      target_ms: the target in milliseconds, once `build_objective` resolved it.
    """

    def __init__(self, config, space, workdir, writes, num_classes):
        self.config = config
        self.space = space
        self.workdir = workdir
        meter = backends.search_meter(config, space, num_classes)
        self.record = _Record(meter, os.path.join(workdir, FILE), writes)
        self.objective = self.fit = self.target_ms = None

    def build_objective(self):
        """Resolves the target; fits g and builds the `LatencyObjective` when the term has a
        weight; returns the objective or None.

        The random architectures are measured when g or a quantile target needs them.
        """
        latency = self.config.latency
        random_ms = []
        if latency.weight > 0 or latency_target.from_quantile(latency):
            surrogate, self.fit = _fit_surrogate(self.config, self.space, self.record)
            random_ms = surrogate.latencies_ms
        self.target_ms = latency_target.resolve(
            latency, random_ms, self.workdir, self.record.writes
        )
        if latency.weight > 0:
            self.objective = latency_objective.LatencyObjective(
                surrogate, self.target_ms, latency.estimator, self.config.temperature
            )
        return self.objective

    def checkpoint_state(self):
        """What a checkpoint must hold so that a resumed search uses the same term."""
        if self.objective is None:
            return {}
        # g too: refits during the search change it, and a resumed search must use the same.
        return {
            "latency_surrogate": self.objective.surrogate.linear,
            "latency_estimator": self.objective.state,
        }

    def write_fit_summaries(self):
        """TensorBoard scalars of the target and g's held-out fit (call under a writer)."""
        tf.summary.scalar("latency/target_ms", self.target_ms)
        if self.fit is not None:
            tf.summary.scalar("latency/surrogate_holdout_mae", self.fit.holdout_mae)
            tf.summary.scalar("latency/surrogate_holdout_r2", self.fit.holdout_r2)

    def step_inputs(self, search_trainer, step, search_start, search_steps):
        """The `latency` argument of architecture step `step` and the figures to log."""
        return step_inputs(
            self.objective,
            search_trainer,
            self.space,
            self.record.meter,
            self.config,
            step,
            search_start,
            search_steps,
        )

    def end_of_epoch(self, genotype, epoch):
        """Measures the argmax architecture, saves the record, refits g if asked; returns ms."""
        return _end_of_epoch(
            self.config, self.record, self.objective, self.target_ms, genotype, epoch
        )

    def finish(self, genotype):
        """Logs the final architecture's latency and saves the record."""
        logging.info(
            "Final architecture: latency %.3f ms (target %.3f ms)",
            self.record.meter.measure(genotype).median_ms,
            self.target_ms,
        )
        self.record.save()


def _seed(seed, step):
    """The stateless seed of step `step`'s latency architecture: [2] int32."""
    folded = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, _SEED_STREAM], tf.int64), step
    )
    return tf.cast(folded, tf.int32)


class _Record:
    """The search's latency measurements, in `FILE` so that a resumed run reuses them.

    Args:
      meter: the `measure.LatencyMeter`; its cache holds every measurement.
      path: the JSON file.
      writes: whether this worker writes the file (the chief).
    """

    def __init__(self, meter, path, writes):
        self.meter = meter
        self.path = path
        self.writes = writes
        self.loaded = 0
        if os.path.exists(path):
            with open(path) as file:
                saved = json.load(file)
            for entry in saved["measurements"]:
                genotype = genotypes.from_json(json.dumps(entry["genotype"]))
                meter.remember(genotype, measure.Measurement.from_dict(entry))
            self.loaded = len(saved["measurements"])

    def save(self):
        if not self.writes:
            return
        entries = [
            {"genotype": json.loads(genotypes.to_json(genotype)), **measurement.as_dict()}
            for genotype, measurement in self.meter.measurements()
        ]
        run_directory.write_json_atomically(self.path, {"measurements": entries})


def _fit_surrogate(config, space, record):
    """Measures the surrogate's random architectures (unless saved) and fits g.

    Returns:
      (`LatencySurrogate`, `SurrogateFit`).
    """
    latency = config.latency
    surrogate = latency_surrogate.LatencySurrogate(space, config, record.meter)
    before = record.meter.num_measured
    start = time.perf_counter()
    surrogate.measure_random(latency.surrogate_architectures, seed=config.seed)
    logging.info(
        "Latency surrogate: %d random architectures, %d measured now in %.0f s, %d read from %s",
        latency.surrogate_architectures,
        record.meter.num_measured - before,
        time.perf_counter() - start,
        record.loaded,
        record.path,
    )
    record.save()
    fit = surrogate.fit(latency.l2, latency.holdout_fraction, seed=config.seed)
    return surrogate, fit


def step_inputs(objective, search_trainer, space, meter, config, step, search_start, search_steps):
    """Draws and measures step `step`'s latency architecture, eagerly (UNAS App. E.1).

    Returns:
      (the step's `latency` argument, a dict of the measured figures to log).
    """
    seed = _seed(config.seed, step)
    sample = objective.draw(search_trainer.latency_logits(), seed)
    indices = {
        key: tf.argmax(value[0], axis=-1, output_type=tf.int32) for key, value in sample.items()
    }
    latency_ms = meter.measure(
        space.genotype_from_indices({key: value.numpy() for key, value in indices.items()}, config)
    ).median_ms
    weight = latency_objective.annealed_weight(
        step, search_start, search_steps, config.latency.weight, config.latency.ramp_steps
    )
    latency = {
        "seed": seed,
        "indices": indices,
        "latency_ms": tf.constant(latency_ms, tf.float32),
        "weight": tf.constant(weight, tf.float32),
    }
    return latency, {"latency/sampled_ms": latency_ms, "latency/weight": weight}


def _end_of_epoch(config, record, objective, target_ms, genotype, epoch):
    """Measures the argmax architecture, saves the measurements, refits g if asked; returns ms."""
    latency_ms = record.meter.measure(genotype).median_ms
    logging.info(
        "epoch %d/%d: argmax architecture latency %.3f ms (target %.3f ms), %d measured so far",
        epoch + 1,
        config.epochs,
        latency_ms,
        target_ms,
        record.meter.num_measured,
    )
    record.save()
    if objective is not None and config.latency.refit_every_epoch:
        surrogate = objective.surrogate
        known = {genotypes.to_json(g) for g in surrogate.genotypes}
        for measured, measurement in record.meter.measurements():
            if genotypes.to_json(measured) not in known:
                surrogate.add(measured, measurement.median_ms)
        surrogate.fit(config.latency.l2, config.latency.holdout_fraction, seed=config.seed)
    return latency_ms
