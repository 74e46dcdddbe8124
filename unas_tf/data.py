"""Input pipelines: a data set by name -> search-train / search-val, or train / test, batches.

The search (UNAS Sec. 3) updates the supernet weights on the search-train split and scores
architectures on the search-val split (L_val of L_gen, UNAS Eq. 8), so the training data of a data
set is divided in two: 90% / 10% (UNAS App. A.2 for CIFAR, App. A.3 for ImageNet). Retraining
(`eval_data`) uses the whole training data, as the paper does, and reports on the test split the
search never saw; with a `val_fraction` it holds out the examples a search calls search-val
instead, as one ordered pass to score each epoch on (the test split stays for the end).

Every batch is a dict {"image": float32 [B, S, S, 3], "label": int32 [B]} of a static batch size,
so a traced step sees one shape. Training pipelines are infinite and deterministic given `seed`,
and their iterators can be saved in a `tf.train.Checkpoint` and restored into a fresh pipeline
to resume a search at the exact next batch:

* Data that fits in memory ("digits", CIFAR) is decoded once and held as tensors; each epoch is a
  stateless permutation of example indices seeded by (seed, epoch). Iterator checkpoints then
  store a few counters rather than a shuffle buffer or an in-memory cache of images.
* Random augmentation uses stateless ops seeded by (seed, position in the stream), so it does not
  depend on TensorFlow's global seed nor on how many threads ran the map.
* No `from_generator` or `py_function`: iterators over them cannot be saved.

Data sets:
  "digits": scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes), offline, the
    default for tests and small runs. A fixed 20% test part is held out of every search.
  "cifar10", "cifar100": tensorflow-datasets, pad-4 random crop + horizontal flip for training
    (retraining adds cutout, UNAS App. B.1).
  "imagenet2012": tensorflow-datasets (the tar files go to its manual_dir), random resized crop +
    flip for training, resize + centre crop for evaluation. Streamed from disk, not cached.

`serving_preprocess` is the test-time transform as a batched graph function on uint8 images, for
exported models (`unas_tf.export_lib`).
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
from absl import logging
from sklearn import datasets as sk_datasets

KNOWN_DATASETS = ("digits", "cifar10", "cifar100", "imagenet2012")
DEFAULT_VAL_FRACTION = 0.1  # UNAS App. A.2 and A.3: the last 10% of the training split.

DIGITS_TEST_FRACTION = 0.2
# The digits test part does not depend on `seed`: retraining with any seed must never test on
# images a search with another seed trained or validated on.
DIGITS_TEST_SPLIT_SEED = 0
DIGITS_MAX_PIXEL = 16.0  # load_digits pixels are counts 0..16.
DIGITS_NUM_CLASSES = 10
DIGITS_IMAGE_SIZE = 8

CIFAR_IMAGE_SIZE = 32
CIFAR_PADDING = 4
# Per-channel statistics of the CIFAR training sets, in [0, 1] pixel units (as in DARTS).
CIFAR_MEAN = {"cifar10": (0.4914, 0.4822, 0.4465), "cifar100": (0.5071, 0.4865, 0.4409)}
CIFAR_STD = {"cifar10": (0.2470, 0.2435, 0.2616), "cifar100": (0.2673, 0.2564, 0.2762)}
CIFAR_NUM_CLASSES = {"cifar10": 10, "cifar100": 100}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_NUM_CLASSES = 1000
IMAGENET_CROP_AREA = (0.08, 1.0)  # Inception-style random resized crop.
IMAGENET_CROP_ASPECT_RATIO = (3.0 / 4.0, 4.0 / 3.0)
IMAGENET_CROP_ATTEMPTS = 10
IMAGENET_CENTRE_CROP_FRACTION = 0.875  # 224 of 256.
IMAGENET_SHUFFLE_BUFFER = 10_000

# Independent random streams derived from `seed`.
_TRAIN_ORDER, _TRAIN_AUGMENT, _VAL_ORDER, _EVAL_TRAIN_ORDER, _EVAL_TRAIN_AUGMENT = range(5)
# Folded into an example's augmentation seed for its cutout square, apart from crop and flip.
_CUTOUT_STREAM = 1


class DatasetNotPreparedError(ValueError):
    """A tensorflow-datasets data set has not been downloaded and prepared in `data_dir`.

    Launchers catch this class and show its message, which says how to prepare the data.
    """


class SearchData(NamedTuple):
    """Search-train and search-val batches of one data set.

    Attributes:
      train: infinite, shuffled (augmented) batches that update the supernet weights.
      val: infinite, shuffled, unaugmented batches for the architecture objective (L_val).
      num_classes: number of labels.
      image_size: height and width of every image.
      train_examples: examples in one pass of the search-train split.
      val_examples: examples in the search-val split.
      steps_per_epoch: full batches in one pass of the search-train split.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    num_classes: int
    image_size: int
    train_examples: int
    val_examples: int
    steps_per_epoch: int


