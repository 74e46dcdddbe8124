"""Export: serving preprocessing == the test pipeline, SavedModel reload == Keras, bad input."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from absl import logging

from configs.eval import digits as digits_preset
from unas_tf import eval_networks, export_lib, genotypes, retrain_run
from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import cifar, digits, imagenet

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Loads the SavedModel with TensorFlow alone and serves the images of argv[2] into argv[3].
LOAD_AND_SERVE = """
import sys
import numpy as np
import tensorflow as tf

loaded = tf.saved_model.load(sys.argv[1])
outputs = loaded.signatures["serving_default"](images=tf.constant(np.load(sys.argv[2])))
np.savez(sys.argv[3], **{name: value.numpy() for name, value in outputs.items()})
assert "unas_tf" not in sys.modules, "the SavedModel needed unas_tf"
print("imported unas_tf:", "unas_tf" in sys.modules)
"""


def _tiny_config(**overrides):
    """The digits preset shrunk: 8x8 images (the serving size), 3 cells of C=4."""
    config = digits_preset.get_config()
    config.update(dict(image_size=8, init_channels=4, layers=3, auxiliary=False, **overrides))
    return config


def _digit_counts(num_images, seed=0):
    """uint8 [N, 8, 8, 3] images in the digits serving form: counts 0..16 on 3 equal channels."""
    grey = np.random.default_rng(seed).integers(0, 17, size=(num_images, 8, 8, 1))
    return np.repeat(grey, 3, axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(config, Keras model, export directory) of a tiny untrained digits network."""
    config = _tiny_config()
    genotype, model = eval_networks.build(config)
    # Move the batch-norm statistics off their initial values, so that inference mode matters.
    model(np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype("float32"), training=True)
    output = tmp_path_factory.mktemp("export") / "digits"
    export_lib.export_model(model, genotype, config, output, tflite=True)
    return config, model, output


@pytest.mark.parametrize("image_size", [8, 16])
def test_digits_serving_preprocess_matches_the_test_pipeline(image_size):
    evaluation = dataset_base.eval_data("digits", 64, image_size, seed=0)
    expected = next(iter(evaluation.test))["image"]
    _, test = digits._counts()
    counts = np.repeat(test.images[:64, ..., None], 3, axis=-1).astype(np.uint8)
    preprocess = dataset_base.get("digits").serving_preprocess(image_size)
    np.testing.assert_allclose(preprocess(tf.constant(counts)), expected, atol=1e-6)


@pytest.mark.parametrize(("name", "image_size"), [("cifar10", 32), ("cifar100", 16)])
def test_cifar_serving_preprocess_matches_the_test_transform(name, image_size):
    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3)).astype(np.uint8)
    dataset = dataset_base.get(name)
    assert isinstance(dataset, cifar.Cifar)
    test_transform = dataset.transforms(image_size)[False]
    expected = np.stack([test_transform(tf.constant(image), None) for image in images])
    actual = dataset.serving_preprocess(image_size)(tf.constant(images))
    assert actual.shape == (3, image_size, image_size, 3)
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_imagenet_serving_preprocess_matches_the_centre_crop_of_the_jpeg():
    pixels = np.random.default_rng(0).integers(0, 256, size=(40, 60, 3)).astype(np.uint8)
    encoded = tf.io.encode_jpeg(pixels)
    decoded = tf.image.decode_jpeg(encoded, channels=3)
    expected = (imagenet.centre_crop(encoded, 16) / 255.0 - imagenet.MEAN) / np.array(imagenet.STD)
    actual = dataset_base.get("imagenet2012").serving_preprocess(16)(decoded[None])
    assert actual.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(actual[0], expected, atol=1e-5)


def test_saved_model_in_a_process_without_unas_tf_matches_keras(exported, tmp_path):
    config, model, output = exported
    images = _digit_counts(5)
    np.save(tmp_path / "images.npy", images)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_AND_SERVE,
            str(output),
            str(tmp_path / "images.npy"),
            str(tmp_path / "outputs.npz"),
        ],
        cwd=tmp_path,  # not the repository: nothing there to import by accident
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "imported unas_tf: False" in result.stdout
    served = np.load(tmp_path / "outputs.npz")
    preprocess = dataset_base.of_config(config).serving_preprocess(config.image_size)
    logits = model(preprocess(tf.constant(images)), training=False)["logits"].numpy()
    np.testing.assert_allclose(served["logits"], logits, atol=1e-5)
    np.testing.assert_allclose(served["probabilities"], tf.nn.softmax(logits), atol=1e-5)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
