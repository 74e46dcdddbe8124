"""The package's public API, and importing it leaves the caller's process as it was."""

import os
import subprocess
import sys

import pytest

import unas_tf
from tests import testing
from unas_tf import export_lib, genotypes, retrain_run, search_run

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
assert "matplotlib" not in sys.modules, "listing genotypes imported matplotlib"
"""

# Loading a genotype imports TensorFlow (its space is checked against the built-in search
# spaces), and Keras imports matplotlib by itself; tensorflow-datasets, though, stays unloaded
# until a tfds data set is read, so a "digits" run never imports it.
_TFDS_CHECK = """
import sys
from unas_tf import runtime

runtime.import_tensorflow_quietly()
import unas_tf
from unas_tf import export_lib, retrain_run, search_run
from unas_tf.datasets import base as dataset_base

unas_tf.load_genotype("UNAS_CIFAR10")
dataset_base.search_data("digits", batch_size=8, image_size=8, seed=0)
assert "tensorflow_datasets" not in sys.modules, "a digits run imported tensorflow-datasets"
"""


def _run_python(code, cwd):
    """Runs `code` in a fresh interpreter that imports this checkout; returns the result."""
    # The test session itself set TF_CPP_MIN_LOG_LEVEL (conftest.py): the child starts without.
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(testing.ROOT)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=testing.LAUNCH_TIMEOUT_S,
        check=False,
    )


def test_import_changes_nothing_in_the_process(tmp_path):
    result = _run_python(_IMPORT_CHECK, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


@pytest.mark.slow  # the child imports TensorFlow
def test_a_digits_run_does_not_import_tensorflow_datasets(tmp_path):
    result = _run_python(_TFDS_CHECK, tmp_path)
    assert result.returncode == 0, result.stderr


def test_api_calls_the_library_functions(monkeypatch):
    calls = []
    monkeypatch.setattr(search_run, "run_search", lambda *args: calls.append(("search", args)))
    monkeypatch.setattr(retrain_run, "run_training", lambda *args: calls.append(("retrain", args)))
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