class EvalData(NamedTuple):
    """Batches to retrain a found architecture on the training data and test it.

    Attributes:
      train: infinite, shuffled (augmented) batches of the training data retrained on: all of
        it, or all but the held-out part.
      test: one ordered pass over the test split. The last batch may be smaller, so that every
        test example counts.
      num_classes: number of labels.
      image_size: height and width of every image.
      train_examples: examples retrained on.
      test_examples: examples in the test split.
      steps_per_epoch: full batches in one pass of the examples retrained on.
      val: one ordered, unaugmented pass over the held-out part of the training data (the
        last batch may be smaller), or None when nothing is held out.
      val_examples: examples held out; 0 when none are.
    """

    train: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int
    image_size: int
    train_examples: int
    test_examples: int
    steps_per_epoch: int
    val: tf.data.Dataset | None = None
    val_examples: int = 0


class _Split(NamedTuple):
    """Decoded examples in memory: images [N, H, W, C] and integer labels [N]."""

    images: np.ndarray
    labels: np.ndarray


def search_data(name, batch_size, image_size, seed, data_dir=None, val_fraction=None, augment=True):
    """Builds the search-train and search-val pipelines of a data set.

    Args:
      name: one of `KNOWN_DATASETS`.
      batch_size: examples per batch (per step, over all replicas).
      image_size: height and width of the output images.
      seed: integer fixing the digits split, the example order and the augmentation.
      data_dir: tensorflow-datasets data directory; None for its default. Unused by "digits".
      val_fraction: fraction of the training data held out as search-val; None for
        `DEFAULT_VAL_FRACTION`.
      augment: whether to randomly augment the search-train images.

    Returns:
      A `SearchData`.

    Raises:
      ValueError: an unknown `name` or a non-positive `batch_size` / `image_size`, or a
        `val_fraction` outside (0, 1).
      DatasetNotPreparedError: the tensorflow-datasets data is not in `data_dir`.
    """
    _check_common_args(name, batch_size, image_size)
    if val_fraction is None:
        val_fraction = DEFAULT_VAL_FRACTION
    if not 0 < val_fraction < 1:
        raise ValueError(
            "Invalid value received for argument `val_fraction`. Expected a fraction in (0, 1). "
            f"Received: val_fraction={val_fraction}"
        )
    if name == "imagenet2012":
        return _imagenet_search_data(batch_size, image_size, seed, data_dir, val_fraction, augment)
    if name == "digits":
        training, _ = _digits_parts(image_size)
    else:
        training = _load_tfds_split(name, "train", data_dir)
    train_split, val_split = _split_off_val(name, training, seed, val_fraction)
    transforms = _in_memory_transforms(name, image_size)
    train = _batched(
        _in_memory_examples(train_split, _stream(seed, _TRAIN_ORDER)),
        transforms[augment],
        batch_size,
        _stream(seed, _TRAIN_AUGMENT),
    )
    val = _batched(
        _in_memory_examples(val_split, _stream(seed, _VAL_ORDER)), transforms[False], batch_size
    )
    return SearchData(
        train=train,
        val=val,
        num_classes=num_classes(name),
        image_size=image_size,
        train_examples=len(train_split.labels),
        val_examples=len(val_split.labels),
        steps_per_epoch=len(train_split.labels) // batch_size,
    )


