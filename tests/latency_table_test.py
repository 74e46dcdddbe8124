"""Per-choice latency tables: the sum, the file's checks, measuring one, its prediction error."""

import json

import numpy as np
import pytest

from configs.search import common
from unas_tf.latency import measure, table
from unas_tf.search_spaces import base
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

SPACE = base.get("proxyless")
CONFIG = common.proxyless_search_config()
SHAPE = SPACE.choice_shapes(CONFIG)["layers"]  # (21, 7)


def _choices(seed=0):
    return np.random.default_rng(seed).uniform(0.0, 2.0, size=SHAPE)


def _write(path, **overrides):
    data = {"space": "proxyless", "constant_ms": 3.0, "choices": {"layers": _choices().tolist()}}
    data.update(overrides)
    path.write_text(json.dumps(data))
    return str(path)


def test_the_latency_is_the_constant_plus_the_chosen_entries(tmp_path):
    loaded = table.load(_write(tmp_path / "t.json"), SPACE, CONFIG)
    genotype = proxyless_genotype.random_proxyless(4)
    by_hand = 3.0 + sum(_choices()[layer, op] for layer, op in enumerate(genotype.layers))
    assert loaded.latency_ms(SPACE.latency_features(genotype)) == pytest.approx(by_hand)


def test_a_table_round_trips_through_its_file(tmp_path):
    written = table.LatencyTable("proxyless", 2.5, {"layers": _choices(1)}, {"cpu": "x"})
    written.save(tmp_path / "t.json")
    loaded = table.load(str(tmp_path / "t.json"), SPACE, CONFIG)
    assert loaded.constant_ms == 2.5 and loaded.measured_with == {"cpu": "x"}
    np.testing.assert_array_equal(loaded.choices["layers"], _choices(1))


def _bad_entry(value):
    choices = _choices().tolist()
    choices[3][2] = value
    return {"choices": {"layers": choices}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"choices": {}}, "choices.layers: missing (expected shape [21, 7])"),
        (
            {"choices": {"layers": _choices()[:, :6].tolist()}},
            "choices.layers: expected shape [21, 7], got [21, 6]",
        ),
        (
            {"choices": {"layers": [[1.0] * 7] * 20 + [[1.0] * 6]}},
            "choices.layers: expected shape [21, 7], got [21]",  # a short row
        ),
        (_bad_entry(None), "choices.layers[3][2]: expected a finite number (ms), got None"),
        (_bad_entry(float("nan")), "choices.layers[3][2]: expected a finite number (ms), got nan"),
        (_bad_entry("1.0"), "choices.layers[3][2]: expected a finite number (ms), got '1.0'"),
        ({"constant_ms": "fast"}, "constant_ms: expected a finite number, got 'fast'"),
        ({"space": "darts"}, "space: expected 'proxyless', got 'darts'"),
    ],
)
def test_a_bad_table_is_one_line_naming_the_file_and_the_entry(tmp_path, overrides, message):
    path = _write(tmp_path / "t.json", **overrides)
    with pytest.raises(ValueError) as raised:
        table.load(path, SPACE, CONFIG)
    assert str(raised.value) == f"{path}: {message}"


def test_a_table_that_sums_to_no_latency_is_refused_naming_it():
    negative = table.LatencyTable("proxyless", 1.0, {"layers": -np.ones(SHAPE)})
    meter = table.TableMeter(negative, SPACE, "table:t.json")
    with pytest.raises(ValueError, match=r"^table:t.json: sums to -20\.000 ms for an"):
        meter.measure(proxyless_genotype.random_proxyless(0))


def test_an_unreadable_table_names_the_file(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=f"^{path}: cannot be read as a latency table"):
        table.load(str(path), SPACE, CONFIG)


