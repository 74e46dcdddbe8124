"""Latency measurement (timing, noise, cache) and the linear latency surrogate."""

import functools

import ml_collections
import numpy as np
import pytest

from configs.search import common
from unas_tf import genotypes
from unas_tf.latency import measure, surrogate
from unas_tf.search_spaces import base
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype
from unas_tf.search_spaces.proxyless import networks as proxyless_networks

WIDTH, CLASSES, SIZE = 0.1, 5, 32
SPACE = base.get("proxyless")


class _CountingBuilder:
    """Builds tiny child networks and counts how many it built."""

    def __init__(self):
        self.genotypes = []

    def __call__(self, genotype):
        self.genotypes.append(genotype)
        return proxyless_networks.proxyless_network(genotype, CLASSES, WIDTH, SIZE)


def _meter(build=None, **kwargs):
    settings = {"batch_size": 2, "warmup_runs": 1, "repeats": 5, **kwargs}
    return measure.LatencyMeter(build or _CountingBuilder(), **settings)


def test_measurement_has_a_positive_median_and_interquartile_range():
    meter = _meter()
    result = meter.measure(genotypes.load("UNAS_PROXYLESS"))
    assert result.median_ms > 0 and result.iqr_ms >= 0
    assert len(result.times_ms) == 5 and result.batch_size == 2
    assert min(result.times_ms) <= result.median_ms <= max(result.times_ms)
    assert result.iqr_ms <= max(result.times_ms) - min(result.times_ms)
    assert result.relative_iqr == pytest.approx(result.iqr_ms / result.median_ms)
    assert "CPU" in result.device and result.seconds > 0
    assert result.as_dict()["relative_iqr"] == result.relative_iqr


def _search_config():
    return common.proxyless_search_config()


def test_cache_hit_returns_the_same_object_without_measuring_again():
    build = _CountingBuilder()
    meter = _meter(build)
    genotype = genotypes.load("PROXYLESS_GPU")
    first = meter.measure(genotype)
    # An equal genotype read back from JSON is the same cache key.
    again = meter.measure(genotypes.from_json(genotypes.to_json(genotype)))
    assert again is first and meter.cached(genotype) is first
    assert len(build.genotypes) == 1 and meter.num_measured == 1
    sample = proxyless_genotype.proxyless_to_one_hot(genotype)
    assert meter.measure_sample(sample, SPACE, _search_config()) is first
    assert (
        meter.measure_sample({"layers": sample["layers"][None]}, SPACE, _search_config()) is first
    )
    assert meter.cached(proxyless_genotype.random_proxyless(0)) is None


def test_jit_compiled_measurement():
    result = _meter(jit_compile=True, repeats=3).measure(proxyless_genotype.random_proxyless(1))
    assert result.jit_compile and result.median_ms > 0


def test_process_clock_times_this_process():
    result = _meter(clock="process", repeats=3).measure(proxyless_genotype.random_proxyless(2))
    assert result.clock == "process" and result.median_ms > 0


def test_meter_rejects_an_unknown_clock():
    with pytest.raises(ValueError, match="argument `clock`"):
        _meter(clock="sundial")


