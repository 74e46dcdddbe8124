"""Reading tensorflow-datasets data that is already prepared, never downloading it.

tensorflow-datasets is imported by these functions only, so runs on other data never import it.
"""

import numpy as np
from absl import logging

from unas_tf.datasets import base, pipeline

_DECODE_BATCH = 4096  # examples decoded per step while a split is read into memory


def builder(name, data_dir):
    """`tfds.builder(name, data_dir=...)`; NAME may carry its config as NAME/CONFIG.

    Raises:
      ValueError: tensorflow-datasets has no data set of that name.
    """
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise ValueError(
            f"config.dataset: tensorflow-datasets has no {name!r} ({first_line})"
        ) from None


def is_prepared(dataset_builder):
    """Whether the builder's data is on disk (its split metadata was written)."""
    return bool(dataset_builder.info.splits)


def as_dataset(name, split, data_dir, not_prepared_message, **as_dataset_kwargs):
    """`tfds.builder(name).as_dataset(split)`, never downloading.

    Args:
      name, split, data_dir: as tfds takes them.
      not_prepared_message: function (name, data_dir root) -> the error's message.
      **as_dataset_kwargs: passed on (decoders, read_config, shuffle_files).

    Raises:
      DatasetNotPreparedError: the data is not prepared in `data_dir`.
    """
    dataset_builder = builder(name, data_dir)
    try:
        return dataset_builder.as_dataset(split=split, **as_dataset_kwargs)
    except AssertionError as error:  # tfds signals unprepared data with an assert.
        raise base.DatasetNotPreparedError(
            not_prepared_message(name, dataset_builder.data_dir_root)
        ) from error


def load_split(name, split, data_dir, not_prepared_message, transform=None):
    """Decodes a whole split into memory, in its stored order, as a `pipeline.Split`.

    Args:
      transform: optional function of a batch of tfds examples -> (images, labels), applied in
        the graph before the examples reach memory (e.g. a resize); None keeps image and label.
    """
    dataset = as_dataset(name, split, data_dir, not_prepared_message)
    if transform is None:
        dataset = dataset.batch(_DECODE_BATCH).map(lambda e: (e["image"], e["label"]))
    else:
        dataset = dataset.map(transform).batch(_DECODE_BATCH)
    images, labels = [], []
    for batch_images, batch_labels in dataset.as_numpy_iterator():
        images.append(batch_images)
        labels.append(batch_labels.astype(np.int32))
    logging.info("Loaded %s[%s] into memory: %d examples.", name, split, sum(map(len, labels)))
    return pipeline.Split(np.concatenate(images), np.concatenate(labels))


def python_prepare_message(name, data_dir):
    """What a built-in set not prepared says: the Python line that prepares it."""
    return (
        f"Data set {name!r} is not prepared in data_dir={data_dir!r}. Prepare it once with:\n"
        '  python -c "import tensorflow_datasets as tfds; '
        f"tfds.builder('{name}', data_dir='{data_dir}').download_and_prepare()\""
    )
