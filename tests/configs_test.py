"""Every preset loads, has the keys its launcher reads, and accepts dotted overrides."""

import pathlib

import pytest
from absl import flags
from ml_collections import config_flags

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVAL_KEYS = {
    "network",
    "genotype",
    "init_channels",
    "layers",
    "auxiliary",
    "image_size",
    "num_classes",
}
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


def test_the_three_eval_presets_exist():
    assert EVAL_PRESETS == [
        "configs/eval/cifar10.py",
        "configs/eval/cifar100.py",
        "configs/eval/imagenet.py",
    ]


@pytest.mark.parametrize("preset", EVAL_PRESETS)
def test_eval_preset_has_the_documented_keys(preset):
    config = _parse(preset)
    assert EVAL_KEYS <= set(config.keys())
    assert "python -m launch." in (ROOT / preset).read_text()


def test_dotted_overrides_parse():
    config = _parse("configs/eval/cifar10.py", "--config.genotype=random:4", "--config.layers=8")
    assert (config.genotype, config.layers) == ("random:4", 8)


def test_unknown_key_is_rejected():
    with pytest.raises(AttributeError, match="no_such_key"):
        _parse("configs/eval/cifar10.py", "--config.no_such_key=1")


def test_imagenet_preset_is_the_papers_network():
    config = _parse("configs/eval/imagenet.py")
    assert (config.genotype, config.init_channels, config.layers) == ("UNAS_IMAGENET", 46, 14)
