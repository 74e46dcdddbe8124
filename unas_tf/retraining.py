"""Retraining a found architecture from scratch (UNAS App. B): the step and the outer loop.

`RetrainTrainer.replica_step` is one replica's step on one batch; `train_step` runs it through
`strategy.run`. `run_training(config, workdir)` is what `launch/train.py` calls. The workdir holds:
  config.json        the resolved config (a rerun must match it to resume)
  genotype.json      the architecture being trained
  checkpoints/       the network, the optimizer, the step and the data position
  tensorboard/       loss, accuracy, learning rate, drop-path rate, gradient norm, test accuracy;
                     the config and genotype as JSON texts; with `config.validation_fraction`,
                     each epoch's accuracy and loss on the held-out part (val/top1, val/loss)
  metrics.json       final test top-1 / top-5, parameters and multiply-adds
  .lock              held by the process working in the workdir (`run_directory.lock`)
`launch/train.py` then exports the final network to export/ (`unas_tf.export_lib`).
Rerunning the same command on the same workdir resumes from the newest checkpoint that
restores (`checkpoints.restore_latest`).

Optimisation as the DARTS / UNAS PyTorch code: SGD with momentum, cosine learning rate to 0
(after a linear warm-up on ImageNet), the gradient of the loss clipped to a global norm, then
weight decay added to it as PyTorch's `SGD(weight_decay=...)` does (coupled L2 on every weight,
not clipped), auxiliary head loss weighted 0.4, drop-path ramped linearly per epoch.

Like the paper, retraining uses the whole training split by default and reports only the test
split, once, at the end. `config.validation_fraction` > 0 holds out the part of the training split
a search with the same seed calls search-val (`data.eval_data`) and scores the network on it after
every epoch: a learning curve that never looks at the test split. The search chose the
architecture on those examples, so the curve of a searched genotype is slightly optimistic; the
test split stays the unbiased figure.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from unas_tf import (
    config_checks,
    data,
    eval_networks,
    genotypes,
    model_size,
    objectives,
    run_directory,
    runs,
    strategies,
    summaries,
)
from unas_tf.search_spaces import base as search_space_base

TOP_K = 5  # metrics.json reports top-1 and top-5 accuracy
METRICS_FILE = "metrics.json"
CONFIG_FILE = run_directory.CONFIG_FILE
CHECKPOINT_DIR = strategies.CHECKPOINT_DIR
EXPORT_DIR = "export"  # where launch.train exports the trained network


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """What the retraining step needs to know beyond its modules.

    Attributes:
      global_batch_size: examples per step over all replicas.
      auxiliary_weight: weight of the auxiliary head's cross-entropy.
      label_smoothing: mass spread uniformly over the classes of the targets.
      weight_decay: L2 coefficient, added to the clipped gradient as `weight_decay * w`.
      grad_clip_norm: global norm the gradient of the loss is clipped to.
    """

    global_batch_size: int
    auxiliary_weight: float = 0.4
    label_smoothing: float = 0.0
    weight_decay: float = 3e-4
    grad_clip_norm: float = 5.0

    def __post_init__(self):
        for name, low, closed in (
            ("global_batch_size", 0, False),
            ("grad_clip_norm", 0, False),
            ("auxiliary_weight", 0, True),
            ("weight_decay", 0, True),
            ("label_smoothing", 0, True),
        ):
            value = getattr(self, name)
            if value < low or (value == low and not closed):
                expected = f">= {low}" if closed else f"> {low}"
                raise ValueError(
                    f"Invalid value received for argument `{name}`. Expected {expected}. "
                    f"Received: {name}={value}"
                )
        if self.label_smoothing >= 1:
            raise ValueError(
                "Invalid value received for argument `label_smoothing`. Expected a value in "
                f"[0, 1). Received: label_smoothing={self.label_smoothing}"
            )


def smoothed_cross_entropy(labels, logits, label_smoothing):
    """Per-example cross-entropy against one-hot targets smoothed towards uniform.

    Targets are (1 - eps) one_hot + eps / K (Szegedy et al. 2016), as PyTorch's
    `CrossEntropyLoss(label_smoothing=eps)`.

    Args:
      labels: int [B].
      logits: float [B, K].
      label_smoothing: eps in [0, 1).

    Returns:
      float [B].
    """
    num_classes = logits.shape[-1]
    targets = tf.one_hot(labels, num_classes, dtype=logits.dtype)
    targets = targets * (1.0 - label_smoothing) + label_smoothing / num_classes
    return -tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=-1)


class RetrainTrainer(tf.Module):
    """Runs retraining steps of an evaluation network.

    Args:
      model: maps images to {"logits"[, "aux_logits"]} (`eval_networks.build`).
      optimizer: a built Keras optimizer of `model.trainable_weights`.
      settings: `TrainSettings`.
      strategy: the `tf.distribute` strategy the modules were built under.
    """

    def __init__(self, model, optimizer, settings, strategy=None):
        super().__init__(name="retrain_trainer")
        self.model = model
        self.optimizer = optimizer
        self.settings = settings
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    def loss(self, batch, training=True):
        """Per-example loss: smoothed cross-entropy, plus the weighted auxiliary one.

        Returns:
          (per-example loss [B], logits [B, K]).
        """
        outputs = self.model(batch["image"], training=training)
        smoothing = self.settings.label_smoothing
        per_example = smoothed_cross_entropy(batch["label"], outputs["logits"], smoothing)
        if "aux_logits" in outputs and self.settings.auxiliary_weight:
            aux = smoothed_cross_entropy(batch["label"], outputs["aux_logits"], smoothing)
            per_example += self.settings.auxiliary_weight * aux
        return per_example, outputs["logits"]

    def replica_step(self, batch):
        """One replica's step on its part of the global batch.

        The gradients of the replicas are summed here rather than in the optimizer, because
        clipping needs the norm of the whole batch's gradient; each replica then hands the
        optimizer 1 / replicas of the (identical) update, which the optimizer sums back.

        Args:
          batch: {"image": [B, S, S, 3], "label": [B]}, this replica's examples.

        Returns:
          A dict of scalar metrics for this replica.
        """
        context = tf.distribute.get_replica_context()
        weights = self.model.trainable_weights
        with tf.GradientTape() as tape:
            per_example, logits = self.loss(batch)
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=self.settings.global_batch_size
            )
        # A cell may leave an input unread (searches find such cells): the weights that
        # preprocess it get no gradient. They take zero here and then only decay, which
        # changes nothing the network computes (PyTorch's SGD skips them).
        gradients = [
            tf.zeros(weight.shape, weight.dtype) if gradient is None else gradient
            for gradient, weight in zip(tape.gradient(loss, weights), weights, strict=True)
        ]
        gradients, norm = strategies.clipped_sum(gradients, self.settings.grad_clip_norm)
        replicas = context.num_replicas_in_sync
        gradients = [
            (gradient + self.settings.weight_decay * weight) / replicas
            for gradient, weight in zip(gradients, weights, strict=True)
        ]
        self.optimizer.apply(gradients, weights)
        return {
            "train_loss": tf.reduce_mean(per_example),
            "train_accuracy": objectives.accuracy(batch["label"], logits),
            "grad_norm": norm,
        }

    def train_step(self, batch):
        """Runs `replica_step` on every replica (cross-replica context); returns mean metrics.

        Args:
          batch: the global batch, {"image": [B, ...], "label": [B]}. Each replica takes its
            share, so the input pipeline and its checkpointable iterator stay undistributed
            (distributed iterators cannot be saved in a `tf.train.Checkpoint`).
        """
        if self.settings.global_batch_size % self.strategy.num_replicas_in_sync:
            replicas = self.strategy.num_replicas_in_sync
            raise ValueError(
                f"config.batch_size: expected a multiple of the {replicas} replicas, "
                f"got {self.settings.global_batch_size}"
            )
        per_replica = self.strategy.run(
            self.replica_step, args=(strategies.split_global_batch(self.strategy, batch),)
        )
        self.step.assign_add(1)
        return {
            name: self.strategy.reduce("MEAN", value, axis=None)
            for name, value in per_replica.items()
        }


def learning_rate_schedule(peak, total_steps, warmup_steps):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then cosine to 0 at `total_steps`."""
    decay_steps = max(total_steps - warmup_steps, 1)
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps, alpha=0.0)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps, alpha=0.0, warmup_target=peak, warmup_steps=warmup_steps
    )


