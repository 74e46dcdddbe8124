"""python:MODULE:FUNCTION: a user's function returning ImageData, and what it may get wrong."""

import numpy as np
import pytest

from unas_tf.datasets import base as dataset_base

_MODULE = """
import numpy as np
import tensorflow as tf
from unas_tf.datasets import python_builder

def _pairs(count, size=6, channels=3, first_label=0):
    images = np.arange(count * size * size * channels) % 251
    images = images.reshape(count, size, size, channels).astype(np.uint8)
    labels = np.arange(count) % 2 + first_label
    return tf.data.Dataset.from_tensor_slices((images, labels))

def good():
    return python_builder.ImageData(
        train=_pairs(20), test=_pairs(4), num_classes=2, image_size=6, class_names=("a", "b")
    )

def not_image_data():
    return {"train": _pairs(4)}

def floats():
    return python_builder.ImageData(
        train=_pairs(4).map(lambda i, l: (tf.cast(i, tf.float32), l)), test=_pairs(2),
        num_classes=2, image_size=6,
    )

def out_of_range():
    return python_builder.ImageData(
        train=_pairs(4, first_label=5), test=_pairs(2), num_classes=2, image_size=6
    )

def mixed():
    return python_builder.ImageData(
        train=_pairs(4), test=_pairs(2, channels=1), num_classes=2, image_size=6
    )
"""


@pytest.fixture(autouse=True)
def _user_module(tmp_path, monkeypatch):
    (tmp_path / "my_images.py").write_text(_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_python_builder_is_read_resized_and_named():
    dataset = dataset_base.get("python:my_images:good")
    assert dataset.num_classes == 2 and dataset.class_names() == ["a", "b"]
    assert dataset.split_sizes(8) == dataset_base.SplitSizes(train=20, test=4)
    search = dataset.search_data(batch_size=4, image_size=8, seed=0)
    assert (search.train_examples, search.val_examples) == (18, 2)
    batch = next(iter(search.train))
    assert batch["image"].shape == (4, 8, 8, 3)  # 6x6, resized to the run's size
    assert np.all(np.isfinite(batch["image"]))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("python:no_such_module:good", "cannot import module 'no_such_module'"),
        ("python:my_images:missing", "module 'my_images' has no function 'missing'"),
        ("python:my_images:not_image_data", "returned a dict; expected a unas_tf.datasets"),
        ("python:my_images:floats", r"ImageData.train must be a tf.data.Dataset of \(uint8"),
        ("python:my_images:out_of_range", r"4 training labels out of range \[0, 2\)"),
        ("python:my_images:mixed", "mixed channel counts"),
        ("python:no_function", "expected python:MODULE:FUNCTION"),
    ],
)
def test_a_bad_builder_is_a_one_line_error_naming_the_key(spec, message):
    with pytest.raises(ValueError, match=message) as raised:
        dataset_base.get(spec).split_sizes(8)
    assert str(raised.value).startswith(f"config.dataset={spec}: ")
    assert "\n" not in str(raised.value)
