"""Genotypes: JSON round-trips, validation messages, published architectures, choice encodings."""

import json
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from unas_tf import distributions, genotypes
from unas_tf.search_spaces import base as search_space_base
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.darts import pictures as darts_pictures
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

PACKAGED_PUBLISHED = pathlib.Path(genotypes.__file__).parent / "assets" / "published.json"
PUBLISHED_NAMES = (
    "UNAS_CIFAR10",
    "UNAS_CIFAR100",
    "UNAS_IMAGENET",
    "UNAS_PROXYLESS",
    "PROXYLESS_GPU",
)


def _published_data():
    return json.loads(PACKAGED_PUBLISHED.read_text())


def _darts_dict():
    return json.loads(genotypes.to_json(genotypes.load("UNAS_CIFAR10")))


def _proxyless_dict():
    return json.loads(genotypes.to_json(genotypes.load("UNAS_PROXYLESS")))


def test_constants_match_published_data():
    data = _published_data()
    assert darts_genotype.DARTS_OPS == tuple(data["darts_ops"])
    assert proxyless_genotype.PROXYLESS_OPS == tuple(data["proxyless_ops"])
    network = data["proxyless_network"]
    assert proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS == tuple(
        network["channel_change_layers"]
    )
    assert proxyless_genotype.NUM_PROXYLESS_LAYERS == network["searchable_layers"]


def test_published_names():
    assert genotypes.published_names() == PUBLISHED_NAMES


def test_published_facts():
    cifar10 = genotypes.load("UNAS_CIFAR10")
    assert isinstance(cifar10, darts_genotype.DartsGenotype)
    assert cifar10.ops == darts_genotype.DARTS_OPS
    assert cifar10.normal[0] == darts_genotype.Node(inputs=(0, 0), ops=(4, 0))
    assert cifar10.reduce[3] == darts_genotype.Node(inputs=(3, 1), ops=(4, 5))
    assert genotypes.load("UNAS_CIFAR100").reduce[0] == darts_genotype.Node((0, 0), (6, 1))
    proxyless = genotypes.load("UNAS_PROXYLESS")
    assert isinstance(proxyless, proxyless_genotype.ProxylessGenotype)
    names = [proxyless.ops[op] for op in proxyless.layers]
    assert names == _published_data()["proxyless"]["UNAS_PROXYLESS"]["layers"]
    assert names[0] == "mic_5x5_e3" and names[2] == "mic_zero"


@pytest.mark.parametrize("name", PUBLISHED_NAMES)
def test_json_round_trip(name):
    genotype = genotypes.load(name)
    text = genotypes.to_json(genotype)
    assert json.loads(text)["format_version"] == genotypes.FORMAT_VERSION
    assert genotypes.from_json(text) == genotype


@pytest.mark.parametrize("name", ["UNAS_IMAGENET", "PROXYLESS_GPU"])
def test_save_load_round_trip_leaves_no_temporary_files(tmp_path, name):
    genotype = genotypes.load(name)
    path = tmp_path / "genotype.json"
    genotypes.save(genotype, path)
    genotypes.save(genotype, path)  # Overwrites in place.
    assert genotypes.load(path) == genotype
    assert genotypes.load(str(path)) == genotype
    assert os.listdir(tmp_path) == ["genotype.json"]


def test_failed_save_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "genotype.json"
    genotypes.save(genotypes.load("UNAS_CIFAR10"), path)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        genotypes.save(genotypes.load("UNAS_CIFAR100"), path)
    assert genotypes.load(path) == genotypes.load("UNAS_CIFAR10")
    assert os.listdir(tmp_path) == ["genotype.json"]


def test_subset_op_list_round_trips():
    genotype = darts_genotype.random_darts(0, ops=darts_genotype.DARTS_OPS[:5])
    assert genotypes.from_json(genotypes.to_json(genotype)) == genotype
    assert max(op for node in genotype.normal + genotype.reduce for op in node.ops) < 5


def _set(path, value):
    """Returns a mutation of a genotype dict: `path` is a list of keys/indices."""

    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


