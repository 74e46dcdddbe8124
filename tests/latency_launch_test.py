"""launch.latency --write_table, and a search that sums the table it wrote, as a user runs them."""

import json

import numpy as np
import pytest

from configs.search import digits_latency
from tests import testing
from unas_tf.latency import table
from unas_tf.search_spaces import base

PRESET = "--config=configs/search/digits_latency.py"
# The tiny DARTS search (two ops, one cell, 8x8), timed at 8x8, batch 2, in this process.
TINY = (
    *testing.TINY_SEARCH,
    "--config.steps_per_epoch=2",
    "--config.eval_batches=1",
    "--config.latency.surrogate_architectures=5",
    "--config.latency.batch_size=2",
    "--config.latency.image_size=8",
    "--config.latency.warmup_runs=1",
    "--config.latency.repeats=1",
    "--config.latency.runs_per_repeat=1",
    "--config.latency.separate_process=False",
    "--config.latency.intra_op_threads=0",
)


def test_write_table_needs_a_search_preset_and_a_timing_back_end(tmp_path):
    result = testing.run_module(
        "launch.latency", "--config=configs/eval/digits.py", f"--write_table={tmp_path}/t.json"
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--write_table: expected a search preset with a `latency` section" in result.stderr


@pytest.mark.slow
def test_written_table_loads_back_and_a_search_sums_it(tmp_path):
    path = tmp_path / "table.json"
    result = testing.run_module(
        "launch.latency",
        PRESET,
        *TINY,
        f"--write_table={path}",
        "--table_architectures=3",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["architectures"] == 3 and report["mae_ms"] >= 0 and report["backend"] == "graph"
    config = digits_latency.get_config()
    config.num_ops = 2
    written = table.load(str(path), base.get("darts"), config)
    assert written.constant_ms > 0
    assert written.measured_with["prediction_error"]["architectures"] == 3

    # Refused as the source of a new table: nothing would be timed.
    refused = testing.run_module(
        "launch.latency",
        PRESET,
        *TINY,
        f"--config.latency.backend=table:{path}",
        f"--write_table={tmp_path}/again.json",
    )
    assert refused.returncode != 0
    assert "config.latency.backend: --write_table times architectures" in refused.stderr

    # The search sums a table of the same form; at this size timing noise can sum the measured
    # one below zero (refused), so its entries are made positive.
    positive = tmp_path / "positive.json"
    choices = {key: np.abs(value) for key, value in written.choices.items()}
    table.LatencyTable("darts", written.constant_ms, choices).save(positive)
    workdir = tmp_path / "search"
    search = testing.run_module(
        "launch.search",
        PRESET,
        f"--workdir={workdir}",
        *TINY,
        f"--config.latency.backend=table:{positive}",
    )
    assert search.returncode == 0, search.stderr
    measured = json.loads((workdir / "latency_measurements.json").read_text())["measurements"]
    assert {entry["device"] for entry in measured} == {f"table:{positive}"}
