"""TensorBoard helpers: scalars read back as TensorBoard reads them, JSON texts, DARTS heatmap."""

import json

import ml_collections
import numpy as np
import tensorflow as tf
from tensorboard.util import tensor_util

from unas_tf import genotypes, summaries


def _write(directory, step, write):
    with tf.summary.create_file_writer(str(directory)).as_default(step=step):
        write()
        tf.summary.flush()


def _scalars(values_by_step):
    def write():
        for step, value in values_by_step.items():
            tf.summary.scalar("loss", value, step=step)

    return write


def test_logged_scalars_keep_a_resumed_runs_newer_values(tmp_path):
    _write(tmp_path, 0, _scalars({1: 1.0, 2: 2.0}))
    _write(tmp_path, 0, _scalars({2: 5.0, 3: 3.0}))  # a resumed run rewrites step 2
    assert summaries.logged_scalars(tmp_path, "loss") == {1: 1.0, 2: 5.0, 3: 3.0}
    assert summaries.logged_scalars(tmp_path, "other") == {}
    assert summaries.logged_scalars(tmp_path / "missing", "loss") == {}


def test_logged_scalars_stop_at_a_truncated_or_corrupt_record(tmp_path):
    _write(tmp_path, 0, _scalars({1: 1.0, 2: 2.0, 3: 3.0}))
    (path,) = tmp_path.iterdir()
    written = path.read_bytes()
    path.write_bytes(written[:-5])  # a file still being written: its last record is partial
    assert summaries.logged_scalars(tmp_path, "loss") == {1: 1.0, 2: 2.0}
    corrupt = bytearray(written)
    corrupt[-20] ^= 0xFF  # inside the last record's data: its CRC no longer matches
    path.write_bytes(bytes(corrupt))
    assert summaries.logged_scalars(tmp_path, "loss") == {1: 1.0, 2: 2.0}


def test_run_texts_hold_the_config_and_the_genotype_as_json(tmp_path):
    config = ml_collections.ConfigDict({"lr": 0.1, "data": {"name": "digits"}})
    genotype = genotypes.load("UNAS_CIFAR10")
    _write(tmp_path, 7, lambda: summaries.write_run_texts(config, genotype))
    texts = {
        value.tag: (event.step, tensor_util.make_ndarray(value.tensor).item().decode())
        for event in summaries.read_events(tmp_path)
        for value in event.summary.value
    }
    assert set(texts) == {"config", "genotype"}
    expected = {"config": config.to_dict(), "genotype": json.loads(genotypes.to_json(genotype))}
    for tag, parsed in expected.items():
        step, text = texts[tag]
        assert step == 7 and text.startswith("```json\n") and text.endswith("\n```")
        assert json.loads(text.removeprefix("```json").removesuffix("```")) == parsed


def test_selector_heatmap_is_an_rgba_image():
    probabilities = {
        key: np.full(shape, 1.0 / shape[-1])
        for key, shape in genotypes.darts_choice_shapes(3).items()
    }
    image = summaries.selector_heatmap(probabilities, genotypes.DARTS_OPS[:3])
    assert image.dtype == tf.uint8 and image.shape[0] == 1 and image.shape[-1] == 4
