"""Retraining: loss and schedules in closed form, one step == its maths == two replicas, resume,
the held-out curve and TensorBoard texts, bad input, and launch.train end to end."""

import json
import logging
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs.eval import cifar10 as cifar10_preset
from configs.eval import digits as digits_preset
from tests import testing
from unas_tf import genotypes, retrain_run, retrain_step, runs, summaries
from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import pipeline
from unas_tf.search_spaces.darts import genotype as darts_genotype
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _tiny_config(**overrides):
    """The digits preset shrunk to 8x8 images, 3 cells of C=4, 2 epochs of 3 steps of 8."""
    config = digits_preset.get_config()
    config.update(
        dict(
            image_size=8,
            init_channels=4,
            layers=3,
            auxiliary=False,  # the auxiliary head needs 32x32 images (8x8 after two reductions)
            batch_size=8,
            epochs=2,
            steps_per_epoch=3,
            log_every=1,
            drop_path_rate=0.2,
        )
    )
    config.update(overrides)
    return config


# The loss and the step in closed form.


def _cross_entropy(labels, logits):
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def test_smoothed_cross_entropy():
    logits = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    labels = np.array([0, 4, 2, 2])
    np.testing.assert_allclose(
        retrain_step.smoothed_cross_entropy(labels, logits, 0.0),
        _cross_entropy(labels, logits),
        1e-5,
    )
    # Fully smoothed towards uniform targets on uniform logits: log K.
    np.testing.assert_allclose(
        retrain_step.smoothed_cross_entropy(labels, np.zeros((4, 5), "float32"), 0.5),
        np.log(5),
        1e-6,
    )
    # eps = 0.1: (1 - eps) CE(label) + eps * mean over classes of CE(class).
    all_classes = np.stack([_cross_entropy(np.full(4, k), logits) for k in range(5)], -1)
    expected = 0.9 * _cross_entropy(labels, logits) + 0.1 * all_classes.mean(-1)
    np.testing.assert_allclose(
        retrain_step.smoothed_cross_entropy(labels, logits, 0.1), expected, 1e-5
    )


def _dense_model(inputs=4, classes=3, auxiliary=True, seed=0):
    """A linear stand-in for the network: features -> {"logits"[, "aux_logits"]}."""
    features = keras.Input((inputs,))
    heads = {"logits": "classifier", "aux_logits": "aux"} if auxiliary else {"logits": "classifier"}
    outputs = {
        output: keras.layers.Dense(
            classes, kernel_initializer=keras.initializers.RandomNormal(seed=seed + i), name=name
        )(features)
        for i, (output, name) in enumerate(heads.items())
    }
    return keras.Model(features, outputs)


def _head_weights(model):
    """[classifier kernel, bias, auxiliary kernel, bias] as NumPy arrays."""
    layers = [model.get_layer("classifier"), model.get_layer("aux")]
    return [weight.numpy() for layer in layers for weight in (layer.kernel, layer.bias)]


def _batch(size=8, inputs=4, classes=3):
    rng = np.random.default_rng(1)
    return {
        "image": rng.normal(size=(size, inputs)).astype("float32"),
        "label": rng.integers(0, classes, size).astype("int32"),
    }


def test_loss_adds_the_weighted_auxiliary_loss():
    model, batch = _dense_model(), _batch()
    settings = retrain_step.TrainSettings(global_batch_size=8, auxiliary_weight=0.4)
    trainer = retrain_step.RetrainTrainer(model, keras.optimizers.SGD(), settings)
    per_example, logits = trainer.loss(batch)
    outputs = model(batch["image"])
    expected = _cross_entropy(batch["label"], outputs["logits"].numpy()) + 0.4 * _cross_entropy(
        batch["label"], outputs["aux_logits"].numpy()
    )
    np.testing.assert_allclose(per_example, expected, rtol=1e-5)
    np.testing.assert_allclose(logits, outputs["logits"])


def _one_step(strategy, settings, batch):
    """Weights of the dense stand-in after one SGD step (lr 1, no momentum) under `strategy`."""
    with strategy.scope():
        model = _dense_model()
        optimizer = keras.optimizers.SGD(learning_rate=1.0)
        optimizer.build(model.trainable_weights)
        trainer = retrain_step.RetrainTrainer(model, optimizer, settings, strategy)
    initial = _head_weights(model)
    metrics = tf.function(trainer.train_step)(batch)
    return initial, _head_weights(model), metrics


