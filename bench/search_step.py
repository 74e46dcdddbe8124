r"""Benchmark: one UNAS search step, REBAR on L_gen with one sample per example, then the weights.

    python bench/search_step.py                        # layers=5, C=8, batch 16, 32x32
    python bench/search_step.py --layers=8 --init_channels=16 --batch_size=32 --steps=5
    python bench/search_step.py --sampling=per_batch --weight_sample=relaxed \
        --weight_sample=discrete                       # two steps side by side

Prints one JSON line: `first_step_s` (from launch, imports included, to the end of the first
step: what a user waits before a search makes progress), `trace_s` and `first_call_s` (its
two TensorFlow parts), `median_step_s` and `min_step_s` (median and fastest of --steps steady
steps; on a loaded host the fastest is the steadier figure), `peak_memory_mb` (the process's
peak resident set on CPU, over every search it built so far; the devices' peak allocation when
a GPU runs the step, for planning GPU memory) and `cpu_model` (`lscpu`'s model name: figures
compare only on one CPU). With --profile_dir, the steady steps run under TensorFlow's
profiler (the trace opens in TensorBoard's profile tab) and the line adds `profile`: op time
by op type and how many cores the ops kept busy (bench/op_profile.py). Given several
--weight_sample,
it builds one search per value and alternates their steady steps, so that the load of a
shared host weighs on each alike; one line each, `first_step_s` on the first only.
Targets on a 2-core CPU at the default size: a steady step at least 2.5x faster than a PyTorch
implementation of this step with the paper's released supernet, timed in the same session on
the same CPU, and a first step <= 60 s (bench/README.md has the pairs measured).
"""

import time

LAUNCH = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unas_tf import runtime  # noqa: E402,I001

runtime.import_tensorflow_quietly()  # before anything else imports TensorFlow

import op_profile  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from unas_tf import adam, distributions, estimators, search_step  # noqa: E402
from unas_tf.latency import measure  # noqa: E402
from unas_tf.search_spaces.darts import genotype as darts_genotype  # noqa: E402
from unas_tf.search_spaces.darts import penalty as darts_penalty  # noqa: E402
from unas_tf.search_spaces.darts import supernet as darts_supernet  # noqa: E402

NUM_CLASSES = 10

_LAYERS = flags.DEFINE_integer("layers", 5, "Cells of the supernet.")
_CHANNELS = flags.DEFINE_integer("init_channels", 8, "C of the first cells.")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Examples per step (train and val each).")
_IMAGE = flags.DEFINE_integer("image_size", 32, "Image height and width.")
_STEPS = flags.DEFINE_integer("steps", 5, "Steady steps timed after the first.")
_SAMPLING = flags.DEFINE_enum(
    "sampling", "per_example", search_step.SAMPLING, "One architecture per example or per step."
)
_WEIGHT_SAMPLE = flags.DEFINE_multi_enum(
    "weight_sample", ["relaxed"], search_step.WEIGHT_SAMPLES, "What w trains on; repeat to compare."
)
_PROFILE_DIR = flags.DEFINE_string(
    "profile_dir", "", "Profile the steady steps into this directory (one --weight_sample)."
)
flags.register_multi_flags_validator(
    ["profile_dir", "weight_sample"],
    lambda values: not values["profile_dir"] or len(values["weight_sample"]) == 1,
    "--profile_dir profiles one search: give one --weight_sample",
)


def _batch(seed):
    shape = [_BATCH.value, _IMAGE.value, _IMAGE.value, 3]
    return {
        "image": tf.random.stateless_normal(shape, seed=[seed, 0]),
        "label": tf.random.stateless_uniform(
            [_BATCH.value], [seed, 1], maxval=NUM_CLASSES, dtype=tf.int32
        ),
    }


def _search_step(train, weight_sample):
    """A REBAR search on its own supernet; returns its traced step function."""
    supernet = darts_supernet.Supernet(NUM_CLASSES, _CHANNELS.value, _LAYERS.value)
    distribution = distributions.ArchitectureDistribution(darts_genotype.darts_choice_shapes(7))
    supernet(train["image"][:1], distribution.sample(1, seed=0))
    # The search presets' Adams (App. A.2); their weight decay is the settings' L2 term.
    weight_optimizer = adam.Adam(6e-4)
    arch_optimizer = adam.Adam(2e-3)
    # As the search loop does: variables created inside the step would make TensorFlow trace
    # it twice.
    weight_optimizer.build(supernet.trainable_weights)
    arch_optimizer.build(distribution.trainable_variables)
    search = search_step.SearchTrainer(
        supernet,
        distribution,
        estimators.create("rebar"),
        weight_optimizer,
        arch_optimizer,
        search_step.SearchSettings(
            sampling=_SAMPLING.value,
            weight_sample=weight_sample,
            global_batch_size=_BATCH.value,
            weight_decay=3e-4,
            arch_weight_decay=1e-6,
        ),
        seed=0,
        architecture_penalty=darts_penalty.architecture_penalty,
    )
    return search.step_function(True)


def _run(step, train, val):
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), step(train, val))
    return time.perf_counter() - start


def _peak_memory_mb():
    """Peak memory of the step's devices: summed GPU peaks if a GPU ran it, else peak RSS."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        peak = sum(
            tf.config.experimental.get_memory_info(gpu.name.split("device:")[-1])["peak"]
            for gpu in gpus
        )
        return round(peak / 2**20, 1)
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 2**10
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, 1)


def main(argv):
    del argv
    # As the DARTS search sets its process up.
    runtime.spread_ops_over_cores()
    runtime.lighten_graph_optimisation()
    train, val = _batch(1), _batch(2)
    reports, steps = [], []
    for weight_sample in _WEIGHT_SAMPLE.value:
        step = _search_step(train, weight_sample)
        start = time.perf_counter()
        step.get_concrete_function(train, val)
        trace = time.perf_counter() - start
        first_call = _run(step, train, val)
        report = {
            "layers": _LAYERS.value,
            "init_channels": _CHANNELS.value,
            "batch_size": _BATCH.value,
            "image_size": _IMAGE.value,
            "sampling": _SAMPLING.value,
            "weight_sample": weight_sample,
        }
        if not reports:
            report["first_step_s"] = round(time.perf_counter() - LAUNCH, 1)
        report.update(trace_s=round(trace, 1), first_call_s=round(first_call, 1))
        reports.append(report)
        steps.append(step)
    times = [[] for _ in steps]
    if _PROFILE_DIR.value:
        tf.profiler.experimental.start(_PROFILE_DIR.value)
    for _ in range(_STEPS.value):
        for step, timed in zip(steps, times, strict=True):
            timed.append(_run(step, train, val))
    if _PROFILE_DIR.value:
        tf.profiler.experimental.stop()
        reports[0]["profile"] = op_profile.summarize(_PROFILE_DIR.value, sum(times[0]))
    for report, timed in zip(reports, times, strict=True):
        report["median_step_s"] = round(statistics.median(timed), 3)
        report["min_step_s"] = round(min(timed), 3)
        report["peak_memory_mb"] = _peak_memory_mb()
        report["cpu_model"] = measure.cpu_model()
        print(json.dumps(report))


if __name__ == "__main__":
    app.run(main)