def drop_path_rate(final_rate, epoch, epochs):
    """DARTS's linear ramp: `final_rate * epoch / epochs` during epoch `epoch` (0-based)."""
    return final_rate * epoch / epochs


def validate(config):
    """Rejects impossible settings before any work, naming the key (`config_checks`).

    Every key has a rule; the data set's size bounds the batch and memory the image size.

    Raises:
      ValueError: a key with an impossible value.
    """
    config_checks.check(config, _rules())
    if config.warmup_epochs >= config.epochs:
        raise ValueError(
            f"config.warmup_epochs: expected fewer than config.epochs={config.epochs}, got "
            f"{config.warmup_epochs}"
        )
    search_space_base.for_network(config.network).validate_network(config)
    if config.cutout and config.dataset == "imagenet2012":
        raise ValueError("config.cutout: expected 0 on imagenet2012 (cutout is for CIFAR)")
    _check_data_sizes(config)
    _config_genotype(config)  # before the data set is looked for, which may take long or fail


def _rules():
    """The rule of every key retraining reads itself (the network's space checks its own)."""
    rules = config_checks
    return {
        "network": rules.TEXT,  # the registry names the networks it has
        "genotype": rules.TEXT,
        "num_classes": rules.POSITIVE_INT,
        "dataset": rules.one_of(data.KNOWN_DATASETS),
        "data_dir": rules.TEXT,
        "image_size": rules.POSITIVE_INT,
        "batch_size": rules.POSITIVE_INT,
        "lr_reference_batch_size": rules.POSITIVE_INT,
        "epochs": rules.POSITIVE_INT,
        "warmup_epochs": rules.NON_NEGATIVE_INT,
        "steps_per_epoch": rules.with_meaning(rules.NON_NEGATIVE_INT, "(0 = a full pass)"),
        "lr": rules.POSITIVE,
        "momentum": rules.FRACTION,
        "weight_decay": rules.NON_NEGATIVE,
        "grad_clip_norm": rules.POSITIVE,
        "auxiliary_weight": rules.NON_NEGATIVE,
        "drop_path_rate": rules.with_meaning(rules.FRACTION, "(a probability)"),
        "cutout": rules.with_meaning(rules.NON_NEGATIVE_INT, "(0 = none)"),
        "label_smoothing": rules.FRACTION,
        "validation_fraction": rules.with_meaning(
            rules.FRACTION, "(0 = retrain on the whole training split)"
        ),
        "log_every": rules.POSITIVE_INT,
        "checkpoints_to_keep": rules.POSITIVE_INT,
        "strategy": rules.one_of(strategies.KNOWN),
        "seed": rules.NON_NEGATIVE_INT,
        "deterministic": rules.BOOLEAN,
        "export": rules.BOOLEAN,
    }


