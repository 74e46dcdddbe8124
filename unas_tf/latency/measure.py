"""Measured inference latency of an architecture on the device that runs the search.

UNAS Sec. 5 measures the latency of the sampled architecture itself, on the search's own device,
because compiler fusion and kernel choice make additive latency models inexact. A measurement
builds the architecture's plain Keras model, compiles its inference with `tf.function`
(optionally XLA), runs warm-up calls (tracing, graph optimisation, allocator and cache warm-up)
and then times `repeats` calls on a fixed batch (32 images by default: smaller batches
under-use a GPU, UNAS Sec. 5). The median is the latency; the interquartile range reports the
noise. Results are cached by genotype, so the search measures each architecture once.
"""

import platform
import statistics
import time
from typing import NamedTuple

import tensorflow as tf

from unas_tf import config_checks, genotypes

# Defaults of `LatencyMeter`; configs override them (configs/eval/proxyless_imagenet.py).
DEFAULT_BATCH_SIZE = 32
DEFAULT_WARMUP_RUNS = 3
DEFAULT_REPEATS = 20
DEFAULT_RUNS_PER_REPEAT = 1
# "wall": elapsed time, the latency proper. "process": CPU time of this process, which other
# processes' load on a shared CPU host does not inflate (meaningless for accelerators).
CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


class Measurement(NamedTuple):
    """Latency of one architecture; times are milliseconds per batch.

    Attributes:
      median_ms: median over the repeats: the latency.
      iqr_ms: interquartile range of the repeats (75th minus 25th percentile).
      times_ms: every repeat's time per call.
      batch_size: images per call.
      device: the device the outputs were computed on.
      jit_compile: whether inference was compiled with XLA.
      clock: "wall" or "process" (see `CLOCKS`).
      seconds: wall time of the whole measurement (building, compiling, timing).
    """

    median_ms: float
    iqr_ms: float
    times_ms: tuple
    batch_size: int
    device: str
    jit_compile: bool
    clock: str
    seconds: float

    @property
    def relative_iqr(self):
        """The interquartile range as a fraction of the median."""
        return self.iqr_ms / self.median_ms

    def as_dict(self):
        """Returns the JSON-ready fields, `relative_iqr` included."""
        return {
            **self._asdict(),
            "times_ms": list(self.times_ms),
            "relative_iqr": self.relative_iqr,
        }

    @classmethod
    def from_dict(cls, fields):
        """Rebuilds a measurement from `as_dict` output (extra keys are ignored)."""
        return cls(**{name: fields[name] for name in cls._fields})._replace(
            times_ms=tuple(fields["times_ms"])
        )


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a positive integer. "
            f"Received: {name}={value!r}"
        )


def _quartiles(values):
    if len(values) == 1:
        return values[0], values[0]
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return quartiles[0], quartiles[2]


