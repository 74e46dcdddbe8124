"""TensorBoard helpers: scalars read back as TensorBoard reads them, JSON texts (and a search
writing them), the DARTS heatmap."""

import json

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.util import tensor_util

from tests import search_space_test
from unas_tf import genotypes, search_run, summaries
from unas_tf.search_spaces import base
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import pictures as darts_pictures


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


def test_logged_scalars_read_files_in_creation_order_whatever_their_names(tmp_path):
    # A process's 9th and 10th writers in one second: by name, "...10.v2" sorts first.
    first, second = tmp_path / "first", tmp_path / "second"
    _write(first, 0, _scalars({1: 1.0, 2: 2.0}))
    _write(second, 0, _scalars({2: 5.0}))  # a resumed run rewrites step 2, later
    ((older,), (newer,)) = (list(first.iterdir()), list(second.iterdir()))
    older.rename(tmp_path / "events.out.tfevents.1800000000.host.7.9.v2")
    newer.rename(tmp_path / "events.out.tfevents.1800000000.host.7.10.v2")
    assert summaries.logged_scalars(tmp_path, "loss") == {1: 1.0, 2: 5.0}


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
        for key, shape in darts_genotype.darts_choice_shapes(3).items()
    }
    image = darts_pictures.selector_heatmap(probabilities, darts_genotype.DARTS_OPS[:3])
    assert image.dtype == tf.uint8 and image.shape[0] == 1 and image.shape[-1] == 4


@pytest.fixture
def chain_space():
    """search_space_test's toy space of 3 dense layers: a search of it builds in seconds."""
    base.register(search_space_test.ChainSpace)
    yield
    base.unregister(search_space_test.ChainSpace.name)


def test_a_search_writes_its_config_at_the_start_and_its_genotype_each_epoch(chain_space, tmp_path):
    config = search_space_test.chain_search_config(steps_per_epoch=2, log_every=2)
    found = search_run.run_search(config, tmp_path)
    texts = {}
    for event in summaries.read_events(tmp_path / "tensorboard"):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "text":
                text = tensor_util.make_ndarray(value.tensor).item().decode()
                texts.setdefault(value.tag, {})[event.step] = text
    assert set(texts) == {"config", "genotype"}
    assert list(texts["config"]) == [0] and list(texts["genotype"]) == [0, 2, 4]
    assert json.loads(texts["config"][0].strip("`").removeprefix("json")) == json.loads(
        config.to_json()
    )
    assert texts["genotype"][4] == f"```json\n{genotypes.to_json(found).strip()}\n```"
