"""Every preset loads, has the keys its launcher reads, and accepts dotted overrides."""

import pathlib

import pytest
from absl import flags
from ml_collections import config_flags

from configs.search import common
from unas_tf import retrain_run, search_run, study, study_trial

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
    "lr_reference_batch_size",
    "scale_lr",
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
    retrain_run.validate(config)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        # UNAS App. B.1: CIFAR-10 and CIFAR-100 differ only in their drop-path rate; 30
        # warm-up epochs as the released commands.sh.
        ("configs/eval/cifar10.py", ("cifar10", 128, 600, 0.05, 3e-4, 0.2, 16, 0.0, 30)),
        ("configs/eval/cifar100.py", ("cifar100", 128, 600, 0.05, 3e-4, 0.3, 16, 0.0, 30)),
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
        "digits_latency",
        "imagenet",
        "proxyless_digits",
        "proxyless_imagenet",
    ]


def test_an_unknown_gap_form_is_refused_naming_the_key():
    config = _parse("configs/search/cifar10.py", "--config.gap_form=median")
    with pytest.raises(ValueError, match="config.gap_form.*median"):
        search_run.validate(config)


def test_an_unknown_weight_sample_is_refused_naming_the_key():
    config = _parse("configs/search/cifar10.py", "--config.weight_sample=gumbel")
    with pytest.raises(ValueError, match="config.weight_sample.*gumbel"):
        search_run.validate(config)


@pytest.mark.parametrize("preset", SEARCH_PRESETS)
def test_search_preset_has_the_documented_keys_and_valid_values(preset):
    config = _parse(preset)
    assert SEARCH_KEYS <= set(config.keys())
    if config.space == "darts":
        assert DARTS_SEARCH_KEYS <= set(config.keys())
    else:
        assert not DARTS_SEARCH_KEYS & set(config.keys())
    search_run.validate(config)
    assert "python -m launch.search" in (ROOT / preset).read_text()


def _schedule_ends(config, total_steps=100, search_steps=40):
    """(w at step 0, w at the last step, phi at step 0, phi at its last step) of `config`."""
    weight, arch = search_run.learning_rate_schedules(config, total_steps, search_steps)
    return tuple(
        float(rate) for rate in (weight(0), weight(total_steps), arch(0), arch(search_steps))
    )


@pytest.mark.parametrize("preset", ["configs/search/cifar10.py", "configs/search/cifar100.py"])
@pytest.mark.parametrize("scale_lr", [False, True])
def test_cifar_presets_search_at_app_a2s_batch_and_rates(preset, scale_lr):
    config = _parse(preset, f"--config.scale_lr={scale_lr}")
    # App. A.2: batch 124; w 6e-4 -> 1e-4, phi 2e-3 -> 3e-4 (scale_lr at the preset's own batch
    # leaves them be).
    assert (config.batch_size, config.lr_reference_batch_size) == (124, 124)
    assert _schedule_ends(config) == pytest.approx((6e-4, 1e-4, 2e-3, 3e-4), rel=1e-6)


@pytest.mark.parametrize(("batch_size", "factor"), [(248, 2.0), (62, 0.5)])
def test_scale_lr_scales_the_whole_schedule_by_the_batch_ratio(batch_size, factor):
    config = _parse(
        "configs/search/cifar10.py", f"--config.batch_size={batch_size}", "--config.scale_lr=True"
    )
    search_run.validate(config)
    expected = tuple(factor * rate for rate in (6e-4, 1e-4, 2e-3, 3e-4))
    assert _schedule_ends(config) == pytest.approx(expected, rel=1e-6)


def test_without_scale_lr_another_batch_keeps_the_rates():
    config = _parse("configs/search/cifar10.py", "--config.batch_size=128")
    search_run.validate(config)
    assert _schedule_ends(config) == pytest.approx((6e-4, 1e-4, 2e-3, 3e-4), rel=1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["--config.lr_reference_batch_size=0"],
            "config.lr_reference_batch_size: expected a positive",
        ),
        (
            ["--config.scale_lr=True", "--config.batch_size=128"],
            r"config.batch_size: with config.scale_lr, expected a multiple or a divisor of "
            r"config.lr_reference_batch_size=124 .*whole multiples.*got 128",
        ),
    ],
)
def test_bad_learning_rate_scaling_is_refused_naming_the_key(overrides, message):
    config = _parse("configs/search/cifar10.py", *overrides)
    with pytest.raises(ValueError, match=message):
        search_run.validate(config)


@pytest.mark.parametrize("preset", SEARCH_PRESETS)
def test_each_search_presets_rates_are_set_for_its_own_batch(preset):
    config = _parse(preset)
    assert config.lr_reference_batch_size == config.batch_size
    assert not config.scale_lr


