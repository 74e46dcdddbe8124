"""Latency back ends: graph, tflite and table:PATH behind one meter interface."""

import math

import keras
import numpy as np
import pytest

from configs.search import common
from unas_tf.latency import backends, measure, measuring_process, table, tflite
from unas_tf.search_spaces import base
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

SPACE = base.get("proxyless")


def _config(**latency):
    """The ProxylessNAS search defaults with a tiny network and a short meter."""
    settings = {"batch_size": 2, "warmup_runs": 1, "repeats": 3, "clock": "process", **latency}
    return common.proxyless_search_config(latency=settings, image_size=16, width_multiplier=0.1)


def _tiny_model(genotype):
    """A network of a few ops whatever the genotype: converts to TFLite in about a second."""
    del genotype
    images = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu")(images)
    return keras.Model(images, keras.layers.Dense(3)(keras.layers.Flatten()(features)))


def test_tflite_meter_times_the_converted_network_and_caches_it():
    meter = tflite.TfliteMeter(_tiny_model, threads=1, batch_size=2, warmup_runs=1, repeats=3)
    genotype = proxyless_genotype.random_proxyless(0)
    first = meter.measure(genotype)
    assert math.isfinite(first.median_ms) and first.median_ms > 0
    assert first.device == tflite.DEVICE and len(first.times_ms) == 3
    assert meter.measure(proxyless_genotype.random_proxyless(0)) is first
    assert meter.num_measured == 1


@pytest.mark.parametrize(("argument", "value"), [("threads", -1), ("jit_compile", True)])
def test_tflite_meter_refuses_what_the_interpreter_cannot_do(argument, value):
    with pytest.raises(ValueError, match=f"argument `{argument}"):
        tflite.TfliteMeter(_tiny_model, **{argument: value})


def test_the_back_end_named_in_the_config_gives_the_meter():
    assert type(backends.search_meter(_config(), SPACE, num_classes=5)) is measure.LatencyMeter
    # The interpreter's threads are its own, so they need no measuring process.
    meter = backends.search_meter(
        _config(backend="tflite", intra_op_threads=1), SPACE, num_classes=5
    )
    assert isinstance(meter, tflite.TfliteMeter) and meter.threads == 1
    meter = backends.search_meter(
        _config(backend="tflite", separate_process=True, intra_op_threads=1), SPACE, 5
    )
    assert isinstance(meter, measuring_process.MeasuringProcess)
    assert meter._spec["backend"] == "tflite"


def test_a_table_back_end_sums_the_table_and_times_nothing(tmp_path):
    choices = np.random.default_rng(0).uniform(0.0, 1.0, size=(21, 7))
    path = str(tmp_path / "phone.json")
    table.LatencyTable("proxyless", 4.0, {"layers": choices}).save(path)
    meter = backends.search_meter(_config(backend=f"table:{path}"), SPACE, num_classes=5)
    genotype = proxyless_genotype.random_proxyless(3)
    measurement = meter.measure(genotype)
    by_hand = 4.0 + sum(choices[layer, op] for layer, op in enumerate(genotype.layers))
    assert measurement.median_ms == pytest.approx(by_hand)
    assert measurement.device == f"table:{path}" and measurement.seconds == 0.0


@pytest.mark.parametrize("value", ["", "onnx", "table", "table:", "graph:x", "tflite:4"])
def test_an_unknown_back_end_is_one_line_naming_the_key(value):
    with pytest.raises(ValueError) as raised:
        backends.search_meter(_config(backend=value), SPACE, num_classes=5)
    assert str(raised.value).startswith(
        "config.latency.backend: expected graph, tflite or table:PATH"
    )


def test_a_missing_table_file_names_it(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ValueError, match=f"^{path}: cannot be read as a latency table"):
        backends.search_meter(_config(backend=f"table:{path}"), SPACE, num_classes=5)


@pytest.mark.slow
def test_tflite_in_a_measuring_process():
    meter = backends.search_meter(
        _config(backend="tflite", separate_process=True, intra_op_threads=1), SPACE, 5
    )
    try:
        measurement = meter.measure(proxyless_genotype.random_proxyless(0))
        assert measurement.median_ms > 0 and measurement.device == tflite.DEVICE
    finally:
        meter.close()