def _check_data_sizes(config):
    """The batch within the training examples left after the held-out part, images in memory."""
    sizes = config_checks.data_sizes(config)
    if sizes is None:
        return
    held_out = data.held_out_examples(sizes.train, config.validation_fraction)
    if config.validation_fraction and not 0 < held_out < sizes.train:
        raise ValueError(
            f"config.validation_fraction: expected a fraction holding out at least one of the "
            f"{sizes.train} training examples and keeping one, got {config.validation_fraction}"
        )
    if config.batch_size > sizes.train - held_out:
        raise ValueError(
            f"config.batch_size: expected at most {sizes.train - held_out} (the training "
            f"examples of {config.dataset} retraining uses), got {config.batch_size}"
        )


def model_variables(model):
    """Returns every variable of `model` as the list its checkpoints hold.

    `tf.train.Checkpoint(model=model)` is not enough for Keras 3 models: TensorFlow's object graph
    misses layers kept in Python lists (a cell's edges, the stem's convolutions) and the seed
    generators. `model.variables`, in their construction order, hold every weight, batch-norm
    statistic and drop-path seed state, so a resumed run continues exactly.
    """
    return [variable.value for variable in model.variables]


class Evaluator:
    """Scores a network in inference mode on one pass of a data set: accuracy and loss.

    Its batch function is traced once, for batches of any size (a pass's last batch may be
    smaller), so the held-out evaluation after each epoch and the test at the end share one
    graph.

    Args:
      model: maps images to {"logits"[, "aux_logits"]}; only the logits are scored.
      image_size: side of the square [B, S, S, 3] images.
    """

    def __init__(self, model, image_size):
        self.model = model
        self.batch_totals = tf.function(
            self._batch_totals,
            input_signature=[
                tf.TensorSpec([None, image_size, image_size, 3], tf.float32),
                tf.TensorSpec([None], tf.int32),
            ],
        )

    def _batch_totals(self, images, labels):
        logits = self.model(images, training=False)["logits"]
        top = tf.math.top_k(logits, k=min(TOP_K, logits.shape[-1])).indices
        correct = tf.equal(top, labels[:, None])
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        return (
            tf.reduce_sum(tf.cast(correct[:, 0], tf.int64)),
            tf.reduce_sum(tf.cast(tf.reduce_any(correct, axis=-1), tf.int64)),
            tf.reduce_sum(tf.cast(loss, tf.float64)),
        )

    def __call__(self, dataset):
        """Scores the network on one pass of `dataset`.

        Returns:
          {"top1": float, "top5": float, "loss": float, "examples": int}; the loss is the mean
          plain cross-entropy of the logits (no label smoothing, no auxiliary head), comparable
          between runs of different training losses.
        """
        hits, loss = np.zeros(3, np.int64), 0.0
        for batch in dataset:
            top1, top5, batch_loss = self.batch_totals(batch["image"], batch["label"])
            hits += [int(top1), int(top5), int(tf.shape(batch["label"])[0])]
            loss += float(batch_loss)
        return {
            "top1": float(hits[0] / hits[2]),
            "top5": float(hits[1] / hits[2]),
            "loss": loss / hits[2],
            "examples": int(hits[2]),
        }


