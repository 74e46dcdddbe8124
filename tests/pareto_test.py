"""The Pareto front of a study on hand data, and its plot as a PNG and a TensorBoard image."""

import os

import pytest
import tensorflow as tf

from unas_tf import pareto


@pytest.mark.parametrize(
    ("points", "front"),
    [
        ([(10.0, 0.9)], [0]),  # a single point
        # Faster and more accurate than every other: it alone.
        ([(20.0, 0.8), (10.0, 0.95), (15.0, 0.9), (10.0, 0.9), (30.0, 0.95)], [1]),
        # A trade-off: each is faster or more accurate than the others.
        ([(10.0, 0.8), (20.0, 0.9), (30.0, 0.95), (25.0, 0.85)], [0, 1, 2]),
        # Equal points do not dominate each other; a tie in one figure does when the other wins.
        ([(10.0, 0.9), (10.0, 0.9), (10.0, 0.85), (12.0, 0.9)], [0, 1]),
        ([], []),
    ],
)
def test_non_dominated_points_by_hand(points, front):
    assert pareto.non_dominated(points) == front


def _row(name, latency_ms, accuracy, status="done"):
    return {"name": name, "status": status, "test_accuracy": accuracy, "latency_ms": latency_ms}


RESULTS = {
    "trials": [
        _row("latency.weight=0.0,seed=0", 40.0, 0.98),
        _row("latency.weight=0.0,seed=1", 50.0, 0.96),  # dominated by the one above
        _row("latency.weight=5.0,seed=0", 20.0, 0.95),
        _row("latency.weight=5.0,seed=1", None, None, status="failed"),
        _row("estimator=random,seed=0", None, 0.99),  # no latency: not plotted
    ]
}


def test_the_front_of_a_studys_results_is_named_fastest_first():
    assert [row["name"] for row in pareto.measured_trials(RESULTS)] == [
        "latency.weight=0.0,seed=0",
        "latency.weight=0.0,seed=1",
        "latency.weight=5.0,seed=0",
    ]
    assert pareto.front(RESULTS) == ["latency.weight=5.0,seed=0", "latency.weight=0.0,seed=0"]


def test_the_plot_is_written_as_a_png_and_a_tensorboard_image(tmp_path):
    assert pareto.write(tmp_path, RESULTS) == pareto.front(RESULTS)
    png = (tmp_path / pareto.PLOT_FILE).read_bytes()
    assert png.startswith(b"\x89PNG")
    events = tmp_path / pareto.SUMMARY_DIR
    images = [
        (event.step, value)
        for name in os.listdir(events)
        for event in tf.compat.v1.train.summary_iterator(str(events / name))
        for value in event.summary.value
    ]
    assert [(step, value.tag) for step, value in images] == [(3, pareto.SUMMARY_TAG)]
    shown = tf.image.decode_png(tf.make_ndarray(images[0][1].tensor)[2])
    assert shown.shape[0] > 100 and shown.shape[1] > 100
    assert set(os.listdir(tmp_path)) == {pareto.PLOT_FILE, pareto.SUMMARY_DIR}  # no partial


def test_nothing_is_drawn_without_a_latency(tmp_path):
    unmeasured = {"trials": [_row("estimator=rebar,seed=0", None, 0.9)]}
    assert pareto.write(tmp_path, unmeasured) is None
    assert os.listdir(tmp_path) == []
