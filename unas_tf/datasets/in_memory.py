"""Data sets decoded once into memory: their search and retraining pipelines from two parts.

A subclass says how to read its (training, test) parts and how to transform an image (with or
without augmentation); the splits, example order, augmentation seeds and batching are the same
for all (`pipeline`), so every in-memory set is deterministic and resumable the same way.
"""

import abc

import numpy as np

from unas_tf.datasets import base, pipeline


class InMemoryDataset(base.Dataset):
    """A data set whose examples fit in memory, held as tensors (`pipeline.in_memory_examples`)."""

    @abc.abstractmethod
    def parts(self, image_size):
        """(training `pipeline.Split`, test `pipeline.Split`) of the decoded examples."""

    @abc.abstractmethod
    def transforms(self, image_size):
        """{augment: transform(image, seed) -> float32 [image_size, image_size, 3]}."""

    def val_order(self, num_examples, seed):
        """The order whose last examples are the val part: the stored order by default."""
        del seed
        return np.arange(num_examples)

    def split_sizes(self, image_size):
        training, test = self.parts(image_size)
        return base.SplitSizes(len(training.labels), len(test.labels))

    def _split_off_val(self, training, seed, val_fraction):
        order = self.val_order(len(training.labels), seed)
        return pipeline.split_off_val(training, val_fraction, order)

    def search_data(
        self, batch_size, image_size, seed, val_fraction=None, augment=True, augment_val=False
    ):
        val_fraction = base.check_search_val_fraction(val_fraction)
        training, _ = self.parts(image_size)
        train_split, val_split = self._split_off_val(training, seed, val_fraction)
        transforms = self.transforms(image_size)
        train = pipeline.batched(
            pipeline.in_memory_examples(train_split, pipeline.stream(seed, pipeline.TRAIN_ORDER)),
            transforms[augment],
            batch_size,
            pipeline.stream(seed, pipeline.TRAIN_AUGMENT),
        )
        val = pipeline.batched(
            pipeline.in_memory_examples(val_split, pipeline.stream(seed, pipeline.VAL_ORDER)),
            transforms[augment_val],
            batch_size,
            pipeline.stream(seed, pipeline.VAL_AUGMENT),
        )
        return base.SearchData(
            train=train,
            val=val,
            num_classes=self.num_classes,
            image_size=image_size,
            train_examples=len(train_split.labels),
            val_examples=len(val_split.labels),
            steps_per_epoch=len(train_split.labels) // batch_size,
        )

    def eval_data(self, batch_size, image_size, seed, augment=True, cutout=0, val_fraction=0.0):
        training, test = self.parts(image_size)
        transforms = self.transforms(image_size)
        val = None
        if val_fraction:
            training, held_out = self._split_off_val(training, seed, val_fraction)
            val = pipeline.ordered_batches(held_out, transforms[False], batch_size)
        train_transform = transforms[augment]
        if augment and cutout:
            train_transform = pipeline.with_cutout(train_transform, cutout)
        train = pipeline.batched(
            pipeline.in_memory_examples(training, pipeline.stream(seed, pipeline.EVAL_TRAIN_ORDER)),
            train_transform,
            batch_size,
            pipeline.stream(seed, pipeline.EVAL_TRAIN_AUGMENT),
        )
        return base.EvalData(
            train=train,
            test=pipeline.ordered_batches(test, transforms[False], batch_size),
            num_classes=self.num_classes,
            image_size=image_size,
            train_examples=len(training.labels),
            test_examples=len(test.labels),
            steps_per_epoch=len(training.labels) // batch_size,
            val=val,
            val_examples=0 if val is None else len(held_out.labels),
        )
