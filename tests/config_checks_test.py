"""Every config key checked before any work: a table of bad values and the key each names."""

import pathlib
import runpy

import pytest
import tensorflow as tf

from launch import common
from unas_tf import config_checks, retrain_run, search_run
from unas_tf.datasets import base as dataset_base
from unas_tf.latency import backends, measure, measuring_process, search_term
from unas_tf.search_spaces import base as search_space_base

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEARCH_PRESETS = (
    "digits",
    "digits_latency",
    "cifar10",
    "cifar100",
    "imagenet",
    "proxyless_digits",
    "proxyless_imagenet",
)
EVAL_PRESETS = ("digits", "cifar10", "cifar100", "imagenet", "proxyless_imagenet")
LATENCY_RULES = {
    **search_term.RULES,
    **backends.RULES,
    **measure.METER_RULES,
    **measuring_process.PROCESS_RULES,
}


def _preset(kind, name, **overrides):
    config = runpy.run_path(str(ROOT / "configs" / kind / f"{name}.py"))["get_config"]()
    for key, value in overrides.items():
        section, _, leaf = key.rpartition(".")
        holder = config[section] if section else config
        with holder.ignore_type():  # as a Python caller may set any type
            holder[leaf] = value
    return config


def _leaf_keys(config, prefix=""):
    for key, value in config.items():
        if hasattr(value, "items"):
            yield from _leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@pytest.mark.parametrize("name", SEARCH_PRESETS)
def test_every_key_of_every_search_preset_has_a_rule(name):
    config = _preset("search", name)
    space = search_space_base.of_config(config)
    ruled = {*search_run._rules(), *space.search_rules}
    if "latency" in config:
        ruled |= {f"latency.{key}" for key in LATENCY_RULES}
    assert set(_leaf_keys(config)) <= ruled, set(_leaf_keys(config)) - ruled


@pytest.mark.parametrize("name", EVAL_PRESETS)
def test_every_key_of_every_eval_preset_has_a_rule(name):
    config = _preset("eval", name)
    space = search_space_base.for_network(config.network)
    ruled = {*retrain_run._rules(), *space.network_rules}
    ruled |= {f"latency.{key}" for key in {**measure.METER_RULES}}
    assert set(_leaf_keys(config)) <= ruled, set(_leaf_keys(config)) - ruled


# (overrides, the message's start): each case of the issue and one of each kind of rule.
SEARCH_CASES = [
    ({"weight_lr": 0.0}, "config.weight_lr: expected a finite number > 0, got 0.0"),
    ({"arch_lr": 0.0}, "config.arch_lr: expected a finite number > 0, got 0.0"),
    ({"weight_lr": -0.01}, "config.weight_lr: expected a finite number > 0, got -0.01"),
    ({"temperature": float("inf")}, "config.temperature: expected a finite number > 0, got inf"),
    ({"arch_lr_final": float("nan")}, "config.arch_lr_final: expected a finite number >= 0"),
    ({"grad_clip_norm": 0.0}, "config.grad_clip_norm: expected a finite number > 0"),
    (
        {"batch_size": 100000, "steps_per_epoch": 0},
        "config.batch_size: expected at most 1294 (the search-train examples of digits)",
    ),
    ({"image_size": 100000}, "config.image_size: 100000 needs at least"),
    (
        {"eval_batches": 1000000},
        "config.eval_batches: expected at most 5 (one pass over the 144 search-val examples",
    ),
    ({"seed": -1}, "config.seed: expected an integer >= 0, got -1"),
    ({"deterministic": "yes"}, "config.deterministic: expected True or False, got 'yes'"),
    ({"epochs": 2.5}, "config.epochs: expected a positive integer, got 2.5"),
    ({"objective": "loss"}, "config.objective: expected one of ['train', 'val', 'gen']"),
    ({"num_ops": 8}, "config.num_ops: expected 1..7, got 8"),
    ({"stem": "mnist"}, "config.stem: expected one of ['cifar', 'imagenet']"),
]


@pytest.mark.parametrize(("overrides", "message"), SEARCH_CASES)
def test_a_bad_search_value_is_named_before_any_work(overrides, message):
    with pytest.raises(ValueError) as raised:
        search_run.validate(_preset("search", "digits", **overrides))
    assert str(raised.value).startswith(message), raised.value