def _expected_step(weights, batch, settings):
    """SGD(lr=1) on clip(grad of the mean loss) + weight_decay * w, in NumPy."""
    kernel, bias, aux_kernel, aux_bias = weights
    x, labels = batch["image"], batch["label"]
    gradients = []
    for head_kernel, head_bias, weight in (
        (kernel, bias, 1.0),
        (aux_kernel, aux_bias, settings.auxiliary_weight),
    ):
        logits = x @ head_kernel + head_bias
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        d_logits = weight * (probs - np.eye(3)[labels]) / settings.global_batch_size
        gradients += [x.T @ d_logits, d_logits.sum(0)]
    norm = np.sqrt(sum((g**2).sum() for g in gradients))
    scale = min(1.0, settings.grad_clip_norm / norm)
    return [
        w - (g * scale + settings.weight_decay * w) for w, g in zip(weights, gradients, strict=True)
    ], norm


SETTINGS = retrain_step.TrainSettings(
    global_batch_size=8, auxiliary_weight=0.4, weight_decay=0.1, grad_clip_norm=0.05
)


def test_step_clips_the_loss_gradient_then_adds_weight_decay():
    batch = _batch()
    initial, updated, metrics = _one_step(tf.distribute.get_strategy(), SETTINGS, batch)
    expected, norm = _expected_step(initial, batch, SETTINGS)
    assert norm > SETTINGS.grad_clip_norm  # clipping is active
    np.testing.assert_allclose(metrics["grad_norm"], norm, rtol=1e-5)
    for actual, want in zip(updated, expected, strict=True):
        np.testing.assert_allclose(actual, want, rtol=1e-5, atol=1e-6)


def test_two_replicas_take_the_step_of_one_device():
    # Clipping needs the norm of the global gradient: per-replica clipping would differ.
    batch = _batch()
    _, single, _ = _one_step(tf.distribute.get_strategy(), SETTINGS, batch)
    _, mirrored, metrics = _one_step(testing.two_cpu_strategy(), SETTINGS, batch)
    for actual, want in zip(mirrored, single, strict=True):
        np.testing.assert_allclose(actual, want, rtol=1e-5, atol=1e-6)
    assert float(metrics["grad_norm"]) > SETTINGS.grad_clip_norm


def test_learning_rate_warms_up_linearly_then_decays_to_zero():
    schedule = retrain_run.learning_rate_schedule(0.8, total_steps=110, warmup_steps=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 60, 110)]
    np.testing.assert_allclose(rates, [0.0, 0.4, 0.8, 0.4, 0.0], atol=1e-6)
    no_warmup = retrain_run.learning_rate_schedule(0.05, total_steps=100, warmup_steps=0)
    np.testing.assert_allclose([float(no_warmup(s)) for s in (0, 50, 100)], [0.05, 0.025, 0.0])


def test_drop_path_rate_ramps_linearly_per_epoch():
    rates = [retrain_run.drop_path_rate(0.2, epoch, 4) for epoch in range(4)]
    assert rates == pytest.approx([0, 0.05, 0.1, 0.15])


# Cutout (DARTS's, UNAS App. B.1), added to the retraining pipeline.


def test_cutout_zeroes_one_clipped_square_per_image():
    ones = tf.ones([32, 32, 3])
    areas = set()
    for seed in range(20):
        kept = pipeline.cutout(ones, tf.constant([seed, 0], tf.int64), 16).numpy()[..., 0]
        rows, columns = np.nonzero(kept == 0)
        assert rows.max() - rows.min() < 16 and columns.max() - columns.min() < 16
        # The zeros form one axis-aligned rectangle, the square clipped at the borders.
        height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
        assert len(rows) == height * width
        areas.add(height * width)
    assert 256 in areas and min(areas) < 256  # whole squares, and squares cut by the border


def test_retraining_pipeline_applies_cutout_after_the_other_augmentation():
    def first_batch(cutout):
        pipeline = dataset_base.eval_data("digits", 16, 16, seed=0, cutout=cutout)
        return next(iter(pipeline.train))["image"].numpy()

    plain, cut = first_batch(0), first_batch(6)
    changed = plain != cut
    assert changed.any()
    np.testing.assert_array_equal(cut[changed], 0.0)  # only zeroed pixels differ
    np.testing.assert_array_equal(first_batch(6), cut)  # seeded
    with pytest.raises(ValueError, match="cutout"):
        dataset_base.eval_data("imagenet2012", 8, 16, seed=0, cutout=16)


# The held-out part of the training split (config.validation_fraction).


def _examples(batches, count):
    """The first `count` examples of `batches` as a sorted list of (label, image bytes)."""
    examples = []
    for batch in batches:
        labels, images = batch["label"].numpy().tolist(), batch["image"].numpy()
        examples += zip(labels, map(bytes, images), strict=True)
        if len(examples) >= count:
            break
    return sorted(examples[:count])


