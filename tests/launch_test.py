"""Launchers run as a user runs them: a subprocess, its output and its exit code."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_compare_estimators_prints_its_report():
    result = _run(
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
    result = _run("launch.compare_estimators", flag)
    assert result.returncode != 0
    assert flag.split("=")[0] in result.stderr