def test_tflite_flatbuffer_matches_the_saved_model(exported):
    _, _, output = exported
    images = _digit_counts(3, seed=4)
    interpreter = tf.lite.Interpreter(model_path=str(output / "model.tflite"))
    served = interpreter.get_signature_runner("serving_default")(images=images)
    loaded = tf.saved_model.load(str(output))
    expected = loaded.serve(tf.constant(images))
    for name in ("logits", "probabilities"):
        np.testing.assert_allclose(served[name], expected[name], atol=1e-5)


def test_export_leaves_the_absl_loggers_level_as_it_was(tmp_path):
    """TensorFlow's SavedModel writer sets absl's verbosity; progress lines must survive it."""
    config = _tiny_config()
    genotype, model = eval_networks.build(config)
    logger = logging.get_absl_logger()
    before = logger.level
    export_lib.export_model(model, genotype, config, tmp_path / "export", tflite=True)
    assert logger.level == before


def test_export_directory_holds_keras_file_and_genotype(exported):
    config, model, output = exported
    assert {"saved_model.pb", "variables", "model.keras", "genotype.json", "model.tflite"} <= set(
        os.listdir(output)
    )
    assert genotypes.load(str(output / "genotype.json")) == eval_networks.build(config)[0]
    reloaded = keras.saving.load_model(output / "model.keras")
    images = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        reloaded(images)["logits"], model(images, training=False)["logits"], atol=1e-6
    )
    # Nothing temporary is left next to the export.
    assert os.listdir(output.parent) == [output.name]


@pytest.mark.parametrize(
    "images",
    [
        np.zeros([2, 8, 8, 3], np.float32),  # wrong dtype
        np.zeros([8, 8, 3], np.uint8),  # wrong rank
        np.zeros([2, 8, 8, 1], np.uint8),  # wrong channels
    ],
    ids=["float32", "rank3", "one_channel"],
)
def test_serving_signature_rejects_wrong_dtype_and_shape(exported, images):
    loaded = tf.saved_model.load(str(exported[2]))
    with pytest.raises((TypeError, ValueError)) as raised:
        loaded.serve(tf.constant(images))
    assert "uint8" in str(raised.value)  # the message shows the expected TensorSpec
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)) as raised:
        loaded.signatures["serving_default"](images=tf.constant(images))
    assert "uint8" in str(raised.value) or "expected shape" in str(raised.value)


def test_a_failed_export_leaves_nothing_at_the_output(tmp_path, monkeypatch):
    config = _tiny_config()
    genotype, model = eval_networks.build(config)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        export_lib.export_model(model, genotype, config, tmp_path / "out")
    assert os.listdir(tmp_path) == []


def test_a_new_export_replaces_a_previous_one_whole(tmp_path):
    new, output = tmp_path / ".new", tmp_path / "out"
    for directory, name in ((new, "saved_model.pb"), (output, "stale.txt")):
        directory.mkdir()
        (directory / name).write_text(name)
    export_lib._replace_directory(new, output)
    assert os.listdir(output) == ["saved_model.pb"]
    assert os.listdir(tmp_path) == ["out"]


