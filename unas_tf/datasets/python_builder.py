"""`python:MODULE:FUNCTION`: a user's function that builds the data, for an in-house pipeline.

FUNCTION, found in the importable MODULE (e.g. a file MODULE.py in the working directory),
takes no argument and returns an `ImageData`:

    import tensorflow as tf
    from unas_tf.datasets import python_builder

    def my_parts():                      # --config.dataset=python:my_data:my_parts
        return python_builder.ImageData(
            train=tf.data.Dataset.from_tensor_slices((train_images, train_labels)),
            test=tf.data.Dataset.from_tensor_slices((test_images, test_labels)),
            num_classes=3,
            image_size=32,
            class_names=("cat", "dog", "fish"),  # optional
        )

Both data sets yield (uint8 image [H, W, C], integer label) pairs, C = 1 or 3; they are read
once, into memory, and resized to the run's `config.image_size` when `image_size` differs, so
the run's iterators checkpoint positions, not the user's pipeline. The order of `train` is the
stored order whose last 10% a search holds out as search-val (UNAS App. A.2).
"""

import importlib
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from unas_tf.datasets import base, pipeline, user_images

_BUILT = {}  # the last spec built -> its ImageData: the function runs once per process


class ImageData(NamedTuple):
    """What a `python:` function returns.

    Attributes:
      train: a `tf.data.Dataset` of (uint8 image [H, W, C], integer label) pairs, finite.
      test: the same for the test split.
      num_classes: labels are 0 .. num_classes - 1.
      image_size: H = W of the images (a square side).
      class_names: optional label names in label order, served with the probabilities.
    """

    train: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int
    image_size: int
    class_names: tuple | None = None


@base.register_way_in
class PythonBuilder(user_images.UserImages):
    """The data a user's Python function returns."""

    prefix = "python"
    argument = "MODULE:FUNCTION"

    def __init__(self, argument, data_dir=None):
        super().__init__(argument, data_dir)
        self._what = f"config.dataset={self.spec}"
        self.module, _, self.function = argument.rpartition(":")
        if not self.module or not self.function:
            raise ValueError(f"{self._what}: expected python:MODULE:FUNCTION")

    def built(self):
        """The checked `ImageData` the function returns (called once per process and spec)."""
        if self.spec not in _BUILT:
            try:
                module = importlib.import_module(self.module)
            except ImportError as error:
                raise ValueError(
                    f"{self._what}: cannot import module {self.module!r} ({error})"
                ) from None
            function = getattr(module, self.function, None)
            if not callable(function):
                raise ValueError(
                    f"{self._what}: module {self.module!r} has no function {self.function!r}"
                )
            _BUILT.clear()
            _BUILT[self.spec] = self._checked(function())
        return _BUILT[self.spec]

    def _checked(self, data):
        if not isinstance(data, ImageData):
            raise ValueError(
                f"{self._what}: the function returned a {type(data).__name__}; expected a "
                "unas_tf.datasets.python_builder.ImageData"
            )
        for name in ("train", "test"):
            dataset = getattr(data, name)
            spec = getattr(dataset, "element_spec", None)
            if (
                not isinstance(spec, tuple)
                or len(spec) != 2
                or spec[0].dtype != tf.uint8
                or spec[0].shape.rank != 3
                or not spec[1].dtype.is_integer
                or spec[1].shape.rank != 0
            ):
                raise ValueError(
                    f"{self._what}: ImageData.{name} must be a tf.data.Dataset of (uint8 image "
                    f"[H, W, C], integer label) pairs; got {spec!r}"
                )
        for name in ("num_classes", "image_size"):
            value = getattr(data, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"{self._what}: ImageData.{name} must be a positive integer, got {value!r}"
                )
        if data.class_names is not None and len(data.class_names) != data.num_classes:
            raise ValueError(
                f"{self._what}: ImageData.class_names has {len(data.class_names)} names for "
                f"{data.num_classes} classes"
            )
        return data

    @property
    def num_classes(self):
        return self.built().num_classes

    def class_names(self):
        names = self.built().class_names
        return None if names is None else [str(name) for name in names]

    def decode(self, image_size):
        data = self.built()

        def resized(image, label):
            if data.image_size != image_size:
                image = tf.image.resize(image, [image_size, image_size], antialias=True)
                image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
            return image, label

        def read(name):
            images, labels = [], []
            for image, label in getattr(data, name).map(resized).as_numpy_iterator():
                images.append(image)
                labels.append(label)
            if not images:
                return pipeline.Split(np.zeros([0, image_size, image_size, 1]), np.zeros([0]))
            shapes = sorted({image.shape for image in images})
            if len(shapes) > 1:
                what = "channel counts" if len({s[-1] for s in shapes}) > 1 else "image sizes"
                raise ValueError(
                    f"{self._what}: ImageData.{name} has mixed {what}: {shapes[0]} and "
                    f"{shapes[-1]}; expected [{data.image_size}, {data.image_size}, C] for all"
                )
            return pipeline.Split(np.stack(images), np.array(labels, np.int32))

        return read("train"), read("test")
