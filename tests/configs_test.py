"""Every preset loads, has the keys its launcher reads, and accepts dotted overrides."""

import pathlib

import pytest
from absl import flags
from ml_collections import config_flags

from unas_tf import loop, retraining

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVAL_KEYS = {"network", "genotype", "image_size", "num_classes"}
# The keys only the DARTS space reads: DARTS presets have them, ProxylessNAS presets do not.
DARTS_EVAL_KEYS = {"init_channels", "layers", "auxiliary", "random_ops"}
DARTS_SEARCH_KEYS = {"layers", "init_channels", "num_ops", "stem"}
SEARCH_KEYS = {
    "epochs",
    "warmup_epochs",
    "steps_per_epoch",
    "batch_size",
    "seed",
    "deterministic",
    "estimator",
    "objective",
    "gap_form",
    "weight_sample",
    "weight_decay",
    "arch_weight_decay",
    "space",
    "image_size",
}
SEARCH_PRESETS = sorted(
    str(path.relative_to(ROOT))
    for path in (ROOT / "configs" / "search").glob("*.py")
    if path.stem not in ("__init__", "common")
)
EVAL_PRESETS = sorted(
    str(path.relative_to(ROOT))
    for path in (ROOT / "configs" / "eval").glob("*.py")
    if path.stem not in ("__init__", "common")
)


def _parse(preset, *overrides):
    """Loads `preset` the way a launcher does, through --config and --config.KEY=VALUE flags."""
    argv = ["prog", f"--config={ROOT / preset}", *overrides]
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", flag_values=flag_values, sys_argv=argv)
    flag_values(argv)
    return flag_values.config


def test_the_eval_presets_exist():
    assert {
        "configs/eval/cifar10.py",
        "configs/eval/cifar100.py",
        "configs/eval/digits.py",
        "configs/eval/imagenet.py",
    } <= set(EVAL_PRESETS)


@pytest.mark.parametrize("preset", EVAL_PRESETS)
def test_eval_preset_has_the_documented_keys(preset):
    config = _parse(preset)
    assert EVAL_KEYS <= set(config.keys())
    if config.network == "proxyless":
        assert not DARTS_EVAL_KEYS & set(config.keys())
    else:
        assert DARTS_EVAL_KEYS <= set(config.keys())
    assert "python -m launch." in (ROOT / preset).read_text()


TRAINING_KEYS = {
    "dataset",
    "batch_size",
    "epochs",
    "steps_per_epoch",
    "lr",
    "momentum",
    "weight_decay",
    "grad_clip_norm",
    "auxiliary_weight",
    "drop_path_rate",
    "cutout",
    "label_smoothing",
    "warmup_epochs",
    "seed",
    "deterministic",
    "log_every",
    "data_dir",
}


@pytest.mark.parametrize("preset", EVAL_PRESETS)
def test_eval_preset_has_valid_training_keys(preset):
    config = _parse(preset)
    assert TRAINING_KEYS <= set(config.keys())
    retraining.validate(config)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        # UNAS App. B.1: CIFAR-10 and CIFAR-100 differ only in their drop-path rate.
        ("configs/eval/cifar10.py", ("cifar10", 128, 600, 0.05, 3e-4, 0.2, 16, 0.0, 0)),
        ("configs/eval/cifar100.py", ("cifar100", 128, 600, 0.05, 3e-4, 0.3, 16, 0.0, 0)),
        # App. B.2: lr 0.1 per 128 images, 5 warm-up epochs (label smoothing 0.1: DARTS's).
        ("configs/eval/imagenet.py", ("imagenet2012", 128, 250, 0.1, 3e-5, 0.0, 0, 0.1, 5)),
    ],
)
def test_training_presets_follow_the_paper(preset, expected):
    config = _parse(preset)
    keys = (
        "dataset",
        "batch_size",
        "epochs",
        "lr",
        "weight_decay",
        "drop_path_rate",
        "cutout",
        "label_smoothing",
        "warmup_epochs",
    )
    assert tuple(config[key] for key in keys) == expected
    assert (config.momentum, config.grad_clip_norm, config.auxiliary_weight) == (0.9, 5.0, 0.4)
    assert "python -m launch.train" in (ROOT / preset).read_text()


def test_dotted_overrides_parse():
    config = _parse("configs/eval/cifar10.py", "--config.genotype=random:4", "--config.layers=8")
    assert (config.genotype, config.layers) == ("random:4", 8)


def test_unknown_key_is_rejected():
    with pytest.raises(AttributeError, match="no_such_key"):
        _parse("configs/eval/cifar10.py", "--config.no_such_key=1")


def test_imagenet_preset_is_the_papers_network():
    config = _parse("configs/eval/imagenet.py")
    assert (config.genotype, config.init_channels, config.layers) == ("UNAS_IMAGENET", 46, 14)


def test_the_search_presets_exist():
    assert [pathlib.Path(p).stem for p in SEARCH_PRESETS] == [
        "cifar10",
        "cifar100",
        "digits",
        "imagenet",
        "proxyless_digits",
        "proxyless_imagenet",
    ]


def test_an_unknown_gap_form_is_refused_naming_the_key():
    config = _parse("configs/search/cifar10.py", "--config.gap_form=median")
    with pytest.raises(ValueError, match="config.gap_form.*median"):
        loop.validate(config)


def test_an_unknown_weight_sample_is_refused_naming_the_key():
    config = _parse("configs/search/cifar10.py", "--config.weight_sample=gumbel")
    with pytest.raises(ValueError, match="config.weight_sample.*gumbel"):
        loop.validate(config)


@pytest.mark.parametrize("preset", SEARCH_PRESETS)
def test_search_preset_has_the_documented_keys_and_valid_values(preset):
    config = _parse(preset)
    assert SEARCH_KEYS <= set(config.keys())
    if config.space == "darts":
        assert DARTS_SEARCH_KEYS <= set(config.keys())
    else:
        assert not DARTS_SEARCH_KEYS & set(config.keys())
    loop.validate(config)
    assert "python -m launch.search" in (ROOT / preset).read_text()
