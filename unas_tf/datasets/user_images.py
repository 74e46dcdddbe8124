"""What the three ways in for a user's images share: uint8 images in memory at the run's size.

A way in (`tfds_images`, `folder_images`, `python_builder`) reads its source into two parts,
training and test, of uint8 images [N, S, S, C] at the run's image size S (C = 1 for grey sets,
3 for colour ones) and integer labels. This module checks them (labels in range, one channel
count), computes the normalisation statistics, and gives every such set the same pipelines:

* normalisation: per-channel mean and standard deviation of the training part (of at most its
  first `STATISTICS_EXAMPLES` images), computed once and stored in the run directory
  (`record`), so that a resumed run and its export use the very numbers the run started with;
* training augmentation: a zero-pad of an eighth of the image, a random crop back and a random
  horizontal flip (CIFAR's recipe, UNAS App. B.1, scaled to the image), then normalisation;
* serving: uint8 images [N, S, S, C] normalised in the graph, grey ones repeated on 3 channels.

The search's val part is the last 10% of the training part in its stored order (UNAS App. A.2);
a source without a test split gives up a fixed, seed-independent `TEST_FRACTION` of its training
examples, so that no search's seed ever trains on a retraining's test images.
"""

import abc

import numpy as np
import tensorflow as tf
from absl import logging

from unas_tf.datasets import in_memory, pipeline

STATISTICS_EXAMPLES = 10_000  # training images the normalisation statistics are computed on
TEST_FRACTION = 0.2  # of a source's training examples, when it has no test split
TEST_SPLIT_SEED = 0  # the test part must not depend on a run's seed
_MIN_STD = 1e-3  # a constant channel (a blank set) would otherwise divide by zero

# The last source decoded, {key: (training, test)}: the config check reads a user's images and
# the run then takes them from here rather than decoding twice. One entry bounds the memory.
_DECODED = {}


def split_off_test(training, what):
    """(training, test) of a source without a test split: a fixed `TEST_FRACTION` as test.

    The test part is the first `TEST_FRACTION` of a permutation seeded by `TEST_SPLIT_SEED`; the
    training part keeps the rest in that permutation's order.
    """
    num_examples = len(training.labels)
    order = np.random.default_rng(TEST_SPLIT_SEED).permutation(num_examples)
    num_test = round(TEST_FRACTION * num_examples)
    if not 0 < num_test < num_examples:
        raise ValueError(
            f"{what}: {num_examples} examples and no test split; expected enough to hold out "
            f"{TEST_FRACTION:.0%} as the test split"
        )
    logging.info(
        "%s has no test split: its test split is %d of its %d training examples (%.0f%%, a "
        "fixed choice).",
        what,
        num_test,
        num_examples,
        100 * TEST_FRACTION,
    )
    return pipeline.take(training, order[num_test:]), pipeline.take(training, order[:num_test])


def check_parts(training, test, num_classes, what):
    """Raises a ValueError naming `what` for labels out of range or mixed channel counts."""
    for part, split in (("training", training), ("test", test)):
        if not len(split.labels):
            raise ValueError(f"{what}: the {part} split has no examples")
        bad = (split.labels < 0) | (split.labels >= num_classes)
        if bad.any():
            raise ValueError(
                f"{what}: {int(bad.sum())} {part} labels out of range [0, {num_classes}), "
                f"e.g. {int(split.labels[bad][0])}"
            )
    if training.images.shape[-1] != test.images.shape[-1]:
        raise ValueError(
            f"{what}: mixed channel counts, {training.images.shape[-1]} in the training split "
            f"and {test.images.shape[-1]} in the test split; expected 1 (grey) or 3 (RGB) for all"
        )
    if training.images.shape[-1] not in (1, 3):
        raise ValueError(
            f"{what}: images of {training.images.shape[-1]} channels; expected 1 (grey) or 3 (RGB)"
        )


class UserImages(in_memory.InMemoryDataset):
    """A user's images held in memory as uint8 at the run's image size.

    Subclasses set `prefix` and `argument` (how their spec reads, e.g. "folder" and "PATH") and
    implement `num_classes` and `decode`.
    """

    prefix: str
    argument: str

    def __init__(self, argument, data_dir=None):
        super().__init__(data_dir, spec=f"{self.prefix}:{argument}")
        self._statistics = None  # (mean [C], std [C]) in [0, 1] pixel units
        self._channels = None

    @abc.abstractmethod
    def decode(self, image_size):
        """Reads the source: (training, test) `pipeline.Split`s of uint8 [N, S, S, C] images.

        Raises:
          ValueError: the source cannot be used; the message names config.dataset or a path.
        """

    def fingerprint(self):
        """What tells whether the source changed since it was last decoded (None: never)."""
        return None

    def parts(self, image_size):
        key = (type(self), self.spec, self.data_dir, image_size, self.fingerprint())
        if key not in _DECODED:
            _DECODED.clear()
            training, test = self.decode(image_size)
            check_parts(training, test, self.num_classes, f"config.dataset={self.spec}")
            _DECODED[key] = (training, test)
        training, test = _DECODED[key]
        self._channels = training.images.shape[-1]
        return training, test

    def in_memory_bytes(self, image_size):
        """The decoded uint8 images, which the run holds as they are."""
        training, test = self.parts(image_size)
        return training.images.nbytes + test.images.nbytes

    def statistics(self, image_size):
        """(mean [C], std [C]) of the training part's pixels in [0, 1], computed once."""
        if self._statistics is None:
            training, _ = self.parts(image_size)
            sample = training.images[:STATISTICS_EXAMPLES].astype(np.float64) / 255.0
            axes = tuple(range(sample.ndim - 1))
            self._statistics = (
                sample.mean(axis=axes).tolist(),
                np.maximum(sample.std(axis=axes), _MIN_STD).tolist(),
            )
        return self._statistics

    def serving_channels(self):
        if self._channels is None:
            raise ValueError(f"{self.spec}: read (or restore) the data before serving it")
        return self._channels

    def _normalise(self, image_size):
        mean, std = self.statistics(image_size)
        mean, std = tf.constant(mean, tf.float32), tf.constant(std, tf.float32)

        def normalise(images):
            images = (tf.cast(images, tf.float32) / 255.0 - mean) / std
            if images.shape[-1] == 1:
                images = tf.concat([images] * 3, axis=-1)
            return images

        return normalise

    def transforms(self, image_size):
        normalise = self._normalise(image_size)
        padding = max(1, image_size // 8)
        return {
            True: lambda image, seed: normalise(
                pipeline.pad_crop_flip(image, seed, padding, flip=True)
            ),
            False: lambda image, seed: normalise(image),
        }

    def serving_input_size(self, image_size):
        """The run's image size: a user's images are resized to it when read."""
        return image_size

    def serving_preprocess(self, image_size):
        return self._normalise(image_size)

    def record(self, image_size):
        mean, std = self.statistics(image_size)
        return {
            "spec": self.spec,
            "num_classes": self.num_classes,
            "class_names": self.class_names(),
            "channels": self.serving_channels(),
            "mean": mean,
            "std": std,
        }

    def restore(self, saved):
        self._statistics = (list(saved["mean"]), list(saved["std"]))
        self._channels = int(saved["channels"])