DARTS_REJECTIONS = [
    (
        _set(["normal", 2, "inputs", 1], 5),
        r"normal\[2\]\.inputs\[1\]: input index 5 out of range \[0, 4\) for node 2",
    ),
    (_set(["reduce", 0, "inputs", 0], -1), r"reduce\[0\]\.inputs\[0\]: input index -1"),
    (_set(["normal", 1, "ops", 0], 7), r"normal\[1\]\.ops\[0\]: op index 7 out of range"),
    (_set(["ops", 3], "conv_9x9"), r"ops\[3\]: unknown op 'conv_9x9'; known ops: skip_connect"),
    (
        _set(["ops"], ["sep_conv_3x3", "skip_connect"]),
        r"ops: expected a non-empty prefix of \['skip_connect'",
    ),
    (_set(["ops"], []), r"ops: expected a non-empty prefix"),
    (_set(["ops"], "skip_connect"), r"ops: expected a list of op names"),
    (_delete(["normal", 3]), r"normal: expected 4 nodes, got 3"),
    (_set(["reduce"], {}), r"reduce: expected a list of nodes"),
    (_set(["format_version"], 2), r"format_version: unsupported 2"),
    (_set(["format_version"], "1"), r"format_version: unsupported '1'"),
    (_set(["space"], "foo"), r"space: unknown 'foo'; known spaces: darts, proxyless"),
    (_delete(["reduce"]), r"reduce: missing required key"),
    (_delete(["format_version"]), r"format_version: missing required key"),
    (_delete(["normal", 0, "ops"]), r"normal\[0\]\.ops: missing required key"),
    (_set(["normal", 0, "weights"], [1]), r"normal\[0\]\.weights: unexpected key"),
    (_set(["name"], "mine"), r"name: unexpected key"),
    (_set(["normal", 1], [0, 1]), r"normal\[1\]: expected a JSON object"),
    (_set(["normal", 1, "inputs"], [0]), r"normal\[1\]\.inputs: expected a list of 2 integers"),
    (_set(["normal", 1, "ops"], [0, "1"]), r"normal\[1\]\.ops: expected a list of 2 integers"),
    (_set(["normal", 1, "ops"], [0, 1.0]), r"normal\[1\]\.ops: expected a list of 2 integers"),
    (_set(["normal", 1, "ops"], [0, True]), r"normal\[1\]\.ops: expected a list of 2 integers"),
]


@pytest.mark.parametrize(("mutate", "message"), DARTS_REJECTIONS)
def test_darts_rejections_name_the_field(mutate, message):
    data = _darts_dict()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        genotypes.from_json(json.dumps(data))


PROXYLESS_REJECTIONS = [
    (
        _set(["layers", 4], "mic_zero"),
        r"layers\[4\]: layer 5 changes channels and cannot be 'mic_zero'",
    ),
    (_set(["layers", 0], "mic_zero"), r"layers\[0\]: layer 1 changes channels"),
    (_set(["layers", 20], "mic_zero"), r"layers\[20\]: layer 21 changes channels"),
    (_set(["layers", 3], "mic_9x9_e3"), r"layers\[3\]: unknown op 'mic_9x9_e3'; known ops:"),
    (_delete(["layers", 0]), r"layers: expected 21 layers, got 20"),
    (_set(["ops"], list(proxyless_genotype.PROXYLESS_OPS[:5])), r"ops: expected \['mic_zero'"),
    (_set(["ops", 2], "mic_1x1"), r"ops\[2\]: unknown op 'mic_1x1'"),
    (_delete(["layers"]), r"layers: missing required key"),
]


@pytest.mark.parametrize(("mutate", "message"), PROXYLESS_REJECTIONS)
def test_proxyless_rejections_name_the_field(mutate, message):
    data = _proxyless_dict()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        genotypes.from_json(json.dumps(data))


def test_proxyless_zero_on_channel_change_rejected_when_built_in_python():
    layers = list(genotypes.load("UNAS_PROXYLESS").layers)
    layers[8] = 0
    with pytest.raises(ValueError, match=r"layers\[8\]: layer 9 changes channels"):
        proxyless_genotype.ProxylessGenotype(ops=proxyless_genotype.PROXYLESS_OPS, layers=layers)
    with pytest.raises(ValueError, match=r"layers\[8\]: layer 9"):
        proxyless_genotype.proxyless_from_indices({"layers": np.array(layers)})