def test_the_held_out_part_is_the_searchs_val_and_left_out_of_retraining():
    whole = dataset_base.eval_data("digits", 8, 8, seed=3, augment=False)
    held = dataset_base.eval_data("digits", 8, 8, seed=3, augment=False, val_fraction=0.1)
    assert whole.val is None and whole.val_examples == 0
    assert held.val_examples == round(0.1 * whole.train_examples) == 144
    assert held.train_examples + held.val_examples == whole.train_examples
    assert held.steps_per_epoch == held.train_examples // 8
    # An epoch of the training stream is a permutation of its examples: together with the
    # held-out pass they make up the whole training part exactly once, so the two are disjoint.
    train = _examples(held.train, held.train_examples)
    val = _examples(held.val, held.val_examples + 1)
    assert len(val) == held.val_examples  # one pass, its last batch smaller
    assert sorted(train + val) == _examples(whole.train, whole.train_examples)
    # Deterministic, and the very examples a search with the same seed validates on.
    again = dataset_base.eval_data("digits", 8, 8, seed=3, augment=False, val_fraction=0.1)
    assert _examples(again.val, held.val_examples) == val
    search = dataset_base.search_data("digits", 8, 8, seed=3, augment=False, val_fraction=0.1)
    assert _examples(search.val, search.val_examples) == val
    with pytest.raises(ValueError, match="val_fraction"):
        dataset_base.eval_data("digits", 8, 8, seed=3, val_fraction=1.0)


def _tags_by_step(directory):
    """{tag: sorted steps it was written at} of a run's TensorBoard events."""
    tags = {}
    for event in summaries.read_events(directory):
        for value in event.summary.value:
            tags.setdefault(value.tag, []).append(event.step)
    return {tag: sorted(steps) for tag, steps in tags.items()}


def test_held_out_curve_and_texts_are_logged_each_epoch(tmp_path, monkeypatch, caplog):
    evaluators = []

    class RecordedEvaluator(retrain_run.Evaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            evaluators.append(self)

    monkeypatch.setattr(retrain_run, "Evaluator", RecordedEvaluator)
    # absl's own logger too: TensorFlow calls in earlier tests of this process (a SavedModel
    # save) may leave absl's verbosity above INFO.
    caplog.set_level(logging.INFO, logger="absl")
    config = _tiny_config(steps_per_epoch=2)  # the digits preset holds out 10%
    metrics = retrain_run.run_training(config, tmp_path / "run")
    tags = _tags_by_step(tmp_path / "run" / "tensorboard")
    for name in ("val/top1", "val/top5", "val/loss"):
        assert tags[name] == [2, 4], name  # after each of the 2 epochs
    assert tags["config"] == tags["genotype"] == [0]
    assert tags["test/top1"] == [4]
    assert caplog.text.count("on the 144 held-out training examples") == 2
    # The held-out passes (144 examples) and the test pass (359: a smaller last batch) share
    # one traced graph.
    (evaluator,) = evaluators
    assert evaluator.batch_totals.experimental_get_tracing_count() == 1
    assert metrics["test_examples"] == 359


def test_no_held_out_curve_without_a_validation_fraction(tmp_path):
    config = _tiny_config(validation_fraction=0.0, epochs=1, steps_per_epoch=1)
    retrain_run.run_training(config, tmp_path / "run")
    tags = _tags_by_step(tmp_path / "run" / "tensorboard")
    assert not [tag for tag in tags if tag.startswith("val/")]
    assert {"config", "genotype", "test/top1"} <= set(tags)


# The outer loop.


def _checkpointed_model(workdir):
    """{name: value} of the model variables in a run's latest checkpoint."""
    path = tf.train.latest_checkpoint(os.path.join(workdir, retrain_run.CHECKPOINT_DIR))
    reader = tf.train.load_checkpoint(path)
    names = [name for name, _ in tf.train.list_variables(path)]
    return {name: reader.get_tensor(name) for name in names if name.startswith("model/")}


@pytest.mark.slow
def test_a_stopped_run_resumes_and_ends_where_an_uninterrupted_one_does(tmp_path):
    config = _tiny_config()
    expected = retrain_run.run_training(config, tmp_path / "uninterrupted")
    assert set(expected) >= {"top1", "top5", "params", "macs", "test_examples"}
    assert 0 <= expected["top1"] <= expected["top5"] <= 1
    written = json.loads((tmp_path / "uninterrupted" / "metrics.json").read_text())
    assert written == expected
    assert {"config.json", "genotype.json", "checkpoints", "tensorboard"} <= set(
        os.listdir(tmp_path / "uninterrupted")
    )

    # Stopped mid-epoch 2 (drop-path already ramped), then rerun with the same config.
    assert retrain_run.run_training(config, tmp_path / "resumed", max_steps=4) is None
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    resumed = retrain_run.run_training(config, tmp_path / "resumed")
    assert resumed == expected
    want, got = (
        _checkpointed_model(tmp_path / "uninterrupted"),
        _checkpointed_model(tmp_path / "resumed"),
    )
    assert set(got) == set(want) and len(want) > 100  # every cell weight, not only the stem
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, atol=1e-6, err_msg=name)


