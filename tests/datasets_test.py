"""The built-in data sets through the registry: digits splits, resumable iterators, CIFAR
through mocked tfds, errors."""

import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import digits, imagenet

NUM_DIGITS = 1797


def _image_hashes(dataset, num_batches):
    """Content hashes of the images of the first `num_batches` batches."""
    hashes = []
    for batch in dataset.take(num_batches).as_numpy_iterator():
        hashes.extend(hashlib.sha1(image.tobytes()).hexdigest() for image in batch["image"])
    return hashes


def _digits_parts(seed, batch_size=2):
    """Image hashes of one pass of search-train, search-val and test of unaugmented digits."""
    search = dataset_base.search_data("digits", batch_size, 8, seed=seed, augment=False)
    evaluation = dataset_base.eval_data("digits", batch_size, 8, seed=seed)
    return (
        _image_hashes(search.train, search.train_examples // batch_size),
        _image_hashes(search.val, search.val_examples // batch_size),
        _image_hashes(evaluation.test, len(evaluation.test)),
    )


@pytest.mark.parametrize("image_size", [16, 32])
def test_digits_batches(image_size):
    search = dataset_base.search_data("digits", 8, image_size, seed=0)
    assert search.num_classes == 10
    assert search.image_size == image_size
    assert search.steps_per_epoch == search.train_examples // 8
    for dataset in (search.train, search.val):
        batch = next(iter(dataset))
        assert batch["image"].shape == (8, image_size, image_size, 3)
        assert batch["image"].dtype == tf.float32
        assert batch["label"].shape == (8,)
        assert batch["label"].dtype == tf.int32
        assert np.all((batch["label"] >= 0) & (batch["label"] < 10))
        assert np.all(np.isfinite(batch["image"]))
    assert search.train.element_spec["image"].shape == (8, image_size, image_size, 3)


def test_digits_are_grey_and_standardised_on_the_training_part():
    evaluation = dataset_base.eval_data("digits", 64, 16, seed=0, augment=False)
    # One pass of the shuffled training data, up to the dropped remainder.
    train = np.concatenate(
        [b["image"] for b in evaluation.train.take(evaluation.steps_per_epoch).as_numpy_iterator()]
    )
    test = np.concatenate([b["image"] for b in evaluation.test.as_numpy_iterator()])
    assert test.shape == (evaluation.test_examples, 16, 16, 3)
    np.testing.assert_array_equal(train[..., 0], train[..., 2])
    assert abs(train.mean()) < 0.05
    assert abs(train.std() - 1.0) < 0.05
    # Background pixels (0 of 16) are the minimum; strokes reach several deviations above.
    np.testing.assert_allclose(train.min(), test.min(), rtol=1e-5)
    assert train.max() > 2.0


def test_digits_splits_add_up_and_are_disjoint():
    search = dataset_base.search_data("digits", 2, 8, seed=0)
    evaluation = dataset_base.eval_data("digits", 2, 8, seed=0)
    assert search.train_examples + search.val_examples == evaluation.train_examples
    assert evaluation.train_examples + evaluation.test_examples == NUM_DIGITS
    assert evaluation.test_examples == round(digits.TEST_FRACTION * NUM_DIGITS)
    assert search.val_examples == round(
        dataset_base.DEFAULT_VAL_FRACTION * evaluation.train_examples
    )

    train, val, test = _digits_parts(seed=0)
    # One pass of the training iterator visits every search-train image once.
    assert len(set(train)) == len(train) == search.train_examples
    assert len(set(val)) == len(val) == search.val_examples
    assert len(set(test)) == len(test) == evaluation.test_examples
    assert not set(train) & set(val)
    assert not (set(train) | set(val)) & set(test)


def test_digits_split_follows_the_seed_only():
    train, val, test = _digits_parts(seed=0)
    same_train, same_val, same_test = _digits_parts(seed=0)
    other_train, other_val, other_test = _digits_parts(seed=1)
    assert same_train == train  # Same images in the same order.
    assert same_val == val
    assert set(other_val) != set(val)
    assert set(other_train) | set(other_val) == set(train) | set(val)
    # The test part never moves, so no seed's search has seen it.
    assert other_test == same_test == test


def test_val_fraction():
    search = dataset_base.search_data("digits", 4, 8, seed=0, val_fraction=0.5)
    assert search.train_examples == search.val_examples
    with pytest.raises(ValueError, match="val_fraction"):
        dataset_base.search_data("digits", 4, 8, seed=0, val_fraction=1.0)
    with pytest.raises(ValueError, match="non-empty"):
        dataset_base.search_data("digits", 4, 8, seed=0, val_fraction=1e-4)


def test_augmentation_is_seeded_and_changes_images():
    def first_batch(seed, augment):
        return next(
            iter(dataset_base.search_data("digits", 16, 16, seed=seed, augment=augment).train)
        )

    augmented = first_batch(0, True)
    np.testing.assert_array_equal(augmented["image"], first_batch(0, True)["image"])
    plain = first_batch(0, False)
    np.testing.assert_array_equal(augmented["label"], plain["label"])
    assert not np.array_equal(augmented["image"], plain["image"])
    assert not np.array_equal(augmented["label"], first_batch(1, True)["label"])


def test_restored_iterator_continues_like_an_uninterrupted_one(tmp_path):
    def pipeline():
        return dataset_base.search_data("digits", 64, 16, seed=3)

    search = pipeline()
    uninterrupted = iter(search.train)
    # Save one batch before the end of the first epoch, so the batches compared cross into the
    # next epoch and its new permutation.
    for _ in range(search.steps_per_epoch - 1):
        next(uninterrupted)
    path = tf.train.Checkpoint(iterator=uninterrupted).write(os.fspath(tmp_path / "ckpt"))
    expected = [next(uninterrupted) for _ in range(3)]

    assert not np.array_equal(next(iter(pipeline().train))["label"], expected[0]["label"])
    resumed = iter(pipeline().train)
    tf.train.Checkpoint(iterator=resumed).read(path).assert_consumed()
    for want in expected:
        got = next(resumed)
        np.testing.assert_array_equal(got["image"], want["image"])
        np.testing.assert_array_equal(got["label"], want["label"])
    # The checkpoint holds positions and a few prefetched batches, not the data set.
    size = sum(os.path.getsize(tmp_path / name) for name in os.listdir(tmp_path))
    assert size < search.train_examples * 16 * 16 * 3 * 4 / 2


@pytest.mark.parametrize("image_size", [32, 16])
def test_cifar10_with_mocked_tfds(tmp_path, image_size):
    with tfds.testing.mock_data(num_examples=20):
        search = dataset_base.search_data(
            "cifar10", 3, image_size, seed=0, data_dir=os.fspath(tmp_path)
        )
        evaluation = dataset_base.eval_data(
            "cifar10", 3, image_size, seed=0, data_dir=os.fspath(tmp_path)
        )
    # The last 10% of the training split is search-val (UNAS App. A.2).
    assert (search.train_examples, search.val_examples, search.steps_per_epoch) == (18, 2, 6)
    assert (evaluation.train_examples, evaluation.test_examples) == (20, 20)
    assert search.num_classes == 10
    for dataset in (search.train, search.val, evaluation.train, evaluation.test):
        batch = next(iter(dataset))
        assert batch["image"].shape == (3, image_size, image_size, 3)
        assert batch["image"].dtype == tf.float32
        assert batch["label"].dtype == tf.int32
        assert np.all(np.isfinite(batch["image"]))
    # Validation batches are infinite even for a split smaller than the batch.
    assert len(list(search.val.take(5).as_numpy_iterator())) == 5
    assert sum(len(b["label"]) for b in evaluation.test.as_numpy_iterator()) == 20


def test_unprepared_cifar10_says_how_to_prepare_it(tmp_path):
    with pytest.raises(dataset_base.DatasetNotPreparedError) as raised:
        dataset_base.search_data("cifar10", 8, 32, seed=0, data_dir=os.fspath(tmp_path))
    message = str(raised.value)
    assert "cifar10" in message
    # The command prepares into the data_dir the user gave, not a versioned subdirectory.
    assert f"tfds.builder('cifar10', data_dir='{tmp_path}').download_and_prepare()" in message
    assert isinstance(raised.value, ValueError)
    assert not os.listdir(tmp_path)  # Nothing was downloaded.


def test_unprepared_imagenet_mentions_the_manual_dir(tmp_path):
    with pytest.raises(dataset_base.DatasetNotPreparedError, match="manual_dir"):
        dataset_base.search_data("imagenet2012", 8, 32, seed=0, data_dir=os.fspath(tmp_path))


def test_imagenet_crops():
    pixels = tf.random.stateless_uniform([40, 60, 3], [0, 0], 0, 256, tf.int32)
    encoded = tf.io.encode_jpeg(tf.cast(pixels, tf.uint8))
    seed = tf.constant([0, 1], tf.int64)
    assert imagenet.random_resized_crop(encoded, 16, seed).shape == (16, 16, 3)
    assert imagenet.centre_crop(encoded, 16).shape == (16, 16, 3)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="digits.*cifar10.*cifar100.*imagenet2012"):
        dataset_base.search_data("mnist", 8, 16, seed=0)
    for batch_size in (0, -2):
        with pytest.raises(ValueError, match="batch_size"):
            dataset_base.search_data("digits", batch_size, 16, seed=0)
    with pytest.raises(ValueError, match="image_size"):
        dataset_base.eval_data("digits", 8, 0, seed=0)


def test_built_ins_and_ways_in_are_found_by_spec():
    assert dataset_base.names()[:4] == ("digits", "cifar10", "cifar100", "imagenet2012")
    assert isinstance(dataset_base.get("digits"), digits.Digits)
    assert dataset_base.get("folder:/some/where").spec == "folder:/some/where"
    with pytest.raises(ValueError, match=r"config.dataset: unknown data set 'photos:x'.*folder"):
        dataset_base.get("photos:x")


class _Constant(dataset_base.Dataset):
    """A user's own registered data set: a name is all a config needs."""

    name = "constant_for_test"
    num_classes = 2

    def split_sizes(self, image_size):
        return dataset_base.SplitSizes(4, 2)

    def search_data(
        self, batch_size, image_size, seed, val_fraction=None, augment=True, augment_val=False
    ):
        return "search"

    def eval_data(self, batch_size, image_size, seed, augment=True, cutout=0, val_fraction=0.0):
        return "eval"

    def serving_input_size(self, image_size):
        return image_size

    def serving_preprocess(self, image_size):
        return lambda images: images


def test_a_registered_data_set_is_used_by_name():
    dataset_base.register(_Constant)
    try:
        with pytest.raises(ValueError, match="registered already"):
            dataset_base.register(_Constant)
        assert dataset_base.search_data("constant_for_test", 2, 8, seed=0) == "search"
        assert dataset_base.get("constant_for_test").record(8) == {
            "spec": "constant_for_test",
            "num_classes": 2,
            "class_names": None,
        }
    finally:
        dataset_base.unregister("constant_for_test")
    assert "constant_for_test" not in dataset_base.names()


def _shifts(image, padding):
    """Every zero-padded translation of `image` by at most `padding` pixels."""
    size = image.shape[0]
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    return [
        padded[dy : dy + size, dx : dx + size]
        for dy in range(2 * padding + 1)
        for dx in range(2 * padding + 1)
    ]


@pytest.mark.parametrize("augment_val", [False, True])
def test_search_val_goes_through_the_train_transform_when_asked(augment_val):
    clean = dataset_base.search_data("digits", 8, 16, seed=0, augment=False)
    search = dataset_base.search_data("digits", 8, 16, seed=0, augment_val=augment_val)
    clean_val, val = next(iter(clean.val))["image"].numpy(), next(iter(search.val))["image"]
    val = val.numpy()
    assert np.array_equal(clean_val, val) != augment_val
    # The digits training transform: a zero-padded translation by up to an eighth of the image
    # (2 px here) of the standardised image.
    for before, after in zip(clean_val, val, strict=True):
        assert any(np.allclose(after, candidate) for candidate in _shifts(before, padding=2))
