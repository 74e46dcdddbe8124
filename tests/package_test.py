"""The package's public API, and importing it leaves the caller's process as it was."""

import os
import subprocess
import sys

import unas_tf
from tests import testing
from unas_tf import export_lib, genotypes, loop, retraining

# Runs in a fresh interpreter: what `import unas_tf` (and a call that needs no TensorFlow) does.
_IMPORT_CHECK = """
import logging, os, sys
from absl import logging as absl_logging

def state():
    stderr = os.fstat(2)
    return (
        dict(os.environ),
        logging.getLogger("tensorflow").level,
        absl_logging.get_verbosity(),
        (stderr.st_dev, stderr.st_ino),
    )

before = state()
import unas_tf
unas_tf.published_genotypes()
assert state() == before, (before, state())
assert "tensorflow" not in sys.modules, "importing unas_tf imported TensorFlow"
"""


def test_import_changes_nothing_in_the_process(tmp_path):
    # The test session itself set TF_CPP_MIN_LOG_LEVEL (conftest.py): the child starts without.
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(testing.ROOT)
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=testing.LAUNCH_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


def test_api_calls_the_library_functions(monkeypatch):
    calls = []
    monkeypatch.setattr(loop, "run_search", lambda *args: calls.append(("search", args)))
    monkeypatch.setattr(retraining, "run_training", lambda *args: calls.append(("retrain", args)))
    monkeypatch.setattr(
        export_lib,
        "export_from_workdir",
        lambda *args, **kwargs: calls.append(("export", args, kwargs)),
    )
    unas_tf.search("config", "search_dir")
    unas_tf.retrain("eval_config", "train_dir")
    unas_tf.export("train_dir", "out", tflite=True)
    assert calls == [
        ("search", ("config", "search_dir")),
        ("retrain", ("eval_config", "train_dir")),
        ("export", ("train_dir", "out"), {"tflite": True}),
    ]


def test_genotype_helpers_round_trip_a_published_architecture(tmp_path):
    assert unas_tf.published_genotypes() == genotypes.published_names()
    genotype = unas_tf.load_genotype("UNAS_CIFAR10")
    unas_tf.save_genotype(genotype, tmp_path / "genotype.json")
    assert unas_tf.load_genotype(tmp_path / "genotype.json") == genotype
