r"""Benchmark: cost and noise of latency measurement, and how well a linear surrogate fits it.

    python bench/latency.py                      # small width on CPU, one JSON line
    python bench/latency.py --num_architectures=40 --clock=wall --intra_op_threads=0

By default the timings are this process's CPU time with one intra-op thread: on a CPU host
shared with other jobs, wall time mostly measures their load (relative IQR ~8-20% and drift
over a run here, against ~4% for CPU time). --clock=wall times the latency proper.

Measures --num_architectures uniformly random ProxylessNAS-space architectures (plain child
networks at --width_multiplier and --image_size, batch --batch_size) and prints:
`seconds_per_architecture` (building, compiling, warming up and timing one architecture),
`median_ms` (median latency over the architectures), `relative_iqr` (median over architectures
of the interquartile range of repeated timings over their median; target <= 0.05),
`remeasure_relative_iqr` (one architecture measured --remeasurements times from scratch: the
interquartile range of those medians over their median), the linear surrogate's held-out
`holdout_mae_ms` and `holdout_r2` (UNAS Sec. 5), and `order_correlation`, the correlation of
the latencies with the order they were measured in: drift of a shared machine, which the
surrogate cannot explain.
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unas_tf import runtime  # noqa: E402,I001

runtime.import_tensorflow_quietly()  # before anything else imports TensorFlow

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from configs.search import proxyless_digits  # noqa: E402
from unas_tf import genotypes  # noqa: E402
from unas_tf.latency import measure, surrogate  # noqa: E402
from unas_tf.search_spaces import base  # noqa: E402

NUM_CLASSES = 1000

_NUM_ARCHITECTURES = flags.DEFINE_integer("num_architectures", 150, "Random architectures.")
_WIDTH = flags.DEFINE_float("width_multiplier", 0.25, "Width multiplier of the networks.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "Input resolution.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Images per timed call.")
_WARMUP = flags.DEFINE_integer("warmup_runs", 3, "Untimed calls after compiling.")
_REPEATS = flags.DEFINE_integer("repeats", 15, "Timed repeats per architecture.")
_RUNS_PER_REPEAT = flags.DEFINE_integer("runs_per_repeat", 3, "Calls averaged per repeat.")
_JIT = flags.DEFINE_bool("jit_compile", False, "Compile inference with XLA.")
_REMEASUREMENTS = flags.DEFINE_integer(
    "remeasurements", 5, "Independent measurements of one architecture."
)
_CLOCK = flags.DEFINE_enum(
    "clock", "process", sorted(measure.CLOCKS), "Wall time, or this process's CPU time."
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the random architectures.")
_DUMP = flags.DEFINE_string(
    "dump", None, "Also write the measured architectures and latencies to this JSON file."
)
_L2 = flags.DEFINE_float("l2", 10.0, "Ridge penalty of the surrogate fit.")
_THREADS = flags.DEFINE_integer(
    "intra_op_threads", 1, "TensorFlow intra-op threads; 0 for its default (all cores)."
)


def _relative_iqr(values):
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return (high - low) / statistics.median(values)


def main(argv):
    del argv
    if _THREADS.value:
        tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
    space = base.get("proxyless")
    network = {
        "num_classes": NUM_CLASSES,
        "width_multiplier": _WIDTH.value,
        "image_size": _IMAGE_SIZE.value,
    }

    def meter():
        return measure.LatencyMeter(
            lambda genotype: space.latency_network(genotype, network),
            batch_size=_BATCH_SIZE.value,
            warmup_runs=_WARMUP.value,
            repeats=_REPEATS.value,
            runs_per_repeat=_RUNS_PER_REPEAT.value,
            jit_compile=_JIT.value,
            clock=_CLOCK.value,
        )

    # The space's choices, which a ProxylessNAS search has whatever its other settings.
    search_config = proxyless_digits.get_config()
    latency = surrogate.LatencySurrogate(space, search_config, meter())
    start = time.perf_counter()
    latency.measure_random(_NUM_ARCHITECTURES.value, seed=_SEED.value)
    elapsed = time.perf_counter() - start
    measurements = [latency.meter.cached(g) for g in latency.genotypes]
    fit = latency.fit(l2=_L2.value)

    genotype = genotypes.load("UNAS_PROXYLESS")
    remeasured = [meter().measure(genotype).median_ms for _ in range(_REMEASUREMENTS.value)]
    report = {
        "device": measurements[0].device,
        "num_architectures": _NUM_ARCHITECTURES.value,
        "width_multiplier": _WIDTH.value,
        "image_size": _IMAGE_SIZE.value,
        "batch_size": _BATCH_SIZE.value,
        "repeats": _REPEATS.value,
        "runs_per_repeat": _RUNS_PER_REPEAT.value,
        "jit_compile": _JIT.value,
        "intra_op_threads": _THREADS.value,
        "clock": _CLOCK.value,
        "l2": _L2.value,
        "seconds_per_architecture": round(elapsed / _NUM_ARCHITECTURES.value, 3),
        "median_ms": round(statistics.median(latency.latencies_ms), 3),
        "min_ms": round(min(latency.latencies_ms), 3),
        "max_ms": round(max(latency.latencies_ms), 3),
        "relative_iqr": round(statistics.median(m.relative_iqr for m in measurements), 4),
        "remeasure_relative_iqr": round(_relative_iqr(remeasured), 4),
        "surrogate_num_train": fit.num_train,
        "surrogate_num_holdout": fit.num_holdout,
        "train_mae_ms": round(fit.train_mae, 3),
        "holdout_mae_ms": round(fit.holdout_mae, 3),
        "holdout_r2": round(fit.holdout_r2, 3),
        # Drift of the machine over the run, which no function of the architecture explains.
        "order_correlation": round(
            float(np.corrcoef(np.arange(len(latency.latencies_ms)), latency.latencies_ms)[0, 1]),
            3,
        ),
    }
    if _DUMP.value:
        points = [
            {"genotype": genotypes.to_json(g), "latency_ms": value}
            for g, value in zip(latency.genotypes, latency.latencies_ms, strict=True)
        ]
        with open(_DUMP.value, "w") as file:
            json.dump({"report": report, "points": points}, file)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    app.run(main)
