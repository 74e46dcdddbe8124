"""`tfds:NAME` and `tfds:NAME:CONFIG`: any tensorflow-datasets image-classification set.

The set must be prepared in `config.data_dir` first (runs never download), e.g.

    tfds build tf_flowers --data_dir=/data/tensorflow_datasets

Its `DatasetInfo` gives the classes (the label feature's names) and the image and label keys
(its supervised keys); its "train" split is the training split and its "test" split, if it has
one, the test split, else a fixed 20% of "train" (said in the log, `user_images`). Images are
decoded into memory once, resized to the run's `config.image_size`.
"""

import tensorflow as tf

from unas_tf.datasets import base, tfds_reading, user_images

TRAIN_SPLIT, TEST_SPLIT = "train", "test"


def build_command(name, data_dir):
    """The `tfds build` command that prepares builder `name` (NAME or NAME/CONFIG)."""
    return f"tfds build {name} --data_dir={data_dir}"


def _not_prepared_message(name, data_dir):
    return (
        f"config.dataset=tfds:{name.replace('/', ':')}: not prepared in data_dir={data_dir!r}; "
        f"prepare it once with: {build_command(name, data_dir)}"
    )


@base.register_way_in
class TfdsImages(user_images.UserImages):
    """A tensorflow-datasets image-classification set, decoded into memory."""

    prefix = "tfds"
    argument = "NAME[:CONFIG]"

    def __init__(self, argument, data_dir=None):
        super().__init__(argument, data_dir)
        self.builder_name = argument.replace(":", "/")
        self._what = f"config.dataset={self.spec}"
        if not argument or argument.count(":") > 1:
            raise ValueError(f"{self._what}: expected tfds:NAME or tfds:NAME:CONFIG")
        self._builder = None

    def _info(self):
        if self._builder is None:
            self._builder = tfds_reading.builder(self.builder_name, self.data_dir)
        return self._builder.info

    def _keys(self):
        """(image key, label key), checked to be an image and a class label."""
        import tensorflow_datasets as tfds

        info = self._info()
        image_key, label_key = info.supervised_keys or ("image", "label")
        features = info.features
        if (
            image_key not in features
            or label_key not in features
            or not isinstance(features[image_key], tfds.features.Image)
            or not isinstance(features[label_key], tfds.features.ClassLabel)
        ):
            raise ValueError(
                f"{self._what}: not an image-classification set (expected an Image feature and "
                f"a ClassLabel feature, got {sorted(features.keys())})"
            )
        return image_key, label_key

    @property
    def num_classes(self):
        _, label_key = self._keys()
        return self._info().features[label_key].num_classes

    def class_names(self):
        _, label_key = self._keys()
        return list(self._info().features[label_key].names)

    def decode(self, image_size):
        image_key, label_key = self._keys()
        splits = self._info().splits
        if splits and TRAIN_SPLIT not in splits:
            raise ValueError(f"{self._what}: no {TRAIN_SPLIT!r} split (it has {list(splits)})")

        def resized(example):
            image = tf.image.resize(example[image_key], [image_size, image_size], antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
            return image, example[label_key]

        def load(split):
            return tfds_reading.load_split(
                self.builder_name, split, self.data_dir, _not_prepared_message, resized
            )

        training = load(TRAIN_SPLIT)
        if TEST_SPLIT in splits:
            return training, load(TEST_SPLIT)
        return user_images.split_off_test(training, self._what)
