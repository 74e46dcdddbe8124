"""The latency meter that measures in a child process, and the search's choice of meter."""

import pytest

from configs.search import common
from unas_tf import genotypes
from unas_tf.latency import backends, measure, measuring_process
from unas_tf.search_spaces import base
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

SPACE = base.get("proxyless")
GRAPH = backends.get("graph")
NETWORK = {"num_classes": 5, "width_multiplier": 0.1, "image_size": 16}
SETTINGS = {"batch_size": 2, "warmup_runs": 1, "repeats": 3, "clock": "process"}


@pytest.mark.slow
def test_measures_in_a_child_process_and_caches_in_the_parent():
    meter = measuring_process.MeasuringProcess(SPACE, NETWORK, intra_op_threads=1, **SETTINGS)
    assert meter.build_model is None  # this process cannot build: the child measures
    try:
        genotype = proxyless_genotype.random_proxyless(0)
        first = meter.measure(genotype)
        assert first.median_ms > 0 and len(first.times_ms) == 3
        assert (first.batch_size, first.clock) == (2, "process") and "CPU" in first.device
        assert meter.measure(genotypes.from_json(genotypes.to_json(genotype))) is first
        assert meter.num_measured == 1
        meter.close()
        # A measurement after close starts a new child.
        assert meter.measure(proxyless_genotype.random_proxyless(1)).median_ms > 0
        assert meter.num_measured == 2
    finally:
        meter.close()


def test_a_failing_child_raises_with_the_end_of_its_stderr():
    meter = measuring_process.MeasuringProcess(
        SPACE, {**NETWORK, "width_multiplier": -1.0}, intra_op_threads=1, **SETTINGS
    )
    with pytest.raises(measuring_process.MeasuringProcessError, match="width_multiplier"):
        meter.measure(proxyless_genotype.random_proxyless(0))
    meter.close()


@pytest.mark.parametrize("threads", [-1, 1.5, True])
def test_rejects_bad_thread_counts(threads):
    with pytest.raises(ValueError, match="argument `intra_op_threads`"):
        measuring_process.MeasuringProcess(SPACE, NETWORK, intra_op_threads=threads, **SETTINGS)


def _config(**latency):
    """The ProxylessNAS search defaults with a tiny network and a short meter."""
    settings = {"batch_size": 2, "warmup_runs": 1, "repeats": 3, "clock": "process", **latency}
    return common.proxyless_search_config(latency=settings, image_size=16, width_multiplier=0.1)


def _input_size(meter):
    return meter.build_model(proxyless_genotype.random_proxyless(0)).inputs[0].shape[1]


def test_search_meter_measures_at_the_latency_image_size_in_this_process():
    meter = measuring_process.search_meter(_config(), SPACE, num_classes=5, backend=GRAPH)
    assert type(meter) is measure.LatencyMeter and _input_size(meter) == 16
    meter = measuring_process.search_meter(
        _config(image_size=24, repeats=4), SPACE, num_classes=5, backend=GRAPH
    )
    assert _input_size(meter) == 24 and meter.repeats == 4 and meter.clock == "process"


def test_search_meter_in_a_separate_process():
    meter = measuring_process.search_meter(
        _config(separate_process=True, intra_op_threads=1, image_size=24),
        SPACE,
        num_classes=5,
        backend=GRAPH,
    )
    assert isinstance(meter, measuring_process.MeasuringProcess)
    assert meter.intra_op_threads == 1 and meter.repeats == 3


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"image_size": -8}, "image_size"),
        ({"intra_op_threads": -1, "separate_process": True}, "intra_op_threads"),
        ({"intra_op_threads": 2}, "intra_op_threads"),  # needs separate_process
        ({"repeats": 0}, "repeats"),
    ],
)
def test_search_meter_names_the_bad_key(overrides, key):
    with pytest.raises(ValueError, match=f"config.latency.{key}"):
        measuring_process.search_meter(_config(**overrides), SPACE, num_classes=5, backend=GRAPH)