def eval_data(
    name, batch_size, image_size, seed, data_dir=None, augment=True, cutout=0, val_fraction=0.0
):
    """Builds the pipelines that retrain on the training data and test on the test split.

    Args:
      name: one of `KNOWN_DATASETS`.
      batch_size: examples per batch (per step, over all replicas).
      image_size: height and width of the output images.
      seed: integer fixing the example order and the augmentation of the training data.
      data_dir: tensorflow-datasets data directory; None for its default. Unused by "digits".
      augment: whether to randomly augment the training images.
      cutout: side of the square zeroed at a random centre of every augmented training image,
        after normalisation (DARTS's Cutout; UNAS App. B.1 uses 16 on CIFAR); 0 for none.
        Digits and CIFAR only.
      val_fraction: fraction of the training data held out of retraining and returned as
        `val`: the examples `search_data` with the same `seed` and fraction calls search-val
        (the last ones of the stored order; on digits, of the seed's permutation). 0 retrains
        on all of it.

    Returns:
      An `EvalData`.

    Raises:
      ValueError: an unknown `name`, a non-positive `batch_size` / `image_size`, a negative
        `cutout`, cutout on ImageNet, or a `val_fraction` outside [0, 1) or leaving a part
        empty.
      DatasetNotPreparedError: the tensorflow-datasets data is not in `data_dir`.
    """
    _check_common_args(name, batch_size, image_size)
    if cutout < 0 or (cutout and name == "imagenet2012"):
        raise ValueError(
            "Invalid value received for argument `cutout`. Expected 0, or a positive square side "
            f"for an in-memory data set (not imagenet2012). Received: cutout={cutout}, "
            f"name={name!r}"
        )
    if not 0 <= val_fraction < 1:
        raise ValueError(
            "Invalid value received for argument `val_fraction`. Expected a fraction in [0, 1) "
            f"(0: hold nothing out). Received: val_fraction={val_fraction}"
        )
    if name == "imagenet2012":
        return _imagenet_eval_data(batch_size, image_size, seed, data_dir, augment, val_fraction)
    if name == "digits":
        training, test = _digits_parts(image_size)
    else:
        training = _load_tfds_split(name, "train", data_dir)
        test = _load_tfds_split(name, "test", data_dir)
    transforms = _in_memory_transforms(name, image_size)
    val = None
    if val_fraction:
        training, held_out = _split_off_val(name, training, seed, val_fraction)
        val = _ordered_batches(held_out, transforms[False], batch_size)
    train_transform = transforms[augment]
    if augment and cutout:
        train_transform = _with_cutout(train_transform, cutout)
    train = _batched(
        _in_memory_examples(training, _stream(seed, _EVAL_TRAIN_ORDER)),
        train_transform,
        batch_size,
        _stream(seed, _EVAL_TRAIN_AUGMENT),
    )
    return EvalData(
        train=train,
        test=_ordered_batches(test, transforms[False], batch_size),
        num_classes=num_classes(name),
        image_size=image_size,
        train_examples=len(training.labels),
        test_examples=len(test.labels),
        steps_per_epoch=len(training.labels) // batch_size,
        val=val,
        val_examples=0 if val is None else len(held_out.labels),
    )


class SplitSizes(NamedTuple):
    """Examples of a data set's training and test splits (ImageNet's test: its validation)."""

    train: int
    test: int