def build_model(config):
    """Builds the evaluation network of `config`: (genotype, keras.Model).

    Raises:
      ValueError: an unloadable genotype or one of another search space; the message starts with
        the config key.
    """
    genotype = _config_genotype(config)
    return genotype, eval_networks.build_network(config, genotype)


def _config_genotype(config):
    """`eval_networks.config_genotype`, its errors starting with the config key."""
    try:
        return eval_networks.config_genotype(config)
    except ValueError as error:
        raise ValueError(f"config.genotype={config.genotype!r}: {error}") from error


def _evaluation_data(config):
    return data.eval_data(
        config.dataset,
        config.batch_size,
        config.image_size,
        config.seed,
        data_dir=config.data_dir or None,
        cutout=config.cutout,
        val_fraction=config.validation_fraction,
    )


def run_training(config, workdir, max_steps=None):
    """Retrains (or resumes retraining) the evaluation network of `config`; returns metrics.

    Args:
      config: an eval preset (configs/eval/*.py) with the training fields, possibly overridden.
      workdir: directory of the run's outputs; created if missing.
      max_steps: stop (with a checkpoint) once the step counter reaches this, before the end;
        None to train to the end. A rerun continues from there.

    Returns:
      The metrics.json dict once training is complete, else None (stopped at `max_steps`).

    Raises:
      ValueError: an impossible config value, a genotype of another space, a class count other
        than the data set's, or a workdir of another config.
      data.DatasetNotPreparedError: the data set is not in data_dir.
      runs.Diverged: the loss became NaN or infinite.
      run_directory.WorkdirBusy: another process works in `workdir`.
    """
    validate(config)
    with runs.start(config, workdir, "training run") as run:
        return _train(run, max_steps)


