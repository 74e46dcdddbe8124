"""What a run stores about its data set: WORKDIR/dataset.json.

The spec, class count and class names, and for a user's images the channel count and the
normalisation statistics computed on its training part (`user_images`). A resumed run restores
them rather than computing them again, so that it normalises with the numbers it started with
even if the images changed; the export reads them, so that it serves with those numbers without
the data and names the classes.
"""

import os

from unas_tf import run_directory
from unas_tf.datasets import base

RECORD_FILE = "dataset.json"


def read(workdir):
    """The record in `workdir`, or None (a run that has not started, or from before records).

    Raises:
      ValueError: the file is unreadable; the message names it.
    """
    return run_directory.read_json_object(
        os.path.join(workdir, RECORD_FILE), "a run's data set record"
    )


def for_run(config, workdir):
    """The data set of a run's config, with the facts its workdir recorded, if any."""
    dataset = base.of_config(config)
    saved = read(workdir)
    if saved is not None:
        dataset.restore(saved)
    return dataset


def write(dataset, image_size, workdir):
    """Writes the record of `dataset` at `image_size` unless the workdir has one already."""
    path = os.path.join(workdir, RECORD_FILE)
    if not os.path.exists(path):
        run_directory.write_json_atomically(path, dataset.record(image_size))