class _AdditiveMeter(measure.LatencyMeter):
    """Latency additive in the layers' choices (plus an interaction, if asked): no timing."""

    def __init__(self, choices, interaction_ms=0.0, first_error_ms=0.0):
        super().__init__(build_model=None)
        self.choices = choices
        self.interaction_ms = interaction_ms
        self.first_error_ms = first_error_ms  # added to the first measurement (the base's)

    def _measure(self, genotype):
        layers = np.array(genotype.layers)
        latency = 1.0 + float(self.choices[np.arange(len(layers)), layers].sum())
        # Layers 1 and 2 may be skipped (op 0, their base): together they cost more.
        latency += self.interaction_ms * float(layers[1] != 0 and layers[2] != 0)
        latency += self.first_error_ms * float(self.num_measured == 0)
        return measure.Measurement(latency, 0.0, (latency,), 1, "fake", False, "wall", 0.0)


def test_measure_table_recovers_an_additive_latency_exactly():
    meter = _AdditiveMeter(_choices(2))
    measured = table.measure_table(SPACE, CONFIG, meter, calibration_architectures=4)
    # One base architecture, every allowed non-base choice of each layer alone, 4 whole ones.
    mask = SPACE.choice_masks(CONFIG)["layers"]
    assert meter.num_measured == 1 + int(mask.sum()) - 21 + 4
    assert measured.constant_ms == pytest.approx(measured.measured_with["base_measured_ms"])
    error = table.prediction_error(measured, SPACE, CONFIG, meter, num_architectures=12)
    assert error["mae_ms"] == pytest.approx(0.0, abs=1e-9) and error["r2"] == pytest.approx(1.0)
    assert measured.choices["layers"][~mask].tolist() == [0.0] * int((~mask).sum())


def test_whole_architectures_correct_an_error_in_the_base_measurement():
    # The base is measured 2 ms slow: every entry, a difference from it, is 2 ms short.
    uncorrected = table.measure_table(
        SPACE, CONFIG, _AdditiveMeter(_choices(2), first_error_ms=2.0), calibration_architectures=0
    )
    error = table.prediction_error(
        uncorrected, SPACE, CONFIG, _AdditiveMeter(_choices(2)), num_architectures=12
    )
    assert error["bias_ms"] < -20  # ~ (1 - changed selectors) x 2 ms, ~18 changed of 21

    meter = _AdditiveMeter(_choices(2), first_error_ms=2.0)
    corrected = table.measure_table(SPACE, CONFIG, meter, calibration_architectures=3)
    assert corrected.measured_with["base_measured_ms"] == pytest.approx(corrected.constant_ms + 2)
    error = table.prediction_error(
        corrected, SPACE, CONFIG, _AdditiveMeter(_choices(2)), num_architectures=12
    )
    assert error["mae_ms"] == pytest.approx(0.0, abs=1e-9)


def test_prediction_error_reports_what_a_table_cannot_hold():
    meter = _AdditiveMeter(_choices(2), interaction_ms=5.0)
    measured = table.measure_table(SPACE, CONFIG, meter)
    error = table.prediction_error(measured, SPACE, CONFIG, meter, num_architectures=30, seed=1)
    assert error["mae_ms"] > 0 and error["r2"] < 1
    assert len(error["measured_ms"]) == len(error["predicted_ms"]) == 30


def test_a_repeat_meter_scores_the_timing_against_itself():
    class _Shifted(_AdditiveMeter):
        def _measure(self, genotype):
            first = super()._measure(genotype)
            return first._replace(median_ms=first.median_ms + 0.5)

    meter = _AdditiveMeter(_choices(2))
    measured = table.measure_table(SPACE, CONFIG, meter, calibration_architectures=0)
    error = table.prediction_error(
        measured, SPACE, CONFIG, meter, num_architectures=6, repeat_meter=_Shifted(_choices(2))
    )
    assert error["repeat_mae_ms"] == pytest.approx(0.5)
    assert error["remeasured_ms"] == pytest.approx([m + 0.5 for m in error["measured_ms"]])
    assert "repeat_r2" not in table.prediction_error(measured, SPACE, CONFIG, meter, 6)