def test_invalid_node_built_in_python_names_the_field():
    cifar10 = genotypes.load("UNAS_CIFAR10")
    normal = list(cifar10.normal)
    normal[0] = darts_genotype.Node(inputs=[0, 2], ops=[4, 0])
    with pytest.raises(ValueError, match=r"normal\[0\]\.inputs\[1\]: input index 2"):
        darts_genotype.DartsGenotype(ops=cifar10.ops, normal=normal, reduce=cifar10.reduce)
    with pytest.raises(ValueError, match="argument `inputs`"):
        darts_genotype.Node(inputs=(0, 1, 2), ops=(0, 0))


def test_not_json_rejected():
    with pytest.raises(ValueError, match="not valid JSON"):
        genotypes.from_json("{")
    with pytest.raises(ValueError, match="top level"):
        genotypes.from_json("[]")


def test_expected_space_and_ops():
    text = genotypes.to_json(genotypes.load("UNAS_CIFAR10"))
    assert genotypes.from_json(text, expected_space="darts", expected_ops=darts_genotype.DARTS_OPS)
    with pytest.raises(ValueError, match="space: expected 'proxyless', got 'darts'"):
        genotypes.from_json(text, expected_space="proxyless")
    with pytest.raises(ValueError, match=r"ops: expected \['skip_connect'.*got"):
        genotypes.from_json(text, expected_ops=darts_genotype.DARTS_OPS[:5])
    with pytest.raises(ValueError, match="ops: expected"):
        genotypes.load("UNAS_CIFAR10", expected_ops=darts_genotype.DARTS_OPS[:5])
    with pytest.raises(ValueError, match="space: expected 'darts'"):
        genotypes.load("PROXYLESS_GPU", expected_space="darts")
    with pytest.raises(ValueError, match="argument `expected_space`"):
        genotypes.load("PROXYLESS_GPU", expected_space="nasnet")


def test_unknown_name_lists_path_and_known_names(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ValueError, match="no file exists") as raised:
        genotypes.load(missing)
    assert str(missing) in str(raised.value)
    for name in PUBLISHED_NAMES:
        assert name in str(raised.value)
    with pytest.raises(ValueError, match="UNAS_CIFAR10, UNAS_CIFAR100"):
        genotypes.load("UNAS_CIFAR11")


def test_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "genotype.json"
    path.write_text('{"format_version": 1, "space": "darts", "ops": [')
    with pytest.raises(ValueError, match="genotype.json") as raised:
        genotypes.load(path)
    assert str(path) in str(raised.value)
    data = _darts_dict()
    data["normal"][2]["inputs"][1] = 5
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"genotype\.json'?: normal\[2\]\.inputs\[1\]"):
        genotypes.load(path)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="genotype.json"):
        genotypes.load(path)


def test_darts_choice_shapes():
    shapes = darts_genotype.darts_choice_shapes(5)
    expected = {}
    for cell in ("normal", "reduce"):
        expected[f"{cell}/ops"] = (4, 2, 5)
        for n in range(4):
            expected[f"{cell}/inputs_{n}"] = (2, n + 2)
    assert list(shapes.items()) == list(expected.items())
    with pytest.raises(ValueError, match="argument `num_ops`"):
        darts_genotype.darts_choice_shapes(8)


def test_proxyless_choice_shapes():
    assert proxyless_genotype.proxyless_choice_shapes() == {"layers": (21, 7)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_darts_indices_one_hot_round_trip(seed):
    rng = np.random.default_rng(seed)
    shapes = darts_genotype.darts_choice_shapes(7)
    indices = {key: rng.integers(shape[-1], size=shape[:-1]) for key, shape in shapes.items()}
    genotype = darts_genotype.darts_from_indices(indices)
    one_hot = darts_genotype.darts_to_one_hot(genotype)
    assert {key: value.shape for key, value in one_hot.items()} == shapes
    for key, value in one_hot.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value.sum(axis=-1), 1.0)
        np.testing.assert_array_equal(value.argmax(axis=-1), indices[key])


def test_proxyless_indices_one_hot_round_trip():
    genotype = genotypes.load("PROXYLESS_GPU")
    one_hot = proxyless_genotype.proxyless_to_one_hot(genotype)
    assert one_hot["layers"].shape == (21, 7) and one_hot["layers"].dtype == np.float32
    assert (
        proxyless_genotype.proxyless_from_indices({"layers": one_hot["layers"].argmax(-1)})
        == genotype
    )