def _train(run, max_steps):
    """The retraining of a started run; returns its metrics, or None if stopped early."""
    config, workdir, strategy = run.config, run.workdir, run.strategy
    evaluation = _evaluation_data(config)
    if evaluation.num_classes != config.num_classes:
        raise ValueError(
            f"config.num_classes: expected {evaluation.num_classes} (the classes of "
            f"{config.dataset}), got {config.num_classes}"
        )
    steps_per_epoch = config.steps_per_epoch or evaluation.steps_per_epoch
    total_steps = config.epochs * steps_per_epoch
    peak_lr = config.lr * config.batch_size / config.lr_reference_batch_size

    space = search_space_base.for_network(config.network)
    with strategy.scope():
        genotype, model = build_model(config)
        optimizer = keras.optimizers.SGD(
            learning_rate_schedule(peak_lr, total_steps, config.warmup_epochs * steps_per_epoch),
            momentum=config.momentum,
        )
        optimizer.build(model.trainable_weights)
        trainer = RetrainTrainer(
            model,
            optimizer,
            TrainSettings(
                global_batch_size=config.batch_size,
                auxiliary_weight=config.auxiliary_weight,
                label_smoothing=config.label_smoothing,
                weight_decay=config.weight_decay,
                grad_clip_norm=config.grad_clip_norm,
            ),
            strategy,
        )
        train_iterator = iter(evaluation.train)

    run.save_config()
    if run.chief:
        genotypes.save(genotype, os.path.join(workdir, "genotype.json"))
    run.restore(
        tf.train.Checkpoint(
            model=model_variables(model),
            optimizer=optimizer,
            step=trainer.step,
            train_iterator=train_iterator,
        )
    )
    with run.writer.as_default(step=int(trainer.step.numpy())):
        summaries.write_run_texts(config, genotype)
    train_step = tf.function(trainer.train_step)
    evaluator = Evaluator(model, config.image_size)
    drop_path_epoch = [None]  # the epoch whose drop-path rate the model has

    def run_step(step, epoch):
        if epoch != drop_path_epoch[0]:
            drop_path_epoch[0] = epoch
            space.set_drop_path_rate(
                model, drop_path_rate(config.drop_path_rate, epoch, config.epochs)
            )
        return train_step(next(train_iterator))

    def describe(values, epoch):
        shown = " ".join(f"{name} {value:.4f}" for name, value in sorted(values.items()))
        return f" {shown} lr {float(optimizer.learning_rate):.4g}"

    def summarize(values, epoch):
        for name, value in values.items():
            tf.summary.scalar(name, value)
        tf.summary.scalar("lr", optimizer.learning_rate)
        tf.summary.scalar(
            "drop_path_rate", drop_path_rate(config.drop_path_rate, epoch, config.epochs)
        )

    def end_epoch(step, epoch):
        if evaluation.val is None:
            return
        scores = evaluator(evaluation.val)
        logging.info(
            "epoch %d/%d: on the %d held-out training examples: top-1 %.4f top-5 %.4f loss %.4f",
            epoch + 1,
            config.epochs,
            scores["examples"],
            scores["top1"],
            scores["top5"],
            scores["loss"],
        )
        with run.writer.as_default(step=step):
            for name in ("top1", "top5", "loss"):
                tf.summary.scalar(f"val/{name}", scores[name])

    run.loop(
        trainer.step,
        stop=total_steps if max_steps is None else min(max_steps, total_steps),
        total=total_steps,
        steps_per_epoch=steps_per_epoch,
        run_step=run_step,
        describe=describe,
        summarize=summarize,
        end_epoch=end_epoch,
        phase=lambda epoch: "training step",
    )
    if int(trainer.step.numpy()) < total_steps:
        logging.info(
            "Stopped at step %d of %d; rerun to continue.", int(trainer.step.numpy()), total_steps
        )
        return None

    results = evaluator(evaluation.test)
    metrics = {
        "top1": results["top1"],
        "top5": results["top5"],
        "test_examples": results["examples"],
        "params": model_size.count_params(model),
        "macs": model_size.count_macs(model, config.image_size),
        "steps": total_steps,
        "genotype": config.genotype,
        "dataset": config.dataset,
    }
    with run.writer.as_default(step=total_steps):
        tf.summary.scalar("test/top1", metrics["top1"])
        tf.summary.scalar("test/top5", metrics["top5"])
    if run.chief:
        run_directory.write_json_atomically(os.path.join(workdir, METRICS_FILE), metrics)
    logging.info(
        "Test top-1 %.4f top-5 %.4f on %d examples; %d params, %d multiply-adds.",
        metrics["top1"],
        metrics["top5"],
        metrics["test_examples"],
        metrics["params"],
        metrics["macs"],
    )
    return metrics
