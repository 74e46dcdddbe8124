"""Per-choice latency tables: an architecture's latency as a sum, measured once, anywhere.

ProxylessNAS, FBNet and HW-NAS-Bench predict a device's latency from a lookup table of each
layer's choices measured on that device (a phone, say), so that the search needs no timing. A
table here is JSON:

    {"format_version": 1, "space": "proxyless", "constant_ms": 21.4,
     "choices": {"layers": [[0.0, 1.2, ...], ...]}, "measured_with": {...}}

with one array per group of the space's choices, shaped as `space.choice_shapes(config)`: the
latency of an architecture is `constant_ms` plus the sum of the entries of its one-hot choices
(its `space.latency_features`), the linear surrogate's form (UNAS Sec. 5). `measure_table`
writes one on this machine with a meter: an entry is the change from a base architecture (each
selector's first allowed choice) when that one selector takes that choice and every other keeps
its base. Every entry is a difference from the base, so an error in the base's one measurement
would shift every sum by as many times as the architecture changes selectors (bench/README.md
has a ProxylessNAS table spoilt so). The base latency is therefore
estimated again from a few random architectures measured whole: one that changes k selectors
measures M = (sum of its k one-change latencies) - (k - 1) b, so each gives an estimate of b
that does not use the base's own measurement, and the table takes their median.
`prediction_error` says how well the sums predict whole networks measured by the same meter
(MAE and R^2 over other random architectures): interactions between layers are what a table
cannot hold.
"""

import json
import math
import time

import numpy as np
from absl import logging

from unas_tf import run_directory
from unas_tf.latency import measure

FORMAT_VERSION = 1


class LatencyTable:
    """A constant and per-choice latencies in milliseconds.

    Args:
      space_name: the name of the space whose choices the table holds.
      constant_ms: the latency every architecture has.
      choices: {group: float array shaped as the group's choices [..., K]}.
      measured_with: JSON-ready facts about the measurement (back end, sizes, CPU).
    """

    def __init__(self, space_name, constant_ms, choices, measured_with=None):
        self.space_name = space_name
        self.constant_ms = float(constant_ms)
        self.choices = {key: np.asarray(value, np.float64) for key, value in choices.items()}
        self.measured_with = dict(measured_with or {})

    def latency_ms(self, features):
        """The table's latency of one architecture's one-hot {group: [..., K]} features."""
        return self.constant_ms + sum(
            float(np.sum(self.choices[key] * value)) for key, value in features.items()
        )

    def to_dict(self):
        """The JSON-ready table."""
        return {
            "format_version": FORMAT_VERSION,
            "space": self.space_name,
            "constant_ms": self.constant_ms,
            "choices": {key: value.tolist() for key, value in self.choices.items()},
            "measured_with": self.measured_with,
        }

    def save(self, path):
        """Writes the table to `path` as JSON, atomically."""
        run_directory.write_json_atomically(path, self.to_dict())


def load(path, space, config):
    """Reads the table at `path` for searches of `config` in `space`.

    Raises:
      ValueError: one line naming `path` and the bad entry: an unreadable file, another space,
        a missing group, a group of the wrong shape, or a number that is not finite.
    """
    try:
        with open(path) as file:
            data = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as a latency table ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: cannot be read as a latency table (not a JSON object)")
    if data.get("space") != space.name:
        raise ValueError(f"{path}: space: expected {space.name!r}, got {data.get('space')!r}")
    constant = data.get("constant_ms")
    if not _finite(constant):
        raise ValueError(f"{path}: constant_ms: expected a finite number, got {constant!r}")
    choices = data.get("choices")
    if not isinstance(choices, dict):
        raise ValueError(f"{path}: choices: expected an object of groups, got {choices!r}")
    table = {}
    for key, shape in space.choice_shapes(config).items():
        if key not in choices:
            raise ValueError(f"{path}: choices.{key}: missing (expected shape {list(shape)})")
        table[key] = _group(path, key, choices[key], shape)
    return LatencyTable(space.name, constant, table, data.get("measured_with"))


