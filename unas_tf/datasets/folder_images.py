"""`folder:PATH`: a folder of images, one sub-folder per class, as Keras's
`keras.utils.image_dataset_from_directory` reads it.

    PATH/cat/0001.png  PATH/cat/0002.jpg  ...  PATH/dog/0001.png  ...
or, with the test split given:
    PATH/train/cat/...  PATH/train/dog/...  PATH/test/cat/...  PATH/test/dog/...

Class names are the sub-folder names, sorted (label i is the i-th); files ending in .png, .jpg,
.jpeg, .bmp or .gif (any case, in nested folders too) are images, other files are ignored.
Without train/ and test/, a fixed 20% of the images is the test split (`user_images`). Every
image is decoded once, eagerly, into memory and resized to the run's `config.image_size`
(bilinear, antialiased): a checkpointed iterator then holds positions, not files, as for the
other in-memory sets. Grey and colour images are both accepted, but not mixed (an alpha channel
is dropped); a file that does not decode is skipped and counted in the log.
"""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from unas_tf.datasets import base, pipeline, user_images

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TRAIN_DIR, TEST_DIR = "train", "test"
ORDER_SEED = 0  # the fixed shuffle of the training files, so the last 10% mixes the classes


def _class_folders(directory):
    return sorted(
        name
        for name in os.listdir(directory)
        if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")
    )


def _image_files(directory):
    """The image files under `directory`, sorted, in nested folders too."""
    found = []
    for root, folders, files in os.walk(directory, followlinks=True):
        folders.sort()
        found.extend(
            os.path.join(root, name)
            for name in sorted(files)
            if name.lower().endswith(IMAGE_EXTENSIONS)
        )
    return found


@base.register_way_in
class FolderImages(user_images.UserImages):
    """The images of a folder with one sub-folder per class."""

    prefix = "folder"
    argument = "PATH"

    def __init__(self, argument, data_dir=None):
        super().__init__(argument, data_dir)
        self.path = os.path.abspath(os.path.expanduser(argument))
        self._what = f"config.dataset=folder:{argument}"

    def _layout(self):
        """(training root, test root or None), checked to exist and hold class folders."""
        if not os.path.isdir(self.path):
            reason = "does not exist" if not os.path.exists(self.path) else "is not a directory"
            raise ValueError(f"{self._what}: {self.path} {reason}")
        train, test = os.path.join(self.path, TRAIN_DIR), os.path.join(self.path, TEST_DIR)
        if os.path.isdir(train) and os.path.isdir(test):
            return train, test
        return self.path, None

    def class_names(self):
        training_root, _ = self._layout()
        names = _class_folders(training_root)
        if not names:
            raise ValueError(
                f"{self._what}: no class sub-folders in {training_root}; expected one folder of "
                "images per class"
            )
        if len(names) == 1:
            raise ValueError(
                f"{self._what}: one class sub-folder ({names[0]}) in {training_root}; expected "
                "at least 2 classes"
            )
        return names

    @property
    def num_classes(self):
        return len(self.class_names())

    def _files(self, root, names, required):
        """[(path, label)] of the images under each class folder of `root`.

        Raises:
          ValueError: a class folder without images (one that `required` names), or a folder
            of a class the training split does not have.
        """
        extra = sorted(set(_class_folders(root)) - set(names))
        if extra:
            raise ValueError(
                f"{self._what}: {os.path.join(root, extra[0])} is a class the training split "
                f"({self.path}/{TRAIN_DIR}) does not have"
            )
        files = []
        for label, name in enumerate(names):
            folder = os.path.join(root, name)
            found = _image_files(folder) if os.path.isdir(folder) else []
            if not found and required:
                raise ValueError(
                    f"{self._what}: class folder {folder} holds no image file "
                    f"({', '.join(IMAGE_EXTENSIONS)})"
                )
            files.extend((path, label) for path in found)
        return files

    def fingerprint(self):
        training_root, test_root = self._layout()
        roots = [training_root] + ([test_root] if test_root else [])
        paths = [path for root in roots for path in _image_files(root)]
        return tuple((path, os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in paths)

    def _read(self, files, image_size, what):
        """A `pipeline.Split` of the decodable files, resized; counts the others."""
        images, labels, skipped, channels = [], [], [], {}
        for path, label in files:
            try:
                image = tf.io.decode_image(
                    tf.io.read_file(path), channels=0, expand_animations=False
                )
            except tf.errors.InvalidArgumentError:
                skipped.append(path)
                continue
            image = image[..., :1] if image.shape[-1] in (1, 2) else image[..., :3]
            channels.setdefault(int(image.shape[-1]), path)
            resized = tf.image.resize(image, [image_size, image_size], antialias=True)
            images.append(tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8).numpy())
            labels.append(label)
        if not images:
            raise ValueError(
                f"{self._what}: no readable image in {what} ({len(skipped)} files skipped: "
                "they do not decode as PNG, JPEG, BMP or GIF)"
            )
        if skipped:
            logging.warning(
                "%s: skipped %d files that do not decode, e.g. %s", what, len(skipped), skipped[0]
            )
        if len(channels) > 1:
            grey, colour = channels.get(1), channels.get(3)
            raise ValueError(
                f"{self._what}: mixed channel counts: {grey} is grey (1 channel) and {colour} "
                "is colour (3); convert the images to one of them"
            )
        return pipeline.Split(np.stack(images), np.array(labels, np.int32))

    def decode(self, image_size):
        names = self.class_names()
        training_root, test_root = self._layout()
        training = self._read(self._files(training_root, names, True), image_size, training_root)
        if test_root is None:
            training, test = user_images.split_off_test(training, self._what)
        else:
            order = np.random.default_rng(ORDER_SEED).permutation(len(training.labels))
            training = pipeline.take(training, order)
            test = self._read(self._files(test_root, names, False), image_size, test_root)
        logging.info(
            "Read %s: %d training and %d test images of %d classes at %dx%d.",
            self.path,
            len(training.labels),
            len(test.labels),
            len(names),
            image_size,
            image_size,
        )
        return training, test