def split_sizes(name, data_dir=None):
    """The `SplitSizes` of a data set, read without loading it; None if not known yet.

    Config checks bound batch sizes and evaluation batches with them before any work. A
    tensorflow-datasets set not prepared in `data_dir` gives None: the run itself then stops
    with the command that prepares it.
    """
    if name == "digits":
        training, test = _digits_counts()
        return SplitSizes(len(training.labels), len(test.labels))
    import tensorflow_datasets as tfds

    test_split = "validation" if name == "imagenet2012" else "test"
    try:
        splits = tfds.builder(name, data_dir=data_dir).info.splits
        return SplitSizes(splits["train"].num_examples, splits[test_split].num_examples)
    except (KeyError, tfds.core.registered.DatasetNotFoundError):
        return None


def held_out_examples(num_training, val_fraction):
    """How many of `num_training` examples a val part of `val_fraction` takes (`_split_off_val`)."""
    return round(val_fraction * num_training)


def in_memory_bytes(name, image_size):
    """Bytes a data set keeps in memory at `image_size`: digits are resized whole, as float32."""
    if name != "digits":
        return 0  # CIFAR stays at 32x32 uint8 in memory (resized per batch); ImageNet streams
    return sum(split_sizes(name)) * image_size * image_size * 3 * 4


def _check_common_args(name, batch_size, image_size):
    if name not in KNOWN_DATASETS:
        raise ValueError(
            f"Invalid value received for argument `name`. Expected one of {KNOWN_DATASETS}. "
            f"Received: name={name!r}"
        )
    if batch_size <= 0:
        raise ValueError(
            "Invalid value received for argument `batch_size`. Expected a positive integer. "
            f"Received: batch_size={batch_size}"
        )
    if image_size <= 0:
        raise ValueError(
            "Invalid value received for argument `image_size`. Expected a positive integer. "
            f"Received: image_size={image_size}"
        )


def num_classes(name):
    """The number of labels of data set `name` (one of `KNOWN_DATASETS`), without loading it."""
    if name == "digits":
        return DIGITS_NUM_CLASSES
    if name == "imagenet2012":
        return IMAGENET_NUM_CLASSES
    return CIFAR_NUM_CLASSES[name]


def _stream(seed, stream):
    """A stateless seed [2] for one of the independent random streams of `seed`."""
    return tf.constant([seed, stream], tf.int64)


def _take(split, indices):
    return _Split(split.images[indices], split.labels[indices])


def _split_off_val(name, training, seed, val_fraction):
    """Divides in-memory training data into (train part, val part), as a search does.

    The val part is the last `val_fraction` of the examples: in their stored order for CIFAR,
    as tfds's `train[:90%]` / `train[90%:]` (UNAS App. A.2), in a permutation seeded by `seed`
    for digits.

    Raises:
      ValueError: a part would be empty.
    """
    num_examples = len(training.labels)
    if name == "digits":
        order = np.random.default_rng(seed).permutation(num_examples)
    else:
        order = np.arange(num_examples)
    num_val = held_out_examples(num_examples, val_fraction)
    if not 0 < num_val < num_examples:
        # An empty split would make its infinite pipeline loop without producing a batch.
        raise ValueError(
            "Invalid value received for argument `val_fraction`. Expected a fraction leaving "
            f"both splits of the {num_examples} training examples non-empty. "
            f"Received: val_fraction={val_fraction}"
        )
    return (
        _take(training, order[: num_examples - num_val]),
        _take(training, order[num_examples - num_val :]),
    )


# In-memory data sets: digits and CIFAR.


def _digits_counts():
    """Returns the digits (training part, test part) as scikit-learn's [N, 8, 8] counts 0..16."""
    digits = sk_datasets.load_digits()
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(DIGITS_TEST_SPLIT_SEED).permutation(len(labels))
    num_test = round(DIGITS_TEST_FRACTION * len(labels))
    return (
        _Split(digits.images[order[num_test:]], labels[order[num_test:]]),
        _Split(digits.images[order[:num_test]], labels[order[:num_test]]),
    )