def _finite(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _group(path, key, value, shape):
    """One group's array, checked entry by entry so that the message names the bad one."""
    array = np.array(value, dtype=object)  # ragged lists make a shorter shape
    if array.shape != tuple(shape):
        raise ValueError(
            f"{path}: choices.{key}: expected shape {list(shape)}, got {list(array.shape)}"
        )
    for position in np.ndindex(array.shape):
        if not _finite(array[position]):
            where = "".join(f"[{i}]" for i in position)
            raise ValueError(
                f"{path}: choices.{key}{where}: expected a finite number (ms), got "
                f"{array[position]!r}"
            )
    return array.astype(np.float64)


class TableMeter(measure.LatencyMeter):
    """A `measure.LatencyMeter` whose latency is a table's sum: nothing is timed.

    Args:
      table: the `LatencyTable`.
      space: the space whose `latency_features` the table weighs.
      source: what the measurements name as their device (e.g. "table:PATH").
      **settings: the other `measure.LatencyMeter` arguments (only batch_size is reported).
    """

    def __init__(self, table, space, source, **settings):
        super().__init__(build_model=None, **settings)
        self.table = table
        self.space = space
        self.source = source

    def _measure(self, genotype):
        """The table's sum.

        Raises:
          ValueError: the sum is not positive (a table measured from differences of noisy
            timings can be), which no latency is.
        """
        latency_ms = self.table.latency_ms(self.space.latency_features(genotype))
        if not latency_ms > 0:
            raise ValueError(
                f"{self.source}: sums to {latency_ms:.3f} ms for an architecture, not a "
                "latency; measure the table with more repeats (or a larger image)"
            )
        return measure.Measurement(
            median_ms=latency_ms,
            iqr_ms=0.0,
            times_ms=(latency_ms,),
            batch_size=self.batch_size,
            device=self.source,
            jit_compile=False,
            clock=self.clock,
            seconds=0.0,
        )


def base_indices(space, config):
    """{group: int array [...]}: each selector's first allowed choice, the table's base."""
    masks = space.choice_masks(config) or {}
    return {
        key: (np.argmax(masks[key], axis=-1) if key in masks else np.zeros(shape[:-1], np.int64))
        for key, shape in space.choice_shapes(config).items()
    }


def measure_table(space, config, meter, measured_with=None, calibration_architectures=10, seed=0):
    """Measures a table with `meter`: the base architecture, then one selector changed at a time.

    Args:
      space: the `SearchSpace`.
      config: the search config, whose choices the table covers.
      meter: a `measure.LatencyMeter` of the space's genotypes.
      measured_with: JSON-ready facts to store with the table.
      calibration_architectures: random architectures measured whole to estimate the base
        latency again (the module docstring); 0 keeps the base's own measurement.
      seed: their seed: architecture i is `space.random_search_genotype([seed, i, 1], config)`,
        apart from `prediction_error`'s.

    Returns:
      A `LatencyTable`; a disallowed choice (`space.choice_masks`) has 0 ms. Its
      `measured_with` adds the base's own measurement (`base_measured_ms`) and
      `calibration_architectures`.
    """
    shapes = space.choice_shapes(config)
    masks = space.choice_masks(config) or {}
    base = base_indices(space, config)
    base_ms = meter.measure(space.genotype_from_indices(base, config)).median_ms
    start, done = time.perf_counter(), 0
    changes = {}  # {group: [...] one-change latency minus the base's measurement}
    measured = {}  # {group: [...] bool}: the entries measured (not the base's, not disallowed)
    for key, shape in shapes.items():
        entries = np.zeros(shape, np.float64)
        measured[key] = np.zeros(shape, bool)
        for position in np.ndindex(tuple(shape[:-1])):
            for choice in range(shape[-1]):
                allowed = key not in masks or masks[key][(*position, choice)]
                if not allowed or choice == base[key][position]:
                    continue
                indices = {name: value.copy() for name, value in base.items()}
                indices[key][position] = choice
                genotype = space.genotype_from_indices(indices, config)
                entries[(*position, choice)] = meter.measure(genotype).median_ms - base_ms
                measured[key][(*position, choice)] = True
                done += 1
        changes[key] = entries
        logging.info(
            "Latency table: group %s done, %d choices measured (%.0f s)",
            key,
            done,
            time.perf_counter() - start,
        )
    differences = LatencyTable("", 0.0, changes)
    base_estimates = []
    for i in range(calibration_architectures):
        genotype = space.random_search_genotype([seed, i, 1], config)
        features = space.latency_features(genotype)
        changed = sum(
            int(np.sum(np.argmax(value, axis=-1) != base[key])) for key, value in features.items()
        )
        if changed > 1:
            one_change_sum = changed * base_ms + differences.latency_ms(features)
            whole_ms = meter.measure(genotype).median_ms
            base_estimates.append((one_change_sum - whole_ms) / (changed - 1))
    constant_ms = float(np.median(base_estimates)) if base_estimates else base_ms
    logging.info(
        "Latency table: base latency %.3f ms from %d architectures measured whole (measured "
        "alone: %.3f ms)",
        constant_ms,
        len(base_estimates),
        base_ms,
    )
    # An entry is its one-change latency minus the base latency now estimated.
    choices = {
        key: np.where(measured[key], entries + base_ms - constant_ms, 0.0)
        for key, entries in changes.items()
    }
    facts = {
        **(measured_with or {}),
        "base_measured_ms": base_ms,
        "calibration_architectures": len(base_estimates),
    }
    return LatencyTable(space.name, constant_ms, choices, facts)


def prediction_error(table, space, config, meter, num_architectures, seed=0, repeat_meter=None):
    """How well the table's sums predict `meter`'s latencies of random architectures.

    Architecture i is `space.random_search_genotype([seed, i], config)`. With `repeat_meter`
    (a second, independent meter) each is measured again, and the same scores of that second
    measurement as a prediction of the first say how far the timing itself repeats: a table's
    error is not to be read as the table's alone when it is close to the timing's own.

    Returns:
      {"architectures": N, "mae_ms": mean absolute error, "bias_ms": mean of predicted minus
       measured, "r2": coefficient of determination, "measured_ms": [...],
       "predicted_ms": [...]}; with `repeat_meter` also "repeat_mae_ms", "repeat_r2" and
       "remeasured_ms".
    """
    genotypes_ = [space.random_search_genotype([seed, i], config) for i in range(num_architectures)]
    measured = [meter.measure(genotype).median_ms for genotype in genotypes_]
    predicted = [table.latency_ms(space.latency_features(genotype)) for genotype in genotypes_]
    report = {
        "architectures": num_architectures,
        **_scores(measured, predicted),
        "measured_ms": measured,
        "predicted_ms": predicted,
    }
    if repeat_meter is not None:
        remeasured = [repeat_meter.measure(genotype).median_ms for genotype in genotypes_]
        scores = _scores(measured, remeasured)
        report.update(
            repeat_mae_ms=scores["mae_ms"], repeat_r2=scores["r2"], remeasured_ms=remeasured
        )
    return report


def _scores(measured, predicted):
    """{"mae_ms", "bias_ms", "r2"} of `predicted` against `measured`."""
    measured_array, predicted_array = np.array(measured), np.array(predicted)
    residual = float(np.sum((measured_array - predicted_array) ** 2))
    total = float(np.sum((measured_array - measured_array.mean()) ** 2))
    return {
        "mae_ms": float(np.mean(np.abs(measured_array - predicted_array))),
        "bias_ms": float(np.mean(predicted_array - measured_array)),
        "r2": 1.0 - residual / total if total > 0 else float("nan"),
    }
