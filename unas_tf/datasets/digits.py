"""scikit-learn's bundled 8x8 handwritten digits: offline, the default for tests and small runs.

1797 images of 10 classes. A fixed 20% test part is held out of every search; the val part of a
search is the last 10% of the rest in a permutation seeded by the run's seed (the digits have no
stored order to take the paper's "last 10%" from). Images are grey levels repeated on 3 channels,
resized bilinearly and standardised with the training part's mean and deviation; training
translates them by up to an eighth of the image (a flip would change the digit).
"""

import numpy as np
import tensorflow as tf
from sklearn import datasets as sk_datasets

from unas_tf.datasets import base, in_memory, pipeline

TEST_FRACTION = 0.2
# The test part does not depend on `seed`: retraining with any seed must never test on images a
# search with another seed trained or validated on.
TEST_SPLIT_SEED = 0
MAX_PIXEL = 16.0  # load_digits pixels are counts 0..16.
NUM_CLASSES = 10
IMAGE_SIZE = 8


def _counts():
    """Returns the (training part, test part) as scikit-learn's [N, 8, 8] counts 0..16."""
    digits = sk_datasets.load_digits()
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(TEST_SPLIT_SEED).permutation(len(labels))
    num_test = round(TEST_FRACTION * len(labels))
    return (
        pipeline.Split(digits.images[order[num_test:]], labels[order[num_test:]]),
        pipeline.Split(digits.images[order[:num_test]], labels[order[:num_test]]),
    )


def _grey(counts, image_size):
    """[N, 8, 8] counts -> float32 [N, S, S, 3] grey levels in [0, 1], resized bilinearly."""
    images = (counts / MAX_PIXEL).astype(np.float32)[..., None]
    images = tf.image.resize(images, [image_size, image_size], method="bilinear").numpy()
    return np.repeat(images, 3, axis=-1)


def _statistics(image_size):
    """The mean and standard deviation of the training part at `image_size`."""
    training, _ = _counts()
    images = _grey(training.images, image_size)
    return images.mean(), images.std()


@base.register
class Digits(in_memory.InMemoryDataset):
    """The digits, standardised at the run's image size and held in memory as float32."""

    name = "digits"

    @property
    def num_classes(self):
        return NUM_CLASSES

    def split_sizes(self, image_size):
        del image_size
        training, test = _counts()
        return base.SplitSizes(len(training.labels), len(test.labels))

    def in_memory_bytes(self, image_size):
        """The digits are resized whole, as float32 RGB."""
        return sum(self.split_sizes(image_size)) * image_size * image_size * 3 * 4

    def parts(self, image_size):
        training, test = _counts()
        training = pipeline.Split(_grey(training.images, image_size), training.labels)
        test = pipeline.Split(_grey(test.images, image_size), test.labels)
        mean, std = training.images.mean(), training.images.std()
        return (
            pipeline.Split((training.images - mean) / std, training.labels),
            pipeline.Split((test.images - mean) / std, test.labels),
        )

    def transforms(self, image_size):
        padding = max(1, image_size // 8)
        return {
            True: lambda image, seed: pipeline.pad_crop_flip(image, seed, padding, flip=False),
            False: lambda image, seed: image,
        }

    def val_order(self, num_examples, seed):
        return np.random.default_rng(seed).permutation(num_examples)

    def serving_input_size(self, image_size):
        del image_size
        return IMAGE_SIZE

    def serving_preprocess(self, image_size):
        """scikit-learn's own integer form: `load_digits().images`, counts 0..16 of an 8x8 grid,
        as uint8 (an ordinary 0..255 grey image x becomes round(x * 16 / 255)); the three
        channels are averaged, so grey images repeated on 3 channels are exact."""
        mean, std = _statistics(image_size)
        mean, std = tf.constant(mean, tf.float32), tf.constant(std, tf.float32)

        def preprocess_digits(images):
            grey = tf.reduce_mean(tf.cast(images, tf.float32), axis=-1, keepdims=True)
            grey = tf.image.resize(grey / MAX_PIXEL, [image_size, image_size], "bilinear")
            return (tf.tile(grey, [1, 1, 1, 3]) - mean) / std

        return preprocess_digits
