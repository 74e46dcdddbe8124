"""ImageNet (ILSVRC 2012) from tensorflow-datasets, streamed from its TFRecord files.

The tar files go to tensorflow-datasets' manual_dir. Training takes an Inception-style random
resized crop and a flip, evaluation a resize and centre crop; both normalise with the usual
per-channel statistics. The search's val part is the last 10% of "train" (UNAS App. A.3); the
test split is ImageNet's validation split. Not held in memory: shuffled with a buffer.
"""

import tensorflow as tf

from unas_tf.datasets import base, pipeline, tfds_reading

NAME = "imagenet2012"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
NUM_CLASSES = 1000
CROP_AREA = (0.08, 1.0)  # Inception-style random resized crop.
CROP_ASPECT_RATIO = (3.0 / 4.0, 4.0 / 3.0)
CROP_ATTEMPTS = 10
CENTRE_CROP_FRACTION = 0.875  # 224 of 256.
SHUFFLE_BUFFER = 10_000


def not_prepared_message(name, data_dir):
    """The command that prepares it, and where the tar files go first."""
    return tfds_reading.python_prepare_message(name, data_dir) + (
        "\nImageNet cannot be downloaded automatically: first place ILSVRC2012_img_train.tar "
        "and ILSVRC2012_img_val.tar in the manual_dir (by default "
        f"{data_dir}/downloads/manual)."
    )


@base.register
class Imagenet(base.Dataset):
    """ImageNet, decoded (and cropped) from the JPEG bytes as it streams."""

    name = NAME
    supports_cutout = False

    @property
    def num_classes(self):
        return NUM_CLASSES

    def split_sizes(self, image_size):
        """Read from the prepared data's metadata; None if it is not prepared yet."""
        del image_size
        dataset_builder = tfds_reading.builder(NAME, self.data_dir)
        if not tfds_reading.is_prepared(dataset_builder):
            return None
        splits = dataset_builder.info.splits
        return base.SplitSizes(splits["train"].num_examples, splits["validation"].num_examples)

    def _num_examples(self, split):
        dataset_builder = tfds_reading.builder(NAME, self.data_dir)
        try:
            return dataset_builder.info.splits[split].num_examples
        except KeyError as error:  # No split metadata: the data set was never prepared.
            raise base.DatasetNotPreparedError(
                not_prepared_message(NAME, dataset_builder.data_dir_root)
            ) from error

    def search_data(
        self, batch_size, image_size, seed, val_fraction=None, augment=True, augment_val=False
    ):
        val_fraction = base.check_search_val_fraction(val_fraction)
        num_train_files = self._num_examples("train")
        num_val = base.held_out_examples(num_train_files, val_fraction)
        num_train = num_train_files - num_val
        train = self._pipeline(
            f"train[:{num_train}]",
            batch_size,
            image_size,
            seed,
            shuffle=True,
            augment_seed=pipeline.stream(seed, pipeline.TRAIN_AUGMENT) if augment else None,
        )
        val = self._pipeline(
            f"train[{num_train}:]",
            batch_size,
            image_size,
            seed + 1,
            shuffle=True,
            augment_seed=pipeline.stream(seed, pipeline.VAL_AUGMENT) if augment_val else None,
        )
        return base.SearchData(
            train=train,
            val=val,
            num_classes=NUM_CLASSES,
            image_size=image_size,
            train_examples=num_train,
            val_examples=num_val,
            steps_per_epoch=num_train // batch_size,
        )

    def eval_data(self, batch_size, image_size, seed, augment=True, cutout=0, val_fraction=0.0):
        del cutout  # refused by `base.check_eval_args`
        num_train = self._num_examples("train")
        num_val = base.held_out_examples(num_train, val_fraction)
        num_train -= num_val
        val = None
        if num_val:  # The search's split (`search_data`): the last examples of "train".
            val = self._pipeline(
                f"train[{num_train}:]", batch_size, image_size, seed, shuffle=False
            )
        train = self._pipeline(
            f"train[:{num_train}]" if num_val else "train",
            batch_size,
            image_size,
            seed,
            shuffle=True,
            augment_seed=pipeline.stream(seed, pipeline.EVAL_TRAIN_AUGMENT) if augment else None,
        )
        test = self._pipeline("validation", batch_size, image_size, seed, shuffle=False)
        return base.EvalData(
            train=train,
            test=test,
            num_classes=NUM_CLASSES,
            image_size=image_size,
            train_examples=num_train,
            test_examples=self._num_examples("validation"),
            steps_per_epoch=num_train // batch_size,
            val=val,
            val_examples=num_val,
        )

    def _pipeline(self, split, batch_size, image_size, seed, shuffle, augment_seed=None):
        """Batches of a split, decoded (and cropped) from the JPEG bytes.

        Shuffled, the split repeats forever, its files and examples shuffled with `seed` (the
        example shuffle buffer also follows TensorFlow's global seed, if one is set); otherwise
        it is one ordered pass whose last batch may be smaller. With an `augment_seed` images
        get a random resized crop and flip, else a centre crop.
        """
        import tensorflow_datasets as tfds

        read_config = tfds.ReadConfig(shuffle_seed=seed if shuffle else None)
        examples = tfds_reading.as_dataset(
            NAME,
            split,
            self.data_dir,
            not_prepared_message,
            shuffle_files=shuffle,
            read_config=read_config,
            decoders={"image": tfds.decode.SkipDecoding()},
        ).map(lambda example: (example["image"], example["label"]))
        if shuffle:
            examples = examples.repeat().shuffle(
                SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True
            )
        mean, std = tf.constant(MEAN), tf.constant(STD)

        def transform(encoded, crop_seed):
            if crop_seed is None:
                image = centre_crop(encoded, image_size)
            else:
                image = random_resized_crop(encoded, image_size, crop_seed)
            return (image / 255.0 - mean) / std

        return pipeline.batched(
            examples, transform, batch_size, augment_seed, drop_remainder=shuffle
        )

    def serving_input_size(self, image_size):
        """Any size (one per batch), centre-cropped as the test pipeline crops the JPEGs."""
        del image_size
        return None

    def serving_preprocess(self, image_size):
        mean, std = tf.constant(MEAN), tf.constant(STD)

        def preprocess_imagenet(images):
            return (centre_crop_decoded(images, image_size) / 255.0 - mean) / std

        return preprocess_imagenet