@pytest.mark.parametrize("argument", ["batch_size", "warmup_runs", "repeats", "runs_per_repeat"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_meter_rejects_bad_counts(argument, value):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        _meter(**{argument: value})


def _latency_config(**overrides):
    latency = dict(
        batch_size=2,
        warmup_runs=1,
        repeats=3,
        runs_per_repeat=1,
        jit_compile=False,
        clock="wall",
        device="",
    )
    latency.update(overrides)
    return ml_collections.ConfigDict({"latency": latency})


def test_meter_from_config_reads_the_latency_section():
    meter = measure.meter_from_config(_latency_config(repeats=4), _CountingBuilder())
    assert (meter.batch_size, meter.repeats, meter.jit_compile, meter.device) == (2, 4, False, None)


@pytest.mark.parametrize(("key", "value"), [("batch_size", 0), ("repeats", 0), ("clock", "x")])
def test_meter_from_config_names_the_bad_key(key, value):
    with pytest.raises(ValueError, match=f"config.latency.{key}"):
        measure.meter_from_config(_latency_config(**{key: value}), _CountingBuilder())


def _random_points(num, seed):
    return [proxyless_genotype.random_proxyless([seed, i]) for i in range(num)]


def test_surrogate_recovers_a_linear_latency():
    rng = np.random.default_rng(0)
    table = rng.uniform(0.1, 1.0, size=(21, 7))
    latency = surrogate.LatencySurrogate(SPACE, _search_config())
    for genotype in _random_points(300, 1):
        one_hot = proxyless_genotype.proxyless_to_one_hot(genotype)["layers"]
        latency.add(genotype, 2.0 + float(np.sum(table * one_hot)))
    fit = latency.fit(l2=1e-6)
    assert fit.num_train == 240 and fit.num_holdout == 60
    assert fit.holdout_mae < 1e-3 and fit.holdout_r2 > 0.999
    test = _random_points(5, 2)
    samples = {
        "layers": np.stack([proxyless_genotype.proxyless_to_one_hot(g)["layers"] for g in test])
    }
    expected = 2.0 + np.sum(table * samples["layers"], axis=(1, 2))
    np.testing.assert_allclose(latency(samples), expected, atol=1e-3)


def _with_layer_2(genotype, op):
    return proxyless_genotype.ProxylessGenotype(
        proxyless_genotype.PROXYLESS_OPS, (genotype.layers[0], op, *genotype.layers[2:])
    )


def _one_hot(genotype):
    return {"layers": proxyless_genotype.proxyless_to_one_hot(genotype)["layers"][None]}


def test_refit_with_extra_points_uses_them():
    latency = surrogate.LatencySurrogate(SPACE, _search_config())
    for genotype in _random_points(40, 3):
        latency.add(_with_layer_2(genotype, 1), 5.0)
    latency.fit(holdout_fraction=0.0)
    # Points measured during a search, where layer 2 as 'mic_7x7_e6' costs 3 ms more.
    slow = [_with_layer_2(genotype, 6) for genotype in _random_points(40, 4)]
    assert float(latency(_one_hot(slow[0]))[0]) == pytest.approx(5.0, abs=1e-3)
    for genotype in slow:
        latency.add(genotype, 8.0)
    fit = latency.fit(l2=1e-6, holdout_fraction=0.0)
    assert fit.num_train == 80 and fit.train_mae < 1e-3
    assert float(latency(_one_hot(slow[0]))[0]) == pytest.approx(8.0, abs=1e-3)
    assert float(latency(_one_hot(latency.genotypes[0]))[0]) == pytest.approx(5.0, abs=1e-3)


def test_surrogate_measures_random_architectures_with_its_meter():
    build = functools.partial(
        proxyless_networks.proxyless_network,
        num_classes=CLASSES,
        width_multiplier=WIDTH,
        image_size=SIZE,
    )
    latency = surrogate.LatencySurrogate(SPACE, _search_config(), _meter(build, repeats=3))
    latency.measure_random(4, seed=5)
    assert len(latency.genotypes) == len(latency.latencies_ms) == 4
    assert all(value > 0 for value in latency.latencies_ms)
    assert latency.genotypes == _random_points(4, 5)
    fit = latency.fit(holdout_fraction=0.25)
    assert (fit.num_train, fit.num_holdout) == (3, 1)


def test_surrogate_rejects_bad_points():
    latency = surrogate.LatencySurrogate(SPACE, _search_config())
    with pytest.raises(ValueError, match="no measured architectures"):
        latency.fit()
    with pytest.raises(ValueError, match="`latency_ms`"):
        latency.add(proxyless_genotype.random_proxyless(0))
    with pytest.raises(ValueError, match="`latency_ms`"):
        latency.add(proxyless_genotype.random_proxyless(0), -1.0)
    with pytest.raises(ValueError, match="ProxylessGenotype"):
        latency.add(genotypes.load("UNAS_CIFAR10"), 1.0)
    with pytest.raises(ValueError, match="`num_architectures`"):
        latency.measure_random(0)