LATENCY_CASES = [
    ({"latency.target_ms": float("inf")}, "config.latency.target_ms: expected a finite number >="),
    (
        {"latency.target_ms": 20.0},
        "config.latency.target_ms, config.latency.target_quantile: expected one of them set",
    ),
    ({"latency.target_quantile": 0.0}, "config.latency.target_ms: expected a latency > 0"),
    ({"latency.target_quantile": 1.0}, "config.latency.target_quantile: expected a number in"),
    ({"latency.ramp_steps": -1}, "config.latency.ramp_steps: expected an integer >= 0"),
    ({"latency.weight": -1.0}, "config.latency.weight: expected a finite number >= 0"),
    ({"latency.holdout_fraction": 1.0}, "config.latency.holdout_fraction: expected a number in"),
    ({"latency.jit_compile": 1}, "config.latency.jit_compile: expected True or False, got 1"),
    ({"latency.repeats": 0}, "config.latency.repeats: expected a positive integer, got 0"),
    ({"latency.image_size": -8}, "config.latency.image_size: expected an integer >= 0"),
    ({"latency.refit_every_epoch": "no"}, "config.latency.refit_every_epoch: expected True or"),
    ({"width_multiplier": float("inf")}, "config.width_multiplier: expected a finite number > 0"),
    ({"zero_init_residual": None}, "config.zero_init_residual: expected True or False"),
]


@pytest.mark.parametrize(("overrides", "message"), LATENCY_CASES)
def test_a_bad_latency_search_value_is_named_before_any_work(overrides, message):
    with pytest.raises(ValueError) as raised:
        search_run.validate(_preset("search", "proxyless_digits", **overrides))
    assert str(raised.value).startswith(message), raised.value


TRAINING_CASES = [
    ({"lr": 0.0}, "config.lr: expected a finite number > 0, got 0.0"),
    ({"lr": float("inf")}, "config.lr: expected a finite number > 0, got inf"),
    ({"momentum": 1.0}, "config.momentum: expected a number in [0, 1), got 1.0"),
    ({"weight_decay": -1e-4}, "config.weight_decay: expected a finite number >= 0"),
    (
        {"batch_size": 100000},
        "config.batch_size: expected at most 1294 (the training examples of digits retraining",
    ),
    ({"image_size": 100000}, "config.image_size: 100000 needs at least"),
    ({"validation_fraction": 0.0001}, "config.validation_fraction: expected a fraction holding"),
    ({"export": "no"}, "config.export: expected True or False, got 'no'"),
    ({"random_ops": 9}, "config.random_ops: expected 0 (all) .. 7, got 9"),
    ({"cutout": -1}, "config.cutout: expected an integer >= 0 (0 = none), got -1"),
]


@pytest.mark.parametrize(("overrides", "message"), TRAINING_CASES)
def test_a_bad_training_value_is_named_before_any_work(overrides, message):
    with pytest.raises(ValueError) as raised:
        retrain_run.validate(_preset("eval", "digits", **overrides))
    assert str(raised.value).startswith(message), raised.value


def test_the_presets_pass_their_checks():
    for name in ("digits", "digits_latency", "proxyless_digits"):
        search_run.validate(_preset("search", name))
    for name in ("digits", "proxyless_imagenet"):
        retrain_run.validate(_preset("eval", name))


def test_split_sizes_of_digits_without_loading_images():
    assert dataset_base.get("digits").split_sizes(image_size=8) == dataset_base.SplitSizes(
        train=1438, test=359
    )
    assert dataset_base.held_out_examples(1438, dataset_base.DEFAULT_VAL_FRACTION) == 144


def test_memory_bound_names_the_image_size_or_the_batch():
    gigabyte = 10**9
    config_checks.check_images_fit_memory(32, 224, available=gigabyte)  # 19 MB
    with pytest.raises(ValueError, match=r"^config.image_size: 20000 needs at least 4.8 GB"):
        config_checks.check_images_fit_memory(1, 20000, available=gigabyte)
    with pytest.raises(ValueError, match=r"^config.batch_size: 10000 needs at least 6.02 GB"):
        config_checks.check_images_fit_memory(10000, 224, available=gigabyte)


def test_running_out_of_memory_in_a_launcher_is_one_line(capsys):
    with pytest.raises(SystemExit) as raised:
        with common.one_line_errors():
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor\nmore")
    message = str(raised.value.code)
    assert "out of memory (OOM when allocating tensor); lower config.batch_size" in message
    assert "\n" not in message
