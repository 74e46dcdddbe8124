"""launch.inspect and launch.latency on the ProxylessNAS space, run as a user runs them."""

import json

import pytest

from tests import testing

CONFIG = "--config=configs/eval/proxyless_imagenet.py"
# A tiny network: latency runs take seconds on a loaded 2-core CPU.
TINY = ("--config.width_multiplier=0.1", "--config.image_size=32", "--config.num_classes=10")


def test_inspect_reproduces_the_proxyless_gpu_size():
    result = testing.run_module(
        "launch.inspect", CONFIG, "--config.genotype=PROXYLESS_GPU", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    # ProxylessNAS-GPU: 7.1M parameters, 465M multiply-adds at 224x224.
    assert report["params"] == pytest.approx(7.1e6, rel=0.01)
    assert report["macs"] == pytest.approx(465e6, rel=0.02)
    layers = report["searchable_layers"]
    assert [layer["index"] for layer in layers] == list(range(1, 22))
    assert layers[1]["op"] == "mic_zero" and layers[-1]["output_shape"] == [7, 7, 432]


def test_inspect_prints_a_layer_table_and_draws_the_layers(tmp_path):
    drawing = tmp_path / "layers.png"
    result = testing.run_module(
        "launch.inspect", CONFIG, *TINY, "--config.genotype=random:2", f"--draw={drawing}"
    )
    assert result.returncode == 0, result.stderr
    assert "layer  op" in result.stdout and "params" in result.stdout
    assert f"architecture drawn to {drawing}" in result.stdout
    assert drawing.read_bytes().startswith(b"\x89PNG")


def test_latency_prints_median_and_interquartile_range():
    result = testing.run_module(
        "launch.latency",
        CONFIG,
        *TINY,
        "--config.genotype=UNAS_PROXYLESS",
        "--config.latency.batch_size=2",
        "--config.latency.repeats=5",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report["median_ms"] > 0 and report["iqr_ms"] >= 0
    assert report["batch_size"] == 2 and len(report["times_ms"]) == 5
    assert report["genotype"] == "UNAS_PROXYLESS" and not report["jit_compile"]


def test_latency_summary_line():
    result = testing.run_module("launch.latency", CONFIG, *TINY, "--config.latency.repeats=3")
    assert result.returncode == 0, result.stderr
    assert "ms per batch" in result.stdout and "interquartile range" in result.stdout


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("--config.latency.batch_size=0", "config.latency.batch_size"),
        ("--config.latency.repeats=-2", "config.latency.repeats"),
        ("--config.genotype=UNAS_CIFAR10", "config.genotype"),
        ("--config.genotype=random:x", "config.genotype"),
    ],
)
def test_latency_rejects_bad_settings(override, named):
    result = testing.run_module("launch.latency", CONFIG, *TINY, override)
    assert result.returncode != 0
    assert named in result.stderr
    assert result.stdout == ""
