"""tfds:NAME through tensorflow-datasets' mock data: classes, splits, statistics, errors."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from absl import logging

from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import tfds_images, user_images


def test_a_tfds_set_without_a_test_split_gives_up_a_fixed_fraction(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(logging, "info", lambda message, *args: logged.append(message % args))
    with tfds.testing.mock_data(num_examples=20):
        dataset = dataset_base.get("tfds:mnist", data_dir=os.fspath(tmp_path))
        assert dataset.num_classes == 10
        assert dataset.class_names() == [str(digit) for digit in range(10)]
        # Mock data has no split metadata: "train" alone, 20% of it held out as the test split.
        assert dataset.split_sizes(8) == dataset_base.SplitSizes(train=16, test=4)
        search = dataset.search_data(batch_size=4, image_size=8, seed=0)
    assert any("has no test split: its test split is 4 of its 20" in line for line in logged)
    batch = next(iter(search.train))
    assert batch["image"].shape == (4, 8, 8, 3)  # 28x28 grey, resized and on 3 channels
    np.testing.assert_array_equal(batch["image"][..., 0], batch["image"][..., 1])
    saved = dataset.record(8)
    assert saved["spec"] == "tfds:mnist" and saved["channels"] == 1
    training, _ = dataset.parts(8)
    pixels = training.images[: user_images.STATISTICS_EXAMPLES] / 255.0
    np.testing.assert_allclose(saved["mean"], [pixels.mean()], rtol=1e-6)
    np.testing.assert_allclose(saved["std"], [pixels.std()], rtol=1e-6)


def test_a_set_with_a_config_reads_its_sizes(tmp_path):
    with tfds.testing.mock_data(num_examples=10):
        dataset = dataset_base.get("tfds:tf_flowers", data_dir=os.fspath(tmp_path))
        assert dataset.num_classes == 5
        # Images of many sizes are resized when read.
        assert dataset.parts(8)[0].images.shape == (8, 8, 8, 3)


def test_an_unprepared_set_gives_the_tfds_build_command(tmp_path):
    with pytest.raises(dataset_base.DatasetNotPreparedError) as raised:
        dataset_base.get("tfds:mnist", data_dir=os.fspath(tmp_path)).split_sizes(8)
    message = str(raised.value)
    assert message.startswith("config.dataset=tfds:mnist: not prepared")
    assert f"tfds build mnist --data_dir={tmp_path}" in message and "\n" not in message
    assert tfds_images.build_command("x/y", "d") == "tfds build x/y --data_dir=d"
    assert not os.listdir(tmp_path)  # nothing was downloaded


def test_an_unknown_or_unfit_set_names_the_key(tmp_path):
    with pytest.raises(ValueError, match="config.dataset: tensorflow-datasets has no"):
        dataset_base.get("tfds:no_such_set", data_dir=os.fspath(tmp_path)).split_sizes(8)
    with pytest.raises(ValueError, match="not an image-classification set"):
        dataset_base.get("tfds:imdb_reviews", data_dir=os.fspath(tmp_path)).class_names()
