"""CIFAR-10 and CIFAR-100 from tensorflow-datasets, decoded into memory as 32x32 uint8.

Training augments with a pad-4 random crop and a horizontal flip (retraining adds cutout, UNAS
App. B.1); images are normalised with the published per-channel statistics of the training set
(as DARTS), then resized if the run's image size is not 32. The val part of a search is the last
10% of the training split in its stored order, as tfds's `train[:90%]` / `train[90%:]` (UNAS
App. A.2).
"""

import tensorflow as tf

from unas_tf.datasets import base, in_memory, pipeline, tfds_reading

IMAGE_SIZE = 32
PADDING = 4


class Cifar(in_memory.InMemoryDataset):
    """A CIFAR set; subclasses give its name, classes and per-channel statistics in [0, 1]."""

    classes: int
    mean: tuple
    std: tuple

    @property
    def num_classes(self):
        return self.classes

    def split_sizes(self, image_size):
        """Read from the prepared data's metadata; None if it is not prepared yet (the run
        then stops with the command that prepares it)."""
        del image_size
        dataset_builder = tfds_reading.builder(self.name, self.data_dir)
        if not tfds_reading.is_prepared(dataset_builder):
            return None
        splits = dataset_builder.info.splits
        return base.SplitSizes(splits["train"].num_examples, splits["test"].num_examples)

    def parts(self, image_size):
        """The 32x32 uint8 splits at any image size (resized per batch)."""
        del image_size
        return tuple(
            tfds_reading.load_split(
                self.name, split, self.data_dir, tfds_reading.python_prepare_message
            )
            for split in ("train", "test")
        )

    def transforms(self, image_size):
        mean, std = tf.constant(self.mean), tf.constant(self.std)

        def normalise(image):
            image = (tf.cast(image, tf.float32) / 255.0 - mean) / std
            if image_size != IMAGE_SIZE:
                image = tf.image.resize(image, [image_size, image_size], method="bilinear")
            return image

        return {
            True: lambda image, seed: normalise(
                pipeline.pad_crop_flip(image, seed, PADDING, flip=True)
            ),
            False: lambda image, seed: normalise(image),
        }

    def serving_input_size(self, image_size):
        del image_size
        return IMAGE_SIZE

    def serving_preprocess(self, image_size):
        """32x32 RGB pixels, normalised (and resized) as the test pipeline does."""
        normalise = self.transforms(image_size)[False]
        return lambda images: normalise(images, None)


@base.register
class Cifar10(Cifar):
    name = "cifar10"
    classes = 10
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)


@base.register
class Cifar100(Cifar):
    name = "cifar100"
    classes = 100
    mean = (0.5071, 0.4865, 0.4409)
    std = (0.2673, 0.2564, 0.2762)