def _digits_grey(counts, image_size):
    """[N, 8, 8] counts -> float32 [N, S, S, 3] grey levels in [0, 1], resized bilinearly."""
    images = (counts / DIGITS_MAX_PIXEL).astype(np.float32)[..., None]
    images = tf.image.resize(images, [image_size, image_size], method="bilinear").numpy()
    return np.repeat(images, 3, axis=-1)


def _digits_statistics(image_size):
    """The mean and standard deviation of the digits training part at `image_size`."""
    training, _ = _digits_counts()
    images = _digits_grey(training.images, image_size)
    return images.mean(), images.std()


def _digits_parts(image_size):
    """Returns the digits (training part, test part), float32 at `image_size`.

    Images are grey levels in [0, 1] repeated over 3 channels, resized bilinearly, then
    standardised with the mean and standard deviation of the training part.
    """
    training, test = _digits_counts()
    training = _Split(_digits_grey(training.images, image_size), training.labels)
    test = _Split(_digits_grey(test.images, image_size), test.labels)
    mean, std = training.images.mean(), training.images.std()
    return (
        _Split((training.images - mean) / std, training.labels),
        _Split((test.images - mean) / std, test.labels),
    )


def _load_tfds_split(name, split, data_dir):
    """Decodes a whole tensorflow-datasets split into memory, in its stored order."""
    dataset = _tfds_dataset(name, split, data_dir)
    images, labels = [], []
    for batch in dataset.batch(4096).as_numpy_iterator():
        images.append(batch["image"])
        labels.append(batch["label"].astype(np.int32))
    logging.info("Loaded %s[%s] into memory: %d examples.", name, split, sum(map(len, labels)))
    return _Split(np.concatenate(images), np.concatenate(labels))


def _tfds_dataset(name, split, data_dir, **as_dataset_kwargs):
    """`tfds.builder(name).as_dataset(split)`, never downloading.

    Raises:
      DatasetNotPreparedError: the data is not prepared in `data_dir`.
    """
    # Imported by the functions that read tensorflow-datasets only: "digits" runs never do.
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    try:
        return builder.as_dataset(split=split, **as_dataset_kwargs)
    except AssertionError as error:  # tfds signals unprepared data with an assert.
        raise DatasetNotPreparedError(_not_prepared_message(name, builder.data_dir_root)) from error


def _not_prepared_message(name, data_dir):
    message = (
        f"Data set {name!r} is not prepared in data_dir={data_dir!r}. Prepare it once with:\n"
        '  python -c "import tensorflow_datasets as tfds; '
        f"tfds.builder('{name}', data_dir='{data_dir}').download_and_prepare()\""
    )
    if name == "imagenet2012":
        message += (
            "\nImageNet cannot be downloaded automatically: first place ILSVRC2012_img_train.tar "
            "and ILSVRC2012_img_val.tar in the manual_dir (by default "
            f"{data_dir}/downloads/manual)."
        )
    return message


def _in_memory_examples(split, order_seed):
    """Infinite (image, label) examples, one stateless permutation of the split per epoch.

    A permutation of indices rather than `Dataset.shuffle` over images: a saved iterator holds the
    epoch and position, not a buffer of images, and the order ignores the global seed.
    """
    images, labels = tf.constant(split.images), tf.constant(split.labels)
    num_examples = len(split.labels)

    def epoch_order(epoch):
        seed = tf.random.experimental.stateless_fold_in(order_seed, epoch)
        permutation = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int64), seed=seed
        )
        return tf.data.Dataset.from_tensor_slices(permutation)

    indices = tf.data.Dataset.counter().flat_map(epoch_order)
    return indices.map(lambda index: (tf.gather(images, index), tf.gather(labels, index)))