def random_resized_crop(encoded, image_size, seed):
    """Inception-style crop of a random area and aspect ratio, resized, randomly flipped."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.image.extract_jpeg_shape(encoded),
        bounding_boxes=tf.zeros([1, 0, 4]),
        seed=crop_seed,
        min_object_covered=0.0,
        aspect_ratio_range=CROP_ASPECT_RATIO,
        area_range=CROP_AREA,
        max_attempts=CROP_ATTEMPTS,
        use_image_if_no_bounding_boxes=True,
    )
    window = tf.stack([begin[0], begin[1], size[0], size[1]])
    image = tf.image.decode_and_crop_jpeg(encoded, window, channels=3)
    image = tf.image.resize(image, [image_size, image_size], method="bilinear")
    return tf.image.stateless_random_flip_left_right(image, seed=flip_seed)


def centre_crop(encoded, image_size):
    """Decodes a JPEG, resizes its shorter side to image_size / 0.875, takes the centre square."""
    return centre_crop_decoded(tf.image.decode_jpeg(encoded, channels=3), image_size)


def centre_crop_decoded(image, image_size):
    """`centre_crop` of decoded uint8 image(s) [(N,) H, W, 3]; float32 pixels 0..255."""
    shape = tf.cast(tf.shape(image)[-3:-1], tf.float32)
    scale = image_size / CENTRE_CROP_FRACTION / tf.reduce_min(shape)
    resized = tf.cast(tf.round(shape * scale), tf.int32)
    image = tf.image.resize(image, resized, method="bilinear")
    top, left = (resized[0] - image_size) // 2, (resized[1] - image_size) // 2
    return image[..., top : top + image_size, left : left + image_size, :]
