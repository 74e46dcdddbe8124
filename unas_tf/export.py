"""A trained evaluation network -> a SavedModel that serves uint8 images without this library.

The SavedModel's `serving_default` signature (also callable as `loaded.serve`) takes
`images`: uint8 [N, H, W, 3], applies the data set's test-time preprocessing inside the graph
(`data.serving_preprocess`), runs the network in inference mode and returns
{"probabilities": float32 [N, K], "logits": float32 [N, K]}. The auxiliary head, a training aid,
is left out. The output directory holds:
  saved_model.pb, variables/   the SavedModel (`tf.saved_model.load` needs only TensorFlow)
  model.keras                  the Keras model with its auxiliary head (needs unas_tf to load)
  genotype.json                the architecture
  model.tflite                 optionally, the serving function as a TFLite flatbuffer
Everything is written to a temporary sibling directory renamed into place at the end, so a
failure leaves no partial export at the output path.
"""

import json
import os
import shutil
import tempfile

import ml_collections
import tensorflow as tf
from absl import logging

from unas_tf import data, genotypes, retrain

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
GENOTYPE_FILE = "genotype.json"


class ServingModule(tf.Module):
    """uint8 images -> {"probabilities", "logits"}: preprocessing and network in one graph.

    Args:
      model: an evaluation network mapping preprocessed images to {"logits", ...}.
      dataset: the data set name whose test-time transform the images get.
      image_size: the network's input resolution.
    """

    def __init__(self, model, dataset, image_size):
        super().__init__(name="serving")
        self.model = model
        # Tracked explicitly: TensorFlow's object graph of a Keras 3 model misses the variables of
        # layers held in Python lists (see `retrain.model_variables`).
        self.model_variables = retrain.model_variables(model)
        self._preprocess = data.serving_preprocess(dataset, image_size)
        size = data.serving_input_size(dataset)
        self._input_shape = [None, size, size, 3]
        self.serve = tf.function(
            self._serve,
            input_signature=[tf.TensorSpec(self._input_shape, tf.uint8, name="images")],
        )

    def _serve(self, images):
        # `serve` checks its input against the TensorSpec; the signature of the SavedModel, which
        # serving systems call, checks only the dtype, so the shape is checked in the graph too.
        images = tf.ensure_shape(images, self._input_shape)
        logits = self.model(self._preprocess(images), training=False)["logits"]
        return {"probabilities": tf.nn.softmax(logits), "logits": logits}


def export_model(model, genotype, config, output, tflite=False):
    """Exports a trained evaluation network to directory `output`, atomically.

    An existing `output` is replaced only once the new export is complete.

    Args:
      model: the network `eval_networks.build(config)` built, trained.
      genotype: its architecture, written to genotype.json.
      config: its eval config (uses `dataset`, `image_size`, `genotype`).
      output: the directory to create.
      tflite: also write model.tflite.

    Returns:
      `output`.
    """
    output = os.path.abspath(os.fspath(output))
    parent, name = os.path.split(output)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")
    try:
        module = ServingModule(model, config.dataset, config.image_size)
        serving = module.serve.get_concrete_function()
        tf.saved_model.save(module, temporary, signatures={"serving_default": serving})
        model.save(os.path.join(temporary, KERAS_FILE))
        genotypes.save(genotype, os.path.join(temporary, GENOTYPE_FILE))
        if tflite:
            converter = tf.lite.TFLiteConverter.from_saved_model(temporary)
            with open(os.path.join(temporary, TFLITE_FILE), "wb") as file:
                file.write(converter.convert())
        _replace_directory(temporary, output)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    logging.info("Exported the serving model to %s.", output)
    return output


def _replace_directory(source, destination):
    """Renames `source` to `destination`, replacing an existing `destination` directory."""
    if not os.path.lexists(destination):
        os.rename(source, destination)
        return
    if not os.path.isdir(destination):
        raise ValueError(f"output: {destination} exists and is not a directory; not replaced")
    previous = tempfile.mkdtemp(dir=os.path.dirname(destination), prefix=".previous-")
    os.rename(destination, os.path.join(previous, "old"))
    os.rename(source, destination)
    shutil.rmtree(previous, ignore_errors=True)


def restore_from_workdir(workdir):
    """Rebuilds the network a `launch.train` workdir trained, with its latest weights.

    Args:
      workdir: a `retrain.run_training` workdir.

    Returns:
      (config, genotype, keras.Model).

    Raises:
      ValueError: no config.json, no checkpoint, or an unreadable or mismatched checkpoint; the
        message names the path.
    """
    config_path = os.path.join(workdir, retrain.CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise ValueError(
            f"workdir {workdir}: no {retrain.CONFIG_FILE}; is it a launch.train workdir?"
        )
    try:
        with open(config_path) as file:
            config = ml_collections.ConfigDict(json.load(file))
    except json.JSONDecodeError as error:
        raise ValueError(f"{config_path}: not valid JSON ({error})") from error
    checkpoints = os.path.join(workdir, retrain.CHECKPOINT_DIR)
    latest = tf.train.latest_checkpoint(checkpoints)
    if latest is None:
        raise ValueError(f"workdir {workdir}: no checkpoint in {checkpoints}")
    genotype, model = retrain.build_model(config)
    try:
        checkpoint = tf.train.Checkpoint(model=retrain.model_variables(model))
        status = checkpoint.restore(latest).expect_partial()
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ValueError(f"checkpoint {latest} cannot be restored: {first_line}") from error
    return config, genotype, model


def export_from_workdir(workdir, output, tflite=False):
    """Exports the latest checkpoint of a `launch.train` workdir to `output` (`export_model`).

    Raises:
      ValueError: as `restore_from_workdir`; nothing is written then.
    """
    config, genotype, model = restore_from_workdir(workdir)
    return export_model(model, genotype, config, output, tflite=tflite)