class LatencyMeter:
    """Measures and caches the inference latency of genotypes' networks.

    Args:
      build_model: maps a genotype to its plain Keras model; the model's input shape fixes the
        image size, and dict outputs are all computed (e.g. a space's `latency_network`).
      batch_size: images per timed call.
      warmup_runs: untimed calls after compiling; at least 1, the first call compiles.
      repeats: timed repeats; the median of these is the latency.
      runs_per_repeat: calls per repeat, averaged: more smooths timer and scheduler noise.
      jit_compile: compile inference with XLA.
      clock: "wall" (elapsed time) or "process" (this process's CPU time, for shared CPU hosts;
        count it with one intra-op thread, since idle pool threads spin).
      device: device name to run on (e.g. "/GPU:0"); None for TensorFlow's current device.
      seed: seed of the fixed random input batch.

    Raises:
      ValueError: a count is not a positive integer.
    """

    def __init__(
        self,
        build_model,
        batch_size=DEFAULT_BATCH_SIZE,
        warmup_runs=DEFAULT_WARMUP_RUNS,
        repeats=DEFAULT_REPEATS,
        runs_per_repeat=DEFAULT_RUNS_PER_REPEAT,
        jit_compile=False,
        clock="wall",
        device=None,
        seed=0,
    ):
        for name, value in (
            ("batch_size", batch_size),
            ("warmup_runs", warmup_runs),
            ("repeats", repeats),
            ("runs_per_repeat", runs_per_repeat),
        ):
            _check_positive(name, value)
        if clock not in CLOCKS:
            raise ValueError(
                f"Invalid value received for argument `clock`. Expected one of {sorted(CLOCKS)}. "
                f"Received: clock={clock!r}"
            )
        self.build_model = build_model
        self.batch_size = batch_size
        self.warmup_runs = warmup_runs
        self.repeats = repeats
        self.runs_per_repeat = runs_per_repeat
        self.jit_compile = bool(jit_compile)
        self.clock = clock
        self.device = device
        self.seed = seed
        self.num_measured = 0
        self._cache = {}

    def measure(self, genotype):
        """Returns the `Measurement` of `genotype`, measuring it unless it is cached.

        Args:
          genotype: a genotype `build_model` accepts; the cache key is its JSON text.

        Returns:
          A `Measurement`; a cached genotype returns the very same object.
        """
        key = genotypes.to_json(genotype)
        if key not in self._cache:
            self._cache[key] = self._measure(genotype)
            self.num_measured += 1
        return self._cache[key]

    def measure_sample(self, sample, space, config):
        """Measures the architecture of one one-hot sample of a search.

        Args:
          sample: {group: one-hot [(1,) ..., K]}, shaped as `space.choice_shapes(config)`
            with an optional leading axis of one sample.
          space: the `SearchSpace` whose genotype the sample's choices make.
          config: the search config, for the space's choices.
        """
        shapes = space.choice_shapes(config)
        indices = {
            key: tf.reshape(tf.argmax(value, axis=-1), shapes[key][:-1]).numpy()
            for key, value in sample.items()
        }
        return self.measure(space.genotype_from_indices(indices, config))

    def cached(self, genotype):
        """Returns the cached `Measurement` of `genotype`, or None."""
        return self._cache.get(genotypes.to_json(genotype))

    def remember(self, genotype, measurement):
        """Caches a measurement taken earlier (e.g. saved by an interrupted search).

        A genotype already cached keeps its measurement; `num_measured` is unchanged.
        """
        self._cache.setdefault(genotypes.to_json(genotype), measurement)

    def measurements(self):
        """Returns every cached (genotype, `Measurement`) pair, in the order first cached."""
        return [(genotypes.from_json(key), value) for key, value in self._cache.items()]

    def _measure(self, genotype):
        start = time.perf_counter()
        with tf.device(self.device):
            model = self.build_model(genotype)
            image_shape = tuple(model.inputs[0].shape[1:])
            images = tf.random.stateless_normal(
                [self.batch_size, *image_shape], seed=[self.seed, 0]
            )
            run = self._inference(model, images)
            for _ in range(self.warmup_runs):
                device = run()
            clock, times = CLOCKS[self.clock], []
            for _ in range(self.repeats):
                begin = clock()
                for _ in range(self.runs_per_repeat):
                    run()
                times.append(1e3 * (clock() - begin) / self.runs_per_repeat)
        low, high = _quartiles(times)
        return Measurement(
            median_ms=statistics.median(times),
            iqr_ms=high - low,
            times_ms=tuple(times),
            batch_size=self.batch_size,
            device=device,
            jit_compile=self.jit_compile,
            clock=self.clock,
            seconds=time.perf_counter() - start,
        )

    def _inference(self, model, images):
        """Prepares `model`'s inference on `images`; returns a call that runs it once.

        The call returns the device the outputs were computed on. Here the model's inference is
        compiled with `tf.function` (XLA with `jit_compile`); `tflite.TfliteMeter` converts it.
        """

        @tf.function(jit_compile=self.jit_compile)
        def infer(images):
            return model(images, training=False)

        def run():
            outputs = tf.nest.flatten(infer(images))
            # Copying one value to the host waits for the call to finish on any device.
            _ = outputs[0][0, 0].numpy()
            return outputs[0].device

        return run


def cpu_model():
    """The CPU's model name (Linux's /proc/cpuinfo, else `platform`'s), to record with figures:
    latency is the device's."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def meter_from_config(config, build_model):
    """Returns a `LatencyMeter` from a config's `latency` fields.

    Args:
      config: a config with a `latency` ConfigDict: `batch_size`, `warmup_runs`, `repeats`,
        `runs_per_repeat`, `jit_compile` and optionally `clock` and `device`.
      build_model: as for `LatencyMeter`.

    Raises:
      ValueError: a field is invalid; the message names it as `config.latency.FIELD`.
    """
    return LatencyMeter(build_model, **settings_from_config(config))


# The rules of the `latency` keys a meter reads (`settings_from_config`).
METER_RULES = {
    "batch_size": config_checks.POSITIVE_INT,
    "warmup_runs": config_checks.POSITIVE_INT,
    "repeats": config_checks.POSITIVE_INT,
    "runs_per_repeat": config_checks.POSITIVE_INT,
    "clock": config_checks.one_of(sorted(CLOCKS)),
    "jit_compile": config_checks.BOOLEAN,
    "device": config_checks.with_meaning(config_checks.TEXT, "('' for the default device)"),
}


def settings_from_config(config):
    """Returns the `LatencyMeter` keyword arguments of a config's `latency` fields, checked.

    Raises:
      ValueError: a field is invalid; the message names it as `config.latency.FIELD`.
    """
    latency = config.latency
    config_checks.check(latency, METER_RULES, prefix="config.latency.")
    return {
        **{
            name: latency[name]
            for name in ("batch_size", "warmup_runs", "repeats", "runs_per_repeat")
        },
        "jit_compile": latency.jit_compile,
        "clock": latency.clock,
        "device": latency.device or None,
    }