def _in_memory_transforms(name, image_size):
    """Returns {augment: transform(image, seed) -> float32 [S, S, 3]} for digits or CIFAR.

    Digits are already standardised at `image_size` and translate by up to an eighth of the image
    (a flip would change the digit); CIFAR uses pad-4 random crop + flip, then its published
    per-channel statistics.
    """
    if name == "digits":
        padding = max(1, image_size // 8)
        return {
            True: lambda image, seed: _pad_crop_flip(image, seed, padding, flip=False),
            False: lambda image, seed: image,
        }
    mean = tf.constant(CIFAR_MEAN[name])
    std = tf.constant(CIFAR_STD[name])

    def normalise(image):
        image = (tf.cast(image, tf.float32) / 255.0 - mean) / std
        if image_size != CIFAR_IMAGE_SIZE:
            image = tf.image.resize(image, [image_size, image_size], method="bilinear")
        return image

    return {
        True: lambda image, seed: normalise(_pad_crop_flip(image, seed, CIFAR_PADDING, flip=True)),
        False: lambda image, seed: normalise(image),
    }


def _pad_crop_flip(image, seed, padding, flip):
    """Zero-pads, crops back to the original size at a random offset, and maybe flips."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(image)
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.stateless_random_crop(padded, shape, seed=crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image


def _with_cutout(transform, size):
    """Wraps an augmenting transform(image, seed) to zero a random square after it."""

    def transform_and_cut(image, seed):
        image = transform(image, seed)
        return _cutout(image, tf.random.experimental.stateless_fold_in(seed, _CUTOUT_STREAM), size)

    return transform_and_cut


def _cutout(image, seed, size):
    """Zeroes the size x size square centred on a uniformly random pixel, clipped at the borders.

    As DARTS's Cutout (DeVries & Taylor 2017): the centre may lie anywhere in the image, so the
    square is often partly outside it.
    """
    row_seed, column_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    height, width = tf.shape(image)[0], tf.shape(image)[1]

    def inside(length, centre_seed):
        centre = tf.random.stateless_uniform([], centre_seed, 0, length, dtype=tf.int32)
        positions = tf.range(length)
        return (positions >= centre - size // 2) & (positions < centre - size // 2 + size)

    square = inside(height, row_seed)[:, None] & inside(width, column_seed)[None, :]
    return image * tf.cast(~square, image.dtype)[..., None]


def _ordered_batches(split, transform, batch_size):
    """One ordered pass over in-memory examples; the last batch may be smaller."""
    examples = tf.data.Dataset.from_tensor_slices((split.images, split.labels))
    return _batched(examples, transform, batch_size, drop_remainder=False)


def _batched(examples, transform, batch_size, augment_seed=None, drop_remainder=True):
    """Transforms (image, label) examples into batched, prefetched feature dicts.

    The augmentation seed of an example is `augment_seed` folded with its position in the stream,
    so a parallel map gives the same images as a sequential one and a restored iterator continues
    with the images an uninterrupted one would have produced.
    """

    def features(position, example):
        image, label = example
        seed = None
        if augment_seed is not None:
            seed = tf.random.experimental.stateless_fold_in(augment_seed, position)
        return {
            "image": tf.cast(transform(image, seed), tf.float32),
            "label": tf.cast(label, tf.int32),
        }

    return (
        examples.enumerate()
        .map(features, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=drop_remainder)
        .prefetch(tf.data.AUTOTUNE)
    )


# ImageNet: streamed from the TFRecord files.


def _imagenet_search_data(batch_size, image_size, seed, data_dir, val_fraction, augment):
    num_train_files = _imagenet_num_examples("train", data_dir)
    num_val = round(val_fraction * num_train_files)
    num_train = num_train_files - num_val
    train = _imagenet_pipeline(
        f"train[:{num_train}]",
        batch_size,
        image_size,
        data_dir,
        seed,
        shuffle=True,
        augment_seed=_stream(seed, _TRAIN_AUGMENT) if augment else None,
    )
    val = _imagenet_pipeline(
        f"train[{num_train}:]", batch_size, image_size, data_dir, seed + 1, shuffle=True
    )
    return SearchData(
        train=train,
        val=val,
        num_classes=IMAGENET_NUM_CLASSES,
        image_size=image_size,
        train_examples=num_train,
        val_examples=num_val,
        steps_per_epoch=num_train // batch_size,
    )


def _imagenet_eval_data(batch_size, image_size, seed, data_dir, augment, val_fraction):
    num_train = _imagenet_num_examples("train", data_dir)
    num_val = round(val_fraction * num_train)
    num_train -= num_val
    val = None
    if num_val:  # The search's split (`_imagenet_search_data`): the last examples of "train".
        val = _imagenet_pipeline(
            f"train[{num_train}:]", batch_size, image_size, data_dir, seed, shuffle=False
        )
    train = _imagenet_pipeline(
        f"train[:{num_train}]" if num_val else "train",
        batch_size,
        image_size,
        data_dir,
        seed,
        shuffle=True,
        augment_seed=_stream(seed, _EVAL_TRAIN_AUGMENT) if augment else None,
    )
    test = _imagenet_pipeline("validation", batch_size, image_size, data_dir, seed, shuffle=False)
    return EvalData(
        train=train,
        test=test,
        num_classes=IMAGENET_NUM_CLASSES,
        image_size=image_size,
        train_examples=num_train,
        test_examples=_imagenet_num_examples("validation", data_dir),
        steps_per_epoch=num_train // batch_size,
        val=val,
        val_examples=num_val,
    )


def _imagenet_num_examples(split, data_dir):
    import tensorflow_datasets as tfds

    builder = tfds.builder("imagenet2012", data_dir=data_dir)
    try:
        return builder.info.splits[split].num_examples
    except KeyError as error:  # No split metadata: the data set was never prepared.
        raise DatasetNotPreparedError(
            _not_prepared_message("imagenet2012", builder.data_dir_root)
        ) from error


def _imagenet_pipeline(split, batch_size, image_size, data_dir, seed, shuffle, augment_seed=None):
    """Batches of an ImageNet split, decoded (and cropped) from the JPEG bytes.

    Shuffled, the split repeats forever, its files and examples shuffled with `seed` (the
    example shuffle buffer also follows TensorFlow's global seed, if one is set); otherwise it is
    one ordered pass whose last batch may be smaller. With an `augment_seed` images get a random
    resized crop and flip, else a centre crop.
    """
    import tensorflow_datasets as tfds

    read_config = tfds.ReadConfig(shuffle_seed=seed if shuffle else None)
    examples = _tfds_dataset(
        "imagenet2012",
        split,
        data_dir,
        shuffle_files=shuffle,
        read_config=read_config,
        decoders={"image": tfds.decode.SkipDecoding()},
    ).map(lambda example: (example["image"], example["label"]))
    if shuffle:
        examples = examples.repeat().shuffle(
            IMAGENET_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True
        )
    mean, std = tf.constant(IMAGENET_MEAN), tf.constant(IMAGENET_STD)

    def transform(encoded, crop_seed):
        if crop_seed is None:
            image = _imagenet_centre_crop(encoded, image_size)
        else:
            image = _imagenet_random_resized_crop(encoded, image_size, crop_seed)
        return (image / 255.0 - mean) / std

    return _batched(examples, transform, batch_size, augment_seed, drop_remainder=shuffle)


def _imagenet_random_resized_crop(encoded, image_size, seed):
    """Inception-style crop of a random area and aspect ratio, resized, randomly flipped."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.image.extract_jpeg_shape(encoded),
        bounding_boxes=tf.zeros([1, 0, 4]),
        seed=crop_seed,
        min_object_covered=0.0,
        aspect_ratio_range=IMAGENET_CROP_ASPECT_RATIO,
        area_range=IMAGENET_CROP_AREA,
        max_attempts=IMAGENET_CROP_ATTEMPTS,
        use_image_if_no_bounding_boxes=True,
    )
    window = tf.stack([begin[0], begin[1], size[0], size[1]])
    image = tf.image.decode_and_crop_jpeg(encoded, window, channels=3)
    image = tf.image.resize(image, [image_size, image_size], method="bilinear")
    return tf.image.stateless_random_flip_left_right(image, seed=flip_seed)


def _imagenet_centre_crop(encoded, image_size):
    """Decodes a JPEG, resizes its shorter side to image_size / 0.875, takes the centre square."""
    return _imagenet_centre_crop_decoded(tf.image.decode_jpeg(encoded, channels=3), image_size)


def _imagenet_centre_crop_decoded(image, image_size):
    """`_imagenet_centre_crop` of decoded uint8 image(s) [(N,) H, W, 3]; float32 pixels 0..255."""
    shape = tf.cast(tf.shape(image)[-3:-1], tf.float32)
    scale = image_size / IMAGENET_CENTRE_CROP_FRACTION / tf.reduce_min(shape)
    resized = tf.cast(tf.round(shape * scale), tf.int32)
    image = tf.image.resize(image, resized, method="bilinear")
    top, left = (resized[0] - image_size) // 2, (resized[1] - image_size) // 2
    return image[..., top : top + image_size, left : left + image_size, :]


# Serving: the test-time transform of uint8 images, as one batched graph function.


def serving_input_size(name):
    """The height and width of the uint8 images `serving_preprocess(name, ...)` takes.

    Digits: 8 (scikit-learn's images); CIFAR: 32; ImageNet: None, any size (one per batch),
    centre-cropped as the test pipeline crops the decoded JPEGs.

    Raises:
      ValueError: an unknown `name`.
    """
    _check_common_args(name, 1, 1)
    if name == "digits":
        return DIGITS_IMAGE_SIZE
    if name == "imagenet2012":
        return None
    return CIFAR_IMAGE_SIZE


def serving_preprocess(name, image_size):
    """Returns the test-time transform of data set `name` as a function of uint8 batches.

    The function maps uint8 [N, H, W, 3] images (H = W = `serving_input_size(name)`, or any size
    for ImageNet) to the float32 [N, image_size, image_size, 3] the test pipeline of `eval_data`
    feeds the network, with the same ops, so an exported model sees what it was tested on.

    Digits take scikit-learn's own integer form: `load_digits().images`, counts 0..16 of an 8x8
    grid, as uint8 (an ordinary 0..255 grey image x becomes round(x * 16 / 255)); the three
    channels are averaged, so grey images repeated on 3 channels are exact. CIFAR takes 32x32 RGB
    pixels; ImageNet takes decoded RGB images of any size, one size per batch.

    Args:
      name: one of `KNOWN_DATASETS`.
      image_size: height and width the network takes.

    Returns:
      A function uint8 tensor [N, H, W, 3] -> float32 tensor [N, image_size, image_size, 3],
      made of TensorFlow ops only (traceable into a SavedModel).

    Raises:
      ValueError: an unknown `name` or a non-positive `image_size`.
    """
    _check_common_args(name, 1, image_size)
    if name == "digits":
        mean, std = _digits_statistics(image_size)
        mean, std = tf.constant(mean, tf.float32), tf.constant(std, tf.float32)

        def preprocess_digits(images):
            grey = tf.reduce_mean(tf.cast(images, tf.float32), axis=-1, keepdims=True)
            grey = tf.image.resize(grey / DIGITS_MAX_PIXEL, [image_size, image_size], "bilinear")
            return (tf.tile(grey, [1, 1, 1, 3]) - mean) / std

        return preprocess_digits
    if name == "imagenet2012":
        mean, std = tf.constant(IMAGENET_MEAN), tf.constant(IMAGENET_STD)

        def preprocess_imagenet(images):
            return (_imagenet_centre_crop_decoded(images, image_size) / 255.0 - mean) / std

        return preprocess_imagenet
    normalise = _in_memory_transforms(name, image_size)[False]
    return lambda images: normalise(images, None)