def test_a_workdir_of_another_config_is_refused(tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text(_tiny_config().to_json())
    with pytest.raises(ValueError, match="epochs: 2 -> 3"):
        retrain_run.run_training(_tiny_config(epochs=3), workdir)


def test_a_cell_that_ignores_an_input_trains(tmp_path):
    # Searches find such cells: here no normal node reads the cell before the previous one, so
    # the weights preprocessing it get no gradient (a search of the digits preset found this).
    genotype = darts_genotype.DartsGenotype(
        ops=darts_genotype.DARTS_OPS,
        normal=tuple(darts_genotype.Node(inputs=(1, 1), ops=(1, 0)) for _ in range(4)),
        reduce=tuple(darts_genotype.Node(inputs=(0, 1), ops=(4, 5)) for _ in range(4)),
    )
    path = tmp_path / "genotype.json"
    genotypes.save(genotype, path)
    config = _tiny_config(genotype=str(path), epochs=1, steps_per_epoch=1)
    assert retrain_run.run_training(config, tmp_path / "run")["params"] > 0


def test_a_genotype_of_another_search_space_is_a_clear_error(tmp_path):
    path = tmp_path / "proxyless.json"
    genotypes.save(proxyless_genotype.random_proxyless(0), path)
    with pytest.raises(ValueError, match="config.genotype.*darts") as raised:
        retrain_run.run_training(_tiny_config(genotype=str(path)), tmp_path / "run")
    assert "proxyless" in str(raised.value)
    assert not (tmp_path / "run").exists()


def test_a_class_count_other_than_the_data_sets_is_refused(tmp_path):
    with pytest.raises(ValueError, match="config.num_classes: expected 10"):
        retrain_run.run_training(_tiny_config(num_classes=100), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"warmup_epochs": 2}, "warmup_epochs"),
        ({"drop_path_rate": 1.0}, "drop_path_rate"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"grad_clip_norm": 0.0}, "grad_clip_norm"),
        ({"dataset": "mnist"}, "dataset"),
        ({"network": "resnet"}, "network"),
        ({"dataset": "imagenet2012", "cutout": 16}, "cutout"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"validation_fraction": -0.1}, "validation_fraction"),
    ],
)
def test_validate_names_the_bad_key(overrides, named):
    with pytest.raises(ValueError, match=f"config.{named}"):
        retrain_run.validate(_tiny_config(**overrides))


def test_a_diverging_run_stops_with_a_message(tmp_path):
    # Clipped to norm 5, a step of lr 1e30 overflows the weights, and the next loss is NaN.
    config = _tiny_config(lr=1e30, epochs=1, drop_path_rate=0.0)
    with pytest.raises(runs.Diverged, match="not finite"):
        retrain_run.run_training(config, tmp_path / "run")
    assert tf.train.latest_checkpoint(tmp_path / "run" / "checkpoints") is None


@pytest.mark.slow
def test_launch_train_on_digits_writes_metrics_and_the_export(tmp_path):
    workdir = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "launch.train",
            f"--workdir={workdir}",
            # 32x32 keeps the auxiliary head (8x8 input after two reductions) in the network.
            "--config.init_channels=4",
            "--config.layers=3",
            "--config.batch_size=8",
            "--config.epochs=1",
            "--config.steps_per_epoch=2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert {"top1", "top5", "params", "macs"} <= set(metrics)
    assert metrics["test_examples"] == 359 and metrics["params"] > 0 and metrics["macs"] > 0
    assert "test top-1" in result.stdout and "step 2/2" in result.stderr
    assert {"saved_model.pb", "model.keras", "genotype.json"} <= set(os.listdir(workdir / "export"))


def test_a_bad_genotype_is_reported_before_the_data_set_is_looked_for(tmp_path):
    config = cifar10_preset.get_config()
    config.genotype = "NO_SUCH_GENOTYPE"
    config.data_dir = str(tmp_path / "no_data")  # CIFAR-10 is not there
    with pytest.raises(ValueError, match="config.genotype='NO_SUCH_GENOTYPE'") as raised:
        retrain_run.run_training(config, tmp_path / "run")
    assert not isinstance(raised.value, dataset_base.DatasetNotPreparedError)
    assert not (tmp_path / "run").exists()
