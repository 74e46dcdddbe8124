"""folder:PATH: class folders of generated PNGs, splits, normalisation, resume, and each error."""

import os

import numpy as np
import pytest
import tensorflow as tf

from configs.study import smoke
from tests import testing
from unas_tf import study_trial
from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import pipeline, user_images


def _folder(tmp_path, **kwargs):
    return testing.write_image_folder(tmp_path / "images", **kwargs)


def _all(dataset):
    batches = list(dataset.as_numpy_iterator())
    return np.concatenate([b["image"] for b in batches]), np.concatenate(
        [b["label"] for b in batches]
    )


def test_a_folder_is_read_split_and_normalised(tmp_path):
    dataset = dataset_base.get(f"folder:{_folder(tmp_path)}")
    assert dataset.num_classes == 3
    assert dataset.class_names() == ["ant", "bee", "cat"]
    # 30 images, no test/ folder: a fixed 20% is the test split; search-val the last 10% of
    # the rest (UNAS App. A.2).
    assert dataset.split_sizes(8) == dataset_base.SplitSizes(train=24, test=6)
    search = dataset.search_data(batch_size=4, image_size=8, seed=0, augment=False)
    assert (search.train_examples, search.val_examples, search.steps_per_epoch) == (22, 2, 5)
    evaluation = dataset.eval_data(batch_size=4, image_size=8, seed=0, augment=False)
    images, labels = _all(evaluation.test)
    assert images.shape == (6, 8, 8, 3) and set(labels) <= {0, 1, 2}
    train = np.concatenate(
        [b["image"] for b in evaluation.train.take(6).as_numpy_iterator()]
    )  # one pass of the 24 training images
    np.testing.assert_allclose(train.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=(0, 1, 2)), 1.0, atol=1e-3)
    # Images are resized to the run's image size.
    assert next(iter(dataset.eval_data(2, 16, seed=0).test))["image"].shape == (2, 16, 16, 3)


def test_train_and_test_sub_folders_are_the_splits(tmp_path):
    root = tmp_path / "images"
    testing.write_image_folder(root / "train", per_class=6)
    testing.write_image_folder(root / "test", per_class=2)
    dataset = dataset_base.get(f"folder:{root}")
    assert dataset.class_names() == ["ant", "bee", "cat"]
    assert dataset.split_sizes(8) == dataset_base.SplitSizes(train=18, test=6)
    # The training files are in a fixed shuffle, so the last 10% (search-val) mixes classes.
    search = dataset.search_data(batch_size=2, image_size=8, seed=0, augment=False)
    assert search.val_examples == 2


def test_grey_images_are_served_with_one_channel_and_trained_on_three(tmp_path):
    dataset = dataset_base.get(f"folder:{_folder(tmp_path, grey=True)}")
    batch = next(iter(dataset.search_data(batch_size=4, image_size=8, seed=0).train))
    np.testing.assert_array_equal(batch["image"][..., 0], batch["image"][..., 2])
    assert dataset.serving_channels() == 1
    served = dataset.serving_preprocess(8)(tf.zeros([2, 8, 8, 1], tf.uint8))
    assert served.shape == (2, 8, 8, 3)


def test_serving_preprocess_matches_the_test_pipeline(tmp_path):
    root = _folder(tmp_path)
    dataset = dataset_base.get(f"folder:{root}")
    _, test = dataset.parts(8)
    expected = next(iter(dataset.eval_data(batch_size=6, image_size=8, seed=0).test))["image"]
    np.testing.assert_allclose(dataset.serving_preprocess(8)(test.images), expected, atol=1e-6)


def test_the_record_restores_the_statistics_the_run_started_with(tmp_path):
    root = _folder(tmp_path)
    saved = dataset_base.get(f"folder:{root}").record(8)
    assert saved["class_names"] == ["ant", "bee", "cat"] and saved["channels"] == 3
    assert len(saved["mean"]) == len(saved["std"]) == 3
    testing.write_image_folder(root, classes=("ant",), per_class=20)  # the images change
    changed, restored = dataset_base.get(f"folder:{root}"), dataset_base.get(f"folder:{root}")
    restored.restore(saved)
    assert changed.statistics(8) != restored.statistics(8) == (saved["mean"], saved["std"])


def test_a_restored_iterator_continues_like_an_uninterrupted_one(tmp_path):
    root = _folder(tmp_path)

    def train_batches():
        return dataset_base.get(f"folder:{root}").search_data(4, 8, seed=3).train

    uninterrupted = iter(train_batches())
    for _ in range(7):  # into the second epoch of 5 steps
        next(uninterrupted)
    path = tf.train.Checkpoint(iterator=uninterrupted).write(os.fspath(tmp_path / "ckpt"))
    expected = [next(uninterrupted) for _ in range(3)]
    resumed = iter(train_batches())
    tf.train.Checkpoint(iterator=resumed).read(path).assert_consumed()
    for want in expected:
        got = next(resumed)
        np.testing.assert_array_equal(got["image"], want["image"])
        np.testing.assert_array_equal(got["label"], want["label"])


def _one_class(root):
    testing.write_image_folder(root, classes=("only",), per_class=3)


def _class_without_images(root):
    testing.write_image_folder(root, classes=("ant", "bee"), per_class=3)
    (root / "cat").mkdir()
    (root / "cat" / "notes.txt").write_text("no images here")


def _unreadable(root):
    for name in ("ant", "bee"):
        (root / name).mkdir(parents=True)
        for index in range(2):
            (root / name / f"{index}.png").write_bytes(b"not a png")


def _mixed_channels(root):
    testing.write_image_folder(root, classes=("ant", "bee"), per_class=3)
    testing.write_image_folder(root, classes=("cat",), per_class=3, grey=True)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "images does not exist"),
        (lambda root: root.mkdir(), "no class sub-folders in"),
        (_one_class, r"one class sub-folder \(only\).*at least 2 classes"),
        (_class_without_images, "class folder .*cat holds no image file"),
        (_unreadable, r"no readable image in .*\(4 files skipped"),
        (_mixed_channels, "mixed channel counts"),
    ],
)
def test_unusable_folders_are_one_line_errors_naming_the_key(tmp_path, make, message):
    root = tmp_path / "images"
    if make is not None:
        make(root)
    with pytest.raises(ValueError, match=message) as raised:
        dataset_base.get(f"folder:{root}").split_sizes(8)
    assert str(raised.value).startswith(f"config.dataset=folder:{root}: ")
    assert "\n" not in str(raised.value)


def test_a_source_too_small_to_hold_out_a_test_split_is_refused():
    split = pipeline.Split(np.zeros([2, 8, 8, 3], np.uint8), np.zeros([2], np.int32))
    with pytest.raises(ValueError, match="what: 2 examples and no test split"):
        user_images.split_off_test(split, "what")


def test_labels_out_of_range_are_refused():
    split = pipeline.Split(np.zeros([4, 8, 8, 3], np.uint8), np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"where: 1 training labels out of range \[0, 3\)"):
        user_images.check_parts(split, split, 3, "where")


def test_a_study_takes_a_folder_for_its_searches_and_retraining(tmp_path):
    config = smoke.get_config()
    config.search.dataset = config.eval.dataset = f"folder:{_folder(tmp_path)}"
    study_trial.validate(config)  # every trial's search and retraining accept it
    config.eval.dataset = f"folder:{tmp_path}/none"
    with pytest.raises(ValueError, match=rf"trial .*: config.dataset=folder:{tmp_path}/none: "):
        study_trial.validate(config)