def _workdir_with_checkpoint(workdir, checkpoint_bytes=None):
    """A launch.train-like workdir: config.json, and a real or corrupt checkpoint."""
    config = _tiny_config()
    workdir.mkdir()
    (workdir / "config.json").write_text(config.to_json())
    checkpoints = workdir / "checkpoints"
    if checkpoint_bytes is None:
        _, model = eval_networks.build(config)
        checkpoint = tf.train.Checkpoint(model=retrain_run.model_variables(model))
        manager = tf.train.CheckpointManager(checkpoint, checkpoints, max_to_keep=1)
        manager.save(checkpoint_number=1)
        return config, model
    checkpoints.mkdir()
    (checkpoints / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (checkpoints / "ckpt-1.index").write_bytes(checkpoint_bytes)
    (checkpoints / "ckpt-1.data-00000-of-00001").write_bytes(checkpoint_bytes)
    return config, None


def test_export_from_workdir_restores_the_checkpointed_weights(tmp_path):
    config, model = _workdir_with_checkpoint(tmp_path / "work")
    restored_config, _, restored = export_lib.restore_from_workdir(tmp_path / "work")
    assert restored_config.to_dict() == config.to_dict()
    for expected, actual in zip(model.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_corrupt_checkpoint_is_a_clear_error_and_writes_nothing(tmp_path):
    _workdir_with_checkpoint(tmp_path / "work", checkpoint_bytes=b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be restored"):
        export_lib.export_from_workdir(tmp_path / "work", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    _workdir_with_checkpoint(tmp_path / "work")
    config = ml_collections.ConfigDict(json.loads((tmp_path / "work" / "config.json").read_text()))
    config.init_channels = 8  # the saved weights no longer fit
    (tmp_path / "work" / "config.json").write_text(config.to_json())
    with pytest.raises(ValueError, match="cannot be restored"):
        export_lib.export_from_workdir(tmp_path / "work", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_missing_checkpoint_is_a_clear_error_and_writes_nothing(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "config.json").write_text(_tiny_config().to_json())
    with pytest.raises(ValueError, match="no checkpoint in"):
        export_lib.export_from_workdir(workdir, tmp_path / "out")
    with pytest.raises(ValueError, match="no config.json"):
        export_lib.export_from_workdir(tmp_path / "nothing", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_launch_export_of_a_corrupt_checkpoint_exits_non_zero_in_one_line(tmp_path):
    workdir = tmp_path / "work"
    _workdir_with_checkpoint(workdir, checkpoint_bytes=b"\x00" * 64)
    result = subprocess.run(
        [sys.executable, "-m", "launch.export", f"--workdir={workdir}", f"--output={tmp_path}/o"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.startswith(f"export: checkpoints in {workdir}/checkpoints cannot be ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_the_export_is_marked_and_has_ordinary_permissions(exported):
    _, _, output = exported
    assert export_lib.is_export(output)
    info = json.loads((output / export_lib.EXPORT_INFO_FILE).read_text())
    assert info["exported_by"] == "unas_tf" and "saved_model.pb" in info["files"]
    umask = os.umask(0)
    os.umask(umask)
    assert output.stat().st_mode & 0o777 == 0o777 & ~umask


def _refuse_without_work(monkeypatch):
    """Makes any restore fail the test: a refused output must cost no work."""

    def must_not_run(workdir):
        raise AssertionError("restored a checkpoint before checking the output")

    monkeypatch.setattr(export_lib, "restore_from_workdir", must_not_run)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (".", "is the training workdir or holds it"),
        ("..", "is the training workdir or holds it"),
        ("checkpoints", "lies inside the training workdir"),
        ("../notes", "holds other files and no export of this tool"),
        ("../file.txt", "exists and is not a directory"),
    ],
)
def test_export_refuses_an_output_it_would_destroy_before_any_work(
    tmp_path, monkeypatch, output, message
):
    workdir = tmp_path / "work"
    _workdir_with_checkpoint(workdir)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("mine")
    (tmp_path / "file.txt").write_text("mine")
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    _refuse_without_work(monkeypatch)
    with pytest.raises(ValueError, match=message):
        export_lib.export_from_workdir(workdir, workdir / output)
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before
    assert (tmp_path / "notes" / "notes.txt").read_text() == "mine"


def test_the_workdirs_own_export_directory_and_a_previous_export_are_allowed(tmp_path):
    workdir = tmp_path / "work"
    _workdir_with_checkpoint(workdir)
    own = workdir / retrain_run.EXPORT_DIR
    assert export_lib.check_output(own, workdir) == str(own)
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / export_lib.EXPORT_INFO_FILE).write_text("{}")
    assert export_lib.check_output(previous, workdir) == str(previous)


def test_a_new_export_replaces_a_previous_export_in_one_step(tmp_path):
    new, output = tmp_path / ".new", tmp_path / "out"
    for directory in (new, output):
        directory.mkdir()
        (directory / export_lib.EXPORT_INFO_FILE).write_text(directory.name)
    export_lib._replace_directory(str(new), str(output))
    assert (output / export_lib.EXPORT_INFO_FILE).read_text() == ".new"
    assert os.listdir(tmp_path) == ["out"]


def test_a_search_workdir_is_named_as_such(tmp_path, monkeypatch):
    workdir = tmp_path / "search"
    workdir.mkdir()
    (workdir / "config.json").write_text(json.dumps({"estimator": "rebar", "space": "darts"}))
    with pytest.raises(ValueError, match="holds an architecture search, not a trained network"):
        export_lib.export_from_workdir(workdir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_restores_the_newest_checkpoint_that_restores(tmp_path):
    workdir = tmp_path / "work"
    config, model = _workdir_with_checkpoint(workdir)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=retrain_run.model_variables(model)), workdir / "checkpoints", 3
    )
    first = [weight.numpy() for weight in model.trainable_weights]
    for weight in model.trainable_weights:  # checkpoint 2 holds other weights
        weight.assign(weight + 1.0)
    manager.save(checkpoint_number=2)
    data_file = next((workdir / "checkpoints").glob("ckpt-2.data*"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    _, _, restored = export_lib.restore_from_workdir(workdir)
    for expected, actual in zip(first, restored.trainable_weights, strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_an_export_from_before_export_info_is_known_by_its_files(tmp_path):
    for name in ("saved_model.pb", export_lib.KERAS_FILE):
        (tmp_path / name).write_text("")
    assert not export_lib.is_export(tmp_path)
    (tmp_path / export_lib.GENOTYPE_FILE).write_text("")
    assert export_lib.is_export(tmp_path)