def test_mode_of_distribution_gives_genotype():
    genotype = genotypes.load("UNAS_CIFAR100")
    logits = {
        key: tf.constant(3.0 * value)
        for key, value in darts_genotype.darts_to_one_hot(genotype).items()
    }
    assert darts_genotype.darts_from_indices(distributions.mode(logits)) == genotype


def test_from_indices_rejects_bad_shapes():
    indices = {
        key: np.zeros(shape[:-1], np.int64)
        for key, shape in darts_genotype.darts_choice_shapes(7).items()
    }
    assert darts_genotype.darts_from_indices(indices).normal[0] == darts_genotype.Node(
        (0, 0), (0, 0)
    )
    bad = dict(indices, **{"reduce/inputs_2": np.zeros([3], np.int64)})
    with pytest.raises(ValueError, match=r"indices\['reduce/inputs_2'\]"):
        darts_genotype.darts_from_indices(bad)
    bad = dict(indices, **{"normal/ops": np.zeros([4, 2], np.float32)})
    with pytest.raises(ValueError, match="dtype float32"):
        darts_genotype.darts_from_indices(bad)
    del indices["normal/inputs_0"]
    with pytest.raises(ValueError, match="'normal/inputs_0'"):
        darts_genotype.darts_from_indices(indices)


def test_random_darts_is_valid_deterministic_and_varies():
    first = darts_genotype.random_darts(7)
    assert first == darts_genotype.random_darts(7)
    assert first != darts_genotype.random_darts(8)
    assert genotypes.from_json(genotypes.to_json(first)) == first
    # Across seeds every input and op choice shows up: the draw is over the whole space.
    draws = [darts_genotype.random_darts(seed) for seed in range(50)]
    assert {node.inputs[0] for draw in draws for node in draw.normal[3:]} == {0, 1, 2, 3, 4}
    assert {op for draw in draws for node in draw.reduce for op in node.ops} == set(range(7))


def test_random_proxyless_is_valid_deterministic_and_varies():
    first = proxyless_genotype.random_proxyless(7)
    assert first == proxyless_genotype.random_proxyless(7)
    assert first != proxyless_genotype.random_proxyless(8)
    draws = np.array([proxyless_genotype.random_proxyless(seed).layers for seed in range(100)])
    channel_change = np.array(proxyless_genotype.PROXYLESS_CHANNEL_CHANGE_LAYERS) - 1
    assert np.all(draws[:, channel_change] != 0)
    free = np.setdiff1d(np.arange(21), channel_change)
    assert set(draws[:, free].ravel()) == set(range(7))


def test_to_json_rejects_non_genotype():
    with pytest.raises(ValueError, match="argument `genotype`"):
        genotypes.to_json(_darts_dict())


def test_draw_darts_writes_png(tmp_path):
    path = tmp_path / "cells.png"
    darts_pictures.draw_darts(genotypes.load("UNAS_CIFAR10"), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="Expected a DartsGenotype"):
        darts_pictures.draw_darts(genotypes.load("PROXYLESS_GPU"), tmp_path / "x.png")


def _darts_with_normal_ops(ops):
    """UNAS_CIFAR10's reduction cell; a normal cell of the 2 * NUM_NODES ops `ops` in order."""
    base = genotypes.load("UNAS_CIFAR10")
    normal = tuple(
        darts_genotype.Node(node.inputs, (ops[2 * i], ops[2 * i + 1]))
        for i, node in enumerate(base.normal)
    )
    return darts_genotype.DartsGenotype(base.ops, normal, base.reduce)


def test_parameter_free_ops_and_the_collapse_warning():
    space = search_space_base.get("darts")
    skip, sep, max_pool, avg_pool = 0, 1, 2, 5
    four = _darts_with_normal_ops([skip, sep, max_pool, sep, avg_pool, sep, skip, sep])
    assert darts_genotype.parameter_free_ops(four) == 4
    assert space.search_warnings(four) == []  # half is not most
    five = _darts_with_normal_ops([skip, sep, max_pool, sep, avg_pool, sep, skip, skip])
    assert darts_genotype.parameter_free_ops(five) == 5
    (warning,) = space.search_warnings(five)
    assert warning.startswith("5 of the normal cell's 8 ops are parameter-free")
    # Only the normal cell counts: UNAS_CIFAR10's reduction cell has five skip / pool ops.
    assert darts_genotype.parameter_free_ops(genotypes.load("UNAS_CIFAR10")) == 2
