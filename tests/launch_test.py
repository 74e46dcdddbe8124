"""Launchers run as a user runs them: a subprocess, its output and its exit code."""

import json

import pytest

from tests import testing


def test_compare_estimators_prints_its_report():
    result = testing.run_module(
        "launch.compare_estimators", "--selectors=3", "--choices=3", "--num_samples=4000", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    labels = [row["label"] for row in report["differentiable_loss"]]
    assert labels == ["reinforce", "gumbel_softmax", "rebar"]
    rows = {row["label"]: row for row in report["table_lookup_loss"]}
    assert rows["relax+linear"]["variance"] < rows["reinforce"]["variance"]
    assert result.stderr == ""


@pytest.mark.parametrize("flag", ["--selectors=0", "--num_samples=-1"])
def test_compare_estimators_rejects_bad_flags(flag):
    result = testing.run_module("launch.compare_estimators", flag)
    assert result.returncode != 0
    assert flag.split("=")[0] in result.stderr


def test_inspect_reports_sizes_shapes_and_draws(tmp_path):
    drawing = tmp_path / "cells.png"
    result = testing.run_module(
        "launch.inspect",
        "--config=configs/eval/cifar10.py",
        "--config.init_channels=4",
        "--config.layers=5",
        "--json",
        f"--draw={drawing}",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["params"] > 0 and report["macs"] > 0
    shapes = [(cell["type"], cell["output_shape"]) for cell in report["cells"]]
    # Reductions at cells L//3 = 1 and 2L//3 = 3 halve the resolution and double C (4C outputs).
    assert shapes == [
        ("normal", [32, 32, 16]),
        ("reduce", [16, 16, 32]),
        ("normal", [16, 16, 32]),
        ("reduce", [8, 8, 64]),
        ("normal", [8, 8, 64]),
    ]
    assert drawing.read_bytes().startswith(b"\x89PNG")


def test_inspect_names_a_missing_genotype_file(tmp_path):
    missing = tmp_path / "missing.json"
    result = testing.run_module("launch.inspect", f"--config.genotype={missing}")
    assert result.returncode != 0
    assert str(missing) in result.stderr
    assert "UNAS_CIFAR10" in result.stderr


def test_unknown_config_key_is_one_line_and_exits_non_zero():
    result = testing.run_module("launch.inspect", "--config.no_such_key=1")
    assert result.returncode != 0
    assert "unknown config key 'no_such_key' in --config.no_such_key=1" in result.stderr
    assert "Traceback" not in result.stderr


def _one_line_error(result, *fragments):
    """Asserts exit status 1 and a one-line standard error holding every fragment."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_a_workdir_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("mine")
    result = testing.run_module("launch.search", f"--workdir={tmp_path}/file/run")
    _one_line_error(result, f"search: workdir: cannot write to {tmp_path}/file/run")
    assert (tmp_path / "file").read_text() == "mine"


def test_a_missing_config_file_is_one_line(tmp_path):
    missing = tmp_path / "missing.py"
    result = testing.run_module("launch.train", f"--config={missing}", f"--workdir={tmp_path}/w")
    _one_line_error(result, f"train: --config={missing}: no such file")
    assert not (tmp_path / "w").exists()


def test_a_config_file_with_a_syntax_error_is_one_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def get_config(:\n")
    result = testing.run_module("launch.search", f"--config={broken}", f"--workdir={tmp_path}/w")
    _one_line_error(result, f"search: --config={broken}: line 1: ")
    assert not (tmp_path / "w").exists()


def test_export_of_a_search_workdir_says_what_it_is(tmp_path):
    workdir = tmp_path / "search"
    workdir.mkdir()
    (workdir / "config.json").write_text(json.dumps({"estimator": "rebar", "space": "darts"}))
    result = testing.run_module("launch.export", f"--workdir={workdir}", f"--output={tmp_path}/out")
    _one_line_error(result, "holds an architecture search, not a trained network")
    assert not (tmp_path / "out").exists()
