"""A user's images end to end, as the README's "Your own images" runs them: a folder searched,
retrained, exported and served without this library; tfds: and python: sets through the Python
API; a bad folder refused."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import unas_tf
from configs.eval import digits as eval_digits
from configs.search import digits as search_digits
from tests import testing

# Loads the SavedModel with TensorFlow alone and prints what it serves for argv[2]'s images.
_SERVE = """
import json, sys
import numpy as np
import tensorflow as tf

loaded = tf.saved_model.load(sys.argv[1])
outputs = loaded.signatures["serving_default"](images=tf.constant(np.load(sys.argv[2])))
assert "unas_tf" not in sys.modules, "the SavedModel needed unas_tf"
print(json.dumps({
    "probabilities": outputs["probabilities"].numpy().tolist(),
    "classes": [[name.decode() for name in row] for row in outputs["classes"].numpy()],
}))
"""

# The README's commands at test scale: 8x8 images, a 1-cell search and a 3-cell network.
_TINY_TRAIN = (
    "--config.image_size=8",
    "--config.init_channels=4",
    "--config.layers=3",
    "--config.auxiliary=False",
    "--config.batch_size=8",
    "--config.epochs=1",
    "--config.steps_per_epoch=2",
)


@pytest.mark.slow
def test_a_folder_is_searched_retrained_exported_and_served(tmp_path):
    folder = testing.write_image_folder(tmp_path / "images")
    dataset = f"--config.dataset=folder:{folder}"
    search = testing.run_module(
        *testing.tiny_search_command(tmp_path / "search", dataset, "--config.eval_batches=1")[2:]
    )
    assert search.returncode == 0, search.stderr
    record = json.loads((tmp_path / "search" / "dataset.json").read_text())
    assert record["class_names"] == ["ant", "bee", "cat"] and record["num_classes"] == 3

    train = testing.run_module(
        "launch.train",
        f"--workdir={tmp_path / 'train'}",
        dataset,
        f"--config.genotype={tmp_path / 'search' / 'genotype.json'}",
        *_TINY_TRAIN,
    )
    assert train.returncode == 0, train.stderr
    metrics = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert metrics["test_examples"] == 6 and metrics["dataset"] == f"folder:{folder}"
    export = tmp_path / "train" / "export"
    info = json.loads((export / "export_info.json").read_text())
    assert info["dataset"] == f"folder:{folder}" and info["class_names"] == ["ant", "bee", "cat"]

    images = np.stack(
        [
            np.asarray(testing.decode_png(folder / name / "000.png"))
            for name in ("ant", "bee", "cat")
        ]
    )
    np.save(tmp_path / "images.npy", images)
    served = subprocess.run(
        [sys.executable, "-c", _SERVE, str(export), str(tmp_path / "images.npy")],
        cwd=tmp_path,  # not the repository: nothing there to import by accident
        capture_output=True,
        text=True,
        timeout=testing.LAUNCH_TIMEOUT_S,
        check=False,
    )
    assert served.returncode == 0, served.stderr
    outputs = json.loads(served.stdout.strip().splitlines()[-1])
    assert outputs["classes"] == [["ant", "bee", "cat"]] * 3
    probabilities = np.array(outputs["probabilities"])
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_a_missing_folder_is_one_line_and_writes_nothing(tmp_path):
    result = testing.run_module(
        "launch.search", f"--workdir={tmp_path / 'run'}", f"--config.dataset=folder:{tmp_path}/no"
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"search: config.dataset=folder:{tmp_path}/no: {tmp_path}/no does not exist"
    ]
    assert not (tmp_path / "run").exists()


# A python: builder of 40 grey 6x6 images of 2 named classes.
_BUILDER = """
import numpy as np
import tensorflow as tf
from unas_tf.datasets import python_builder

def parts():
    images = (np.arange(40 * 36) % 256).reshape(40, 6, 6, 1).astype(np.uint8)
    pairs = tf.data.Dataset.from_tensor_slices((images, np.arange(40) % 2))
    return python_builder.ImageData(
        train=pairs.take(32), test=pairs.skip(32), num_classes=2, image_size=6,
        class_names=("even", "odd"),
    )
"""


@pytest.mark.slow
def test_tfds_and_python_sets_run_through_the_python_api(tmp_path, monkeypatch):
    search = search_digits.get_config()
    search.update(
        dict(num_ops=2, layers=1, init_channels=4, image_size=8, batch_size=4, epochs=2),
        warmup_epochs=1,
        steps_per_epoch=2,
        eval_batches=1,
        dataset="tfds:mnist",
        data_dir=os.fspath(tmp_path / "tfds"),
    )
    with tfds.testing.mock_data(num_examples=40):
        genotype = unas_tf.search(search, os.fspath(tmp_path / "search"), show_progress=False)
    assert genotype.space == "darts"
    record = json.loads((tmp_path / "search" / "dataset.json").read_text())
    assert record["spec"] == "tfds:mnist" and record["channels"] == 1

    (tmp_path / "my_parts.py").write_text(_BUILDER)
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    evaluation = eval_digits.get_config()
    evaluation.update(
        dict(image_size=8, init_channels=4, layers=3, auxiliary=False, batch_size=4, epochs=1),
        steps_per_epoch=2,
        validation_fraction=0.0,
        genotype=os.fspath(tmp_path / "search" / "genotype.json"),
        dataset="python:my_parts:parts",
    )
    metrics = unas_tf.retrain(evaluation, os.fspath(tmp_path / "train"), show_progress=False)
    assert metrics["test_examples"] == 8
    output = unas_tf.export(tmp_path / "train", tmp_path / "export", show_progress=False)
    info = json.loads((tmp_path / "export" / "export_info.json").read_text())
    assert info["dataset"] == "python:my_parts:parts" and info["class_names"] == ["even", "odd"]
    served = _served(output, np.zeros([2, 8, 8, 1], np.uint8))
    assert served["probabilities"].shape == (2, 2)
    assert served["classes"].tolist() == [[b"even", b"odd"]] * 2


def _served(export, images):
    """The export's serving_default outputs for `images`, as NumPy arrays."""
    serve = tf.saved_model.load(os.fspath(export)).signatures["serving_default"]
    return {name: value.numpy() for name, value in serve(images=tf.constant(images)).items()}
