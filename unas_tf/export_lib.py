"""A trained evaluation network -> a SavedModel that serves uint8 images without this library.

The SavedModel's `serving_default` signature (also callable as `loaded.serve`) takes
`images`: uint8 [N, H, W, C], applies the data set's test-time preprocessing inside the graph
(`datasets.base.Dataset.serving_preprocess`), runs the network in inference mode and returns
{"probabilities": float32 [N, K], "logits": float32 [N, K]}, and, for a data set with class
names (a user's images: folder names, tfds label names), "classes": string [N, K], the name of
each probability's class (TensorFlow Serving's classification layout). The auxiliary head, a
training aid, is left out. The output directory holds:
  saved_model.pb, variables/   the SavedModel (`tf.saved_model.load` needs only TensorFlow)
  model.keras                  the Keras model with its auxiliary head (needs unas_tf to load)
  genotype.json                the architecture
  model.tflite                 optionally, the serving function as a TFLite flatbuffer
  export_info.json             what was exported (the genotype, the data set spec, the image
                               size, the class names); it marks the directory as this tool's
                               export
Everything is written to a temporary sibling directory moved into place at the end, so a
failure leaves no partial export at the output path. Export never removes what it did not
write: an existing output is replaced only when it is empty or a previous export (it holds
export_info.json), and never when it is, holds or lies inside the training workdir.
"""

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile

import tensorflow as tf
from absl import logging

from unas_tf import checkpoints, genotypes, retrain_run, run_directory
from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import record as dataset_record

KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
GENOTYPE_FILE = "genotype.json"
EXPORT_INFO_FILE = "export_info.json"
_RENAME_EXCHANGE = 2  # renameat2(2) flag: swap two paths atomically (Linux >= 3.15)


class ServingModule(tf.Module):
    """uint8 images -> {"probabilities", "logits"[, "classes"]}: preprocessing and network in one
    graph.

    Args:
      model: an evaluation network mapping preprocessed images to {"logits", ...}.
      dataset: the `datasets.base.Dataset` whose test-time transform the images get.
      image_size: the network's input resolution.
      class_names: the label names in label order, returned as "classes"; None for none.
    """

    def __init__(self, model, dataset, image_size, class_names=None):
        super().__init__(name="serving")
        self.model = model
        # Tracked explicitly: TensorFlow's object graph of a Keras 3 model misses the variables of
        # layers held in Python lists (see `retrain_run.model_variables`).
        self.model_variables = retrain_run.model_variables(model)
        self._preprocess = dataset.serving_preprocess(image_size)
        self._class_names = None if class_names is None else tf.constant(list(class_names))
        size = dataset.serving_input_size(image_size)
        self._input_shape = [None, size, size, dataset.serving_channels()]
        self.serve = tf.function(
            self._serve,
            input_signature=[tf.TensorSpec(self._input_shape, tf.uint8, name="images")],
        )

    def _serve(self, images):
        # `serve` checks its input against the TensorSpec; the signature of the SavedModel, which
        # serving systems call, checks only the dtype, so the shape is checked in the graph too.
        images = tf.ensure_shape(images, self._input_shape)
        logits = self.model(self._preprocess(images), training=False)["logits"]
        outputs = {"probabilities": tf.nn.softmax(logits), "logits": logits}
        if self._class_names is not None:
            outputs["classes"] = tf.tile(self._class_names[None], [tf.shape(logits)[0], 1])
        return outputs


def check_output(output, workdir=None):
    """Returns `output` made absolute if an export may be written there, before any work.

    Args:
      output: the export directory.
      workdir: the training workdir exported from, if any. Its own export directory
        (`WORKDIR/export`, where launch.train exports) is the one place inside it allowed.

    Raises:
      ValueError: `output` is or holds `workdir`, lies elsewhere inside it, is not a directory,
        is a non-empty directory without a previous export, or cannot be written; the message
        names `output`.
    """
    output = os.path.abspath(os.fspath(output))
    real = os.path.realpath(output)
    if workdir is not None:
        work = os.path.realpath(workdir)
        if real == work or work.startswith(real.rstrip(os.sep) + os.sep):
            raise ValueError(
                f"output: {output} is the training workdir or holds it; an export replaces "
                "its output, so choose another --output"
            )
        own = os.path.join(work, retrain_run.EXPORT_DIR)
        if real.startswith(work + os.sep) and real != own:
            raise ValueError(
                f"output: {output} lies inside the training workdir {workdir}; the only "
                f"export directory allowed there is {own}"
            )
    if os.path.islink(output) or (os.path.lexists(output) and not os.path.isdir(output)):
        raise ValueError(f"output: {output} exists and is not a directory")
    if os.path.isdir(output) and os.listdir(output) and not is_export(output):
        raise ValueError(
            f"output: {output} is a directory that holds other files and no export of this "
            f"tool (no {EXPORT_INFO_FILE}); it is left as it is: choose another --output"
        )
    run_directory.check_writable(os.path.dirname(output), "output")
    return output


def is_export(directory):
    """Whether `directory` holds an export written by `export_model`.

    Exports written before export_info.json existed are known by their three files.
    """
    if os.path.isfile(os.path.join(directory, EXPORT_INFO_FILE)):
        return True
    legacy = ("saved_model.pb", KERAS_FILE, GENOTYPE_FILE)
    return all(os.path.isfile(os.path.join(directory, name)) for name in legacy)


