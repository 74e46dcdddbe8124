"""The latency target: milliseconds or a quantile of measured latencies, stored for resumes."""

import json

import ml_collections
import numpy as np
import pytest

from unas_tf.latency import target as latency_target


def _latency(target_ms=0.0, target_quantile=0.3):
    return ml_collections.ConfigDict(dict(target_ms=target_ms, target_quantile=target_quantile))


def test_an_absolute_target_is_the_configured_milliseconds(tmp_path):
    latency = _latency(target_ms=12.5, target_quantile=0.0)
    assert latency_target.resolve(latency, [], str(tmp_path), writes=True) == 12.5
    assert not (tmp_path / latency_target.FILE).exists()


def test_a_quantile_target_is_the_quantile_of_the_measurements_and_is_stored(tmp_path):
    measured = [30.0, 10.0, 20.0, 40.0, 50.0]
    target = latency_target.resolve(_latency(target_quantile=0.25), measured, str(tmp_path), True)
    assert target == pytest.approx(20.0)  # numpy's linear interpolation: 10, [20], 30, 40, 50
    assert target == pytest.approx(np.quantile(measured, 0.25))
    saved = json.loads((tmp_path / latency_target.FILE).read_text())
    assert saved == {"target_ms": target, "target_quantile": 0.25, "random_architectures": 5}


def test_a_resumed_search_reuses_the_stored_target_not_new_measurements(tmp_path):
    latency = _latency(target_quantile=0.5)
    first = latency_target.resolve(latency, [10.0, 20.0, 30.0], str(tmp_path), True)
    resumed = latency_target.resolve(latency, [100.0, 200.0, 300.0], str(tmp_path), True)
    assert first == resumed == 20.0


def test_a_worker_that_does_not_write_leaves_no_file(tmp_path):
    latency_target.resolve(_latency(), [10.0, 20.0], str(tmp_path), writes=False)
    assert not (tmp_path / latency_target.FILE).exists()


@pytest.mark.parametrize(
    ("target_ms", "target_quantile", "message"),
    [
        (
            20.0,
            0.3,
            "config.latency.target_ms, config.latency.target_quantile: expected one of them set, "
            "the other 0, got 20.0 and 0.3",
        ),
        (0.0, 0.0, "config.latency.target_ms: expected a latency > 0 (milliseconds) unless"),
        (0.0, 1.5, "config.latency.target_quantile: expected a number in [0, 1)"),
        (-1.0, 0.0, "config.latency.target_ms: expected a finite number >= 0"),
    ],
)
def test_validate_names_the_keys(target_ms, target_quantile, message):
    with pytest.raises(ValueError) as raised:
        latency_target.validate(_latency(target_ms, target_quantile))
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
