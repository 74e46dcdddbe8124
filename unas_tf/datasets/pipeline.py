"""The parts every pipeline shares: in-memory examples, stateless augmentation, batching.

Data that fits in memory is decoded once and held as tensors; each epoch is a stateless
permutation of example indices seeded by (seed, epoch), so iterator checkpoints store a few
counters rather than a shuffle buffer or an in-memory cache of images. Random augmentation uses
stateless ops seeded by (seed, position in the stream), so it does not depend on TensorFlow's
global seed nor on how many threads ran the map. No `from_generator` or `py_function`: iterators
over them cannot be saved.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from unas_tf.datasets import base

# Independent random streams derived from `seed`.
TRAIN_ORDER, TRAIN_AUGMENT, VAL_ORDER, EVAL_TRAIN_ORDER, EVAL_TRAIN_AUGMENT, VAL_AUGMENT = range(6)
# Folded into an example's augmentation seed for its cutout square, apart from crop and flip.
_CUTOUT_STREAM = 1


class Split(NamedTuple):
    """Decoded examples in memory: images [N, H, W, C] and integer labels [N]."""

    images: np.ndarray
    labels: np.ndarray


def stream(seed, which):
    """A stateless seed [2] for one of the independent random streams of `seed`."""
    return tf.constant([seed, which], tf.int64)


def take(split, indices):
    """The examples of `split` at `indices`, in that order."""
    return Split(split.images[indices], split.labels[indices])


def split_off_val(training, val_fraction, order):
    """Divides in-memory training data into (train part, val part), as a search does.

    The val part is the last `val_fraction` of the examples in `order` (UNAS App. A.2 and A.3:
    the last 10% of the training split).

    Raises:
      ValueError: a part would be empty.
    """
    num_examples = len(training.labels)
    num_val = base.held_out_examples(num_examples, val_fraction)
    if not 0 < num_val < num_examples:
        # An empty split would make its infinite pipeline loop without producing a batch.
        raise ValueError(
            "Invalid value received for argument `val_fraction`. Expected a fraction leaving "
            f"both splits of the {num_examples} training examples non-empty. "
            f"Received: val_fraction={val_fraction}"
        )
    return (
        take(training, order[: num_examples - num_val]),
        take(training, order[num_examples - num_val :]),
    )


def in_memory_examples(split, order_seed):
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


def pad_crop_flip(image, seed, padding, flip):
    """Zero-pads, crops back to the original size at a random offset, and maybe flips."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(image)
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.stateless_random_crop(padded, shape, seed=crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image


def with_cutout(transform, size):
    """Wraps an augmenting transform(image, seed) to zero a random square after it."""

    def transform_and_cut(image, seed):
        image = transform(image, seed)
        return cutout(image, tf.random.experimental.stateless_fold_in(seed, _CUTOUT_STREAM), size)

    return transform_and_cut


def cutout(image, seed, size):
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


def ordered_batches(split, transform, batch_size):
    """One ordered pass over in-memory examples; the last batch may be smaller."""
    examples = tf.data.Dataset.from_tensor_slices((split.images, split.labels))
    return batched(examples, transform, batch_size, drop_remainder=False)


def batched(examples, transform, batch_size, augment_seed=None, drop_remainder=True):
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