def export_model(model, genotype, config, output, tflite=False, data_record=None):
    """Exports a trained evaluation network to directory `output`, atomically.

    An existing `output` (empty, or a previous export) is replaced only once the new export is
    complete; anything else at `output` is refused before any work (`check_output`).

    Args:
      model: the network `eval_networks.build(config)` built, trained.
      genotype: its architecture, written to genotype.json.
      config: its eval config (uses `dataset`, `data_dir`, `image_size`, `genotype`).
      output: the directory to create.
      tflite: also write model.tflite.
      data_record: what the training run recorded about its data set (`datasets.record`): the
        statistics and class names to serve with; None reads them from the data set.

    Returns:
      `output`, absolute.

    Raises:
      ValueError: `output` may not be written (`check_output`).
    """
    output = check_output(output)
    parent, name = os.path.split(output)
    temporary = tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")
    try:
        # mkdtemp makes the directory private (0700); an export is an ordinary directory.
        os.chmod(temporary, 0o777 & ~run_directory.current_umask())
        dataset = dataset_base.of_config(config)
        if data_record is None:
            data_record = dataset.record(config.image_size)
        dataset.restore(data_record)
        class_names = data_record["class_names"]
        module = ServingModule(model, dataset, config.image_size, class_names)
        serving = module.serve.get_concrete_function()
        with _absl_level_kept():
            tf.saved_model.save(module, temporary, signatures={"serving_default": serving})
            model.save(os.path.join(temporary, KERAS_FILE))
            genotypes.save(genotype, os.path.join(temporary, GENOTYPE_FILE))
            if tflite:
                converter = tf.lite.TFLiteConverter.from_saved_model(temporary)
                with open(os.path.join(temporary, TFLITE_FILE), "wb") as file:
                    file.write(converter.convert())
        info = {
            "exported_by": "unas_tf",
            "genotype": config.genotype,
            "dataset": config.dataset,
            "image_size": config.image_size,
            "class_names": class_names,
            "files": sorted(os.listdir(temporary)),
        }
        run_directory.write_json_atomically(os.path.join(temporary, EXPORT_INFO_FILE), info)
        _replace_directory(temporary, output)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    logging.info("Exported the serving model to %s.", output)
    return output


@contextlib.contextmanager
def _absl_level_kept():
    """Gives the absl logger back the level it had before the block.

    `tf.saved_model.save` sets absl's verbosity to FATAL and back to the verbosity flag's value,
    which leaves WARNING on a logger that had no level of its own: a notebook's or a test's INFO
    lines (the progress lines) would vanish from then on.
    """
    logger = logging.get_absl_logger()
    level = logger.level
    try:
        yield
    finally:
        logger.setLevel(level)


def _exchange(first, second):
    """Swaps two existing paths in one step with renameat2(2); False where it is unavailable."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_cwd = -100  # AT_FDCWD: paths relative to the working directory (ours are absolute)
    if renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # file system or kernel lacks it
        return False
    raise OSError(code, os.strerror(code), second)


def _replace_directory(source, destination):
    """Moves directory `source` to `destination`, replacing what `check_output` allowed there.

    Where the kernel and file system allow it the two are swapped in one step, so `destination`
    is at every moment the old export or the new one; elsewhere the old one is moved aside
    first, which leaves a moment with neither.
    """
    if not os.path.lexists(destination):
        os.rename(source, destination)
        return
    if not _exchange(source, destination):
        aside = tempfile.mkdtemp(dir=os.path.dirname(destination), prefix=".previous-")
        os.rename(destination, os.path.join(aside, "old"))
        os.rename(source, destination)
        source = aside
    shutil.rmtree(source, ignore_errors=True)


def restore_from_workdir(workdir):
    """Rebuilds the network a `launch.train` workdir trained, with its newest good weights.

    Args:
      workdir: a `retrain_run.run_training` workdir.

    Returns:
      (config, genotype, keras.Model).

    Raises:
      ValueError: no config.json, a search workdir, no checkpoint, or no checkpoint that
        restores into the network (damaged, or of another network); the message names the path.
    """
    config = run_directory.read_config(workdir)
    if config is None:
        raise ValueError(
            f"workdir {workdir}: no {retrain_run.CONFIG_FILE}; is it a launch.train workdir?"
        )
    if "network" not in config:
        raise ValueError(
            f"workdir {workdir} holds an architecture search, not a trained network; train its "
            f"architecture first (python -m launch.train --config.genotype={workdir}/"
            "genotype.json --workdir=NEW_DIR), then export NEW_DIR"
        )
    directory = os.path.join(workdir, retrain_run.CHECKPOINT_DIR)
    found = checkpoints.newest_first(directory)
    if not found:
        raise ValueError(f"workdir {workdir}: no checkpoint in {directory}")
    saved = dataset_record.read(workdir)
    genotype, model = retrain_run.build_model(config, saved and saved["num_classes"])
    checkpoint = tf.train.Checkpoint(model=retrain_run.model_variables(model))
    checkpoints.restore_newest(checkpoint, found, partial=True)
    return config, genotype, model


def export_from_workdir(workdir, output, tflite=False):
    """Exports the newest good checkpoint of a `launch.train` workdir to `output`.

    `output` is checked first (`check_output`), so a refused output costs no work.

    Raises:
      ValueError: as `check_output` and `restore_from_workdir`; nothing is written then.
    """
    check_output(output, workdir)
    config, genotype, model = restore_from_workdir(workdir)
    saved = dataset_record.read(workdir)
    return export_model(model, genotype, config, output, tflite=tflite, data_record=saved)
