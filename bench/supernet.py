r"""Benchmark: what the DARTS supernet costs TensorFlow to trace, start and run, vs its child.

    python bench/supernet.py             # small and paper search sizes, one JSON line each
    python bench/supernet.py --sizes=small --steps=10

Per size, for each workload (all in training mode, as in the search): `trace_s` (building the
graph), `first_call_s` (the first run, which includes TensorFlow's graph optimisation),
`median_step_s` (median of --steps rounds that time every workload once, so machine
drift hits all alike) and `graph_nodes` (nodes of the traced graph
and the functions it calls). Workloads: `shared_one_hot` (one architecture for the batch),
`child` (the stand-alone network of that architecture), `relaxed_per_example` (a relaxed
sample per example at uniform logits: nothing is skipped) and `relaxed_forward_backward` (the
same, run densely as the search step does, with the gradient of the loss for every weight).
Target: shared_one_hot <= 1.3x child.
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unas_tf import runtime  # noqa: E402,I001

runtime.import_tensorflow_quietly()  # before anything else imports TensorFlow

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from unas_tf import distributions  # noqa: E402
from unas_tf.search_spaces.darts import genotype as darts_genotype  # noqa: E402
from unas_tf.search_spaces.darts import networks as darts_networks  # noqa: E402
from unas_tf.search_spaces.darts import supernet as darts_supernet  # noqa: E402

SIZES = {
    # The paper's CIFAR search network (App. A.2), and a small one for quick comparisons.
    "search": {"layers": 8, "init_channels": 16, "batch_size": 32, "image_size": 32},
    "small": {"layers": 5, "init_channels": 8, "batch_size": 16, "image_size": 32},
}
NUM_CLASSES = 10

_SIZES = flags.DEFINE_list("sizes", ["small", "search"], f"Sizes to run, of {sorted(SIZES)}.")
_STEPS = flags.DEFINE_integer("steps", 5, "Timed runs after the first call.")
WORKLOADS = ("shared_one_hot", "child", "relaxed_per_example", "relaxed_forward_backward")
_WORKLOADS = flags.DEFINE_list("workloads", list(WORKLOADS), f"Workloads to run, of {WORKLOADS}.")


def _graph_nodes(concrete):
    graph_def = concrete.graph.as_graph_def()
    return len(graph_def.node) + sum(len(f.node_def) for f in graph_def.library.function)


def _prepare(fn, args):
    """Traces and first-calls `fn`; returns the function and its start-up figures."""
    function = tf.function(fn)
    start = time.perf_counter()
    concrete = function.get_concrete_function(*args)
    trace = time.perf_counter() - start
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), function(*args))
    first = time.perf_counter() - start
    figures = {
        "trace_s": round(trace, 3),
        "first_call_s": round(first, 3),
        "graph_nodes": _graph_nodes(concrete),
    }
    return function, figures


def _interleaved_medians(calls, steps):
    """Times every call once per round, `steps` rounds: machine drift hits all alike."""
    times = {name: [] for name in calls}
    for _ in range(steps):
        for name, (function, args) in calls.items():
            start = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), function(*args))
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(values), 4) for name, values in times.items()}


def run(size, steps, workloads=WORKLOADS):
    """Returns the JSON-ready measurements of one size."""
    layers, channels = size["layers"], size["init_channels"]
    batch, image_size = size["batch_size"], size["image_size"]
    images = tf.random.stateless_normal([batch, image_size, image_size, 3], seed=[0, 0])
    labels = tf.random.stateless_uniform([batch], [0, 1], maxval=NUM_CLASSES, dtype=tf.int32)
    genotype = darts_genotype.random_darts(0)
    one_hot = {
        k: tf.constant(v[None]) for k, v in darts_genotype.darts_to_one_hot(genotype).items()
    }
    shapes = darts_genotype.darts_choice_shapes(len(darts_genotype.DARTS_OPS))
    relaxed = distributions.sample_relaxed(
        {k: tf.zeros(s) for k, s in shapes.items()}, seed=0, sample_shape=[batch]
    )

    supernet = darts_supernet.Supernet(NUM_CLASSES, channels, layers)
    supernet(images[:1], one_hot)  # builds every edge-op
    child = darts_networks.cifar_network(
        genotype, NUM_CLASSES, init_channels=channels, layers=layers, auxiliary=False
    )

    def forward_backward(images, sample):
        with tf.GradientTape() as tape:
            # Differentiated forwards run densely, as in the search step (search_step.py).
            logits = supernet(images, sample, training=True, skip_inactive=False)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        return tape.gradient(loss, supernet.trainable_weights)

    def supernet_forward(images, sample):
        return supernet(images, sample, training=True)

    def one_hot_forward(images, sample):
        return supernet(images, sample, training=True, one_hot=True)

    calls = {
        "shared_one_hot": (one_hot_forward, (images, one_hot)),
        "child": (lambda images: child(images, training=True), (images,)),
        "relaxed_per_example": (supernet_forward, (images, relaxed)),
        "relaxed_forward_backward": (forward_backward, (images, relaxed)),
    }
    results, prepared = {}, {}
    for name in workloads:
        function, results[name] = _prepare(*calls[name])
        prepared[name] = (function, calls[name][1])
    for name, median in _interleaved_medians(prepared, steps).items():
        results[name]["median_step_s"] = median
    if {"shared_one_hot", "child"} <= set(results):
        ratio = results["shared_one_hot"]["median_step_s"] / results["child"]["median_step_s"]
        results["shared_over_child"] = round(ratio, 3)
    return {**size, **results}


def main(argv):
    del argv
    for flag, known in ((_SIZES, SIZES), (_WORKLOADS, WORKLOADS)):
        unknown = sorted(set(flag.value) - set(known))
        if unknown:
            raise app.UsageError(f"--{flag.name}: unknown {unknown}; known: {sorted(known)}")
    for name in _SIZES.value:
        report = run(SIZES[name], _STEPS.value, _WORKLOADS.value)
        print(json.dumps({"size": name, **report}), flush=True)


if __name__ == "__main__":
    app.run(main)