@pytest.mark.parametrize(
    ("preset", "rates"),
    [
        # The released commands (8 GPUs x 24, --same_alpha_minibatch, no --scale_lr) and
        # train_search.py defaults: cosine w 3e-4 -> 1e-4, phi 1e-3 -> 3e-4, L2 3e-4 and 1e-6.
        ("configs/search/imagenet.py", (3e-4, 1e-4, 1e-3, 3e-4)),
        ("configs/search/proxyless_imagenet.py", (3e-4, 1e-4, 1e-3, 3e-4)),
    ],
)
def test_imagenet_presets_follow_the_released_code(preset, rates):
    config = _parse(preset)
    assert (config.batch_size, config.sampling) == (192, "per_batch")
    assert (config.weight_decay, config.arch_weight_decay) == (3e-4, 1e-6)
    assert _schedule_ends(config) == pytest.approx(rates, rel=1e-6)


def test_proxyless_defaults_decay_as_the_released_code():
    config = common.proxyless_search_config()
    assert (config.weight_decay, config.arch_weight_decay) == (3e-4, 1e-6)


STUDY_PRESETS = sorted(
    str(path.relative_to(ROOT))
    for path in (ROOT / "configs" / "study").glob("*.py")
    if path.stem not in ("__init__", "common")
)


def test_the_study_presets_exist():
    assert {"cifar10", "digits", "digits_recipe", "proxyless_pareto", "smoke"} <= {
        pathlib.Path(p).stem for p in STUDY_PRESETS
    }


@pytest.mark.parametrize("preset", STUDY_PRESETS)
def test_study_preset_is_valid_and_gives_its_command(preset):
    config = _parse(preset, "--config.search.epochs=20", "--config.seeds=(0,1)")
    assert (config.search.epochs, config.seeds) == (20, (0, 1))
    study_trial.validate(config)  # the grid, and every trial's search and retraining config
    assert "python -m launch.study" in (ROOT / preset).read_text()


@pytest.mark.parametrize(
    ("preset", "soften_eps", "augment"),
    [
        # The released code: --gsm_soften_eps 0.08 for ImageNet (commands.sh) and as the
        # ProxylessNAS search's default, 0 for the CIFAR searches; util/datasets.py augments
        # both CIFAR search splits and centre-crops both ImageNet ones.
        ("configs/search/cifar10.py", 0.0, "both"),
        ("configs/search/digits.py", 0.0, "both"),
        ("configs/search/imagenet.py", 0.08, "none"),
        ("configs/search/proxyless_imagenet.py", 0.08, "none"),
        ("configs/search/proxyless_digits.py", 0.08, "both"),
    ],
)
def test_search_presets_take_the_released_codes_defaults(preset, soften_eps, augment):
    config = _parse(preset)
    assert (config.gsm_soften_eps, config.search_augment) == (soften_eps, augment)
    assert config.baseline_momentum == 0.1  # util/utils.py: 0.1 old + 0.9 new
    assert config.reset_weight_optimizer_after_warmup  # a new Adam after the warm-up


def test_the_imagenet_search_is_as_wide_as_the_released_network():
    # darts/model_search.py: the ImageNet stem makes 3 * 16 = 48 channels, cells start there.
    config = _parse("configs/search/imagenet.py")
    assert (config.init_channels, config.stem, config.layers, config.num_ops) == (
        48,
        "imagenet",
        14,
        5,
    )


def test_proxyless_retraining_smooths_labels_as_the_released_code():
    assert _parse("configs/eval/proxyless_imagenet.py").label_smoothing == 0.1


def test_the_pareto_study_sweeps_the_latency_weight_over_seeds_on_digits():
    config = _parse("configs/study/proxyless_pareto.py")
    searching = [trial for trial in study.trials(config) if trial.searches]
    weights = {dict(trial.point)["latency.weight"] for trial in searching}
    assert len(weights) >= 3 and len(config.seeds) >= 2
    assert len(searching) == len(weights) * len(config.seeds)
    assert (config.search.space, config.search.dataset, config.eval.dataset) == (
        "proxyless",
        "digits",
        "digits",
    )
    assert (config.eval.network, config.eval.width_multiplier) == (
        "proxyless",
        config.search.width_multiplier,
    )
    assert all(study_trial.measures_latency(config, trial) for trial in study.trials(config))
    # The nested axis is overridden as any key.
    config = _parse(
        "configs/study/proxyless_pareto.py", "--config.grids.pareto.latency.weight=(0.0, 2.0)"
    )
    assert [trial.name for trial in study.trials(config)][:2] == [
        "latency.weight=0.0,seed=0",
        "latency.weight=0.0,seed=1",
    ]
    assert study.search_config(config, study.trials(config)[2]).latency.weight == 2.0
