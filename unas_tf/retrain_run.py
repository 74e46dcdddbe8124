"""Retraining a found architecture from scratch (UNAS App. B): the run's task and its outputs.

`run_training(config, workdir)` is what `launch/train.py` calls: the run controller
(`runs.Run.drive`) drives a `RetrainTask`, whose step is `retrain_step.RetrainTrainer`'s. The
workdir holds:
  config.json        the resolved config (a rerun must match it to resume)
  genotype.json      the architecture being trained
  dataset.json       the data set's spec, classes and normalisation, which the export reads
                     (`datasets.record`)
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
a search with the same seed calls search-val (`datasets.base.eval_data`) and scores the network on
it after every epoch: a learning curve that never looks at the test split. The search chose the
architecture on those examples, so the curve of a searched genotype is slightly optimistic; the
test split stays the unbiased figure.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from unas_tf import (
    config_checks,
    eval_networks,
    genotypes,
    model_size,
    retrain_step,
    run_directory,
    runs,
    strategies,
    summaries,
)
from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import record as dataset_record
from unas_tf.search_spaces import base as search_space_base

TOP_K = 5  # metrics.json reports top-1 and top-5 accuracy
METRICS_FILE = "metrics.json"
CONFIG_FILE = run_directory.CONFIG_FILE
CHECKPOINT_DIR = strategies.CHECKPOINT_DIR
EXPORT_DIR = "export"  # where launch.train exports the trained network
GENOTYPE_FILE = "genotype.json"  # the architecture being trained


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
    if config.cutout and not dataset_base.of_config(config).supports_cutout:
        raise ValueError(
            f"config.cutout: expected 0 on {config.dataset} (cutout is for in-memory data sets)"
        )
    _check_data_sizes(config)
    _config_genotype(config)  # before the data set is looked for, which may take long or fail


def _rules():
    """The rule of every key retraining reads itself (the network's space checks its own)."""
    rules = config_checks
    return {
        "network": rules.TEXT,  # the registry names the networks it has
        "genotype": rules.TEXT,
        "num_classes": rules.with_meaning(rules.NON_NEGATIVE_INT, "(0 = the data set's)"),
        "dataset": rules.TEXT,  # the registry knows the data sets (`_check_data_sizes`)
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
        **runs.RULES,
        "export": rules.BOOLEAN,
    }


def _check_data_sizes(config):
    """The batch within the training examples left after the held-out part, images in memory."""
    sizes = config_checks.data_sizes(config)
    if sizes is None:
        return
    held_out = dataset_base.held_out_examples(sizes.train, config.validation_fraction)
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


def build_model(config, num_classes=None):
    """Builds the evaluation network of `config`: (genotype, keras.Model).

    Args:
      config: the eval config.
      num_classes: the data set's class count, for a config whose `num_classes` is 0; None
        looks it up (`eval_networks.with_num_classes`).

    Raises:
      ValueError: an unloadable genotype or one of another search space; the message starts with
        the config key.
    """
    genotype = _config_genotype(config)
    return genotype, eval_networks.build_network(config, genotype, num_classes)


def _config_genotype(config):
    """`eval_networks.config_genotype`, its errors starting with the config key."""
    try:
        return eval_networks.config_genotype(config)
    except ValueError as error:
        raise ValueError(f"config.genotype={config.genotype!r}: {error}") from error


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
      dataset_base.DatasetNotPreparedError: the data set is not in data_dir.
      runs.Diverged: the loss became NaN or infinite.
      run_directory.WorkdirBusy: another process works in `workdir`.
    """
    validate(config)
    with runs.start(config, workdir, "training run") as run:
        return run.drive(RetrainTask(run), max_steps)


class RetrainTask(runs.Task):
    """Retraining an evaluation network, for the controller: SGD steps, drop-path per epoch.

    With `config.validation_fraction`, each epoch scores the network on the held-out training
    examples. The result is the metrics.json dict of the test split, once, at the end.

    Args:
      run: the started `runs.Run` of a validated eval config.

    Raises:
      ValueError: a class count other than the data set's.
      dataset_base.DatasetNotPreparedError: the data set is not in data_dir.
    """

    def __init__(self, run):
        config = run.config
        self.dataset = dataset_record.for_run(config, run.workdir)
        self.data = self.dataset.eval_data(
            config.batch_size,
            config.image_size,
            config.seed,
            cutout=config.cutout,
            val_fraction=config.validation_fraction,
        )
        if config.num_classes not in (0, self.data.num_classes):
            raise ValueError(
                f"config.num_classes: expected {self.data.num_classes} (the classes of "
                f"{config.dataset}) or 0 (the data set's), got {config.num_classes}"
            )
        if run.chief:
            dataset_record.write(self.dataset, config.image_size, run.workdir)
        steps_per_epoch = config.steps_per_epoch or self.data.steps_per_epoch
        super().__init__(run, config.epochs * steps_per_epoch, steps_per_epoch)
        self.space = search_space_base.for_network(config.network)
        self.genotype = self.model = self.optimizer = self.trainer = None
        self.train_iterator = self._train_step = self._evaluator = None
        self._drop_path_epoch = None  # the epoch whose drop-path rate the model has

    def build(self):
        """The network, its optimizer with the learning-rate schedule, and the data iterator."""
        config = self.config
        peak_lr = config.lr * config.batch_size / config.lr_reference_batch_size
        self.genotype, self.model = build_model(config, self.data.num_classes)
        self.optimizer = keras.optimizers.SGD(
            learning_rate_schedule(
                peak_lr, self.total_steps, config.warmup_epochs * self.steps_per_epoch
            ),
            momentum=config.momentum,
        )
        self.optimizer.build(self.model.trainable_weights)
        self.trainer = retrain_step.RetrainTrainer(
            self.model,
            self.optimizer,
            retrain_step.TrainSettings(
                global_batch_size=config.batch_size,
                auxiliary_weight=config.auxiliary_weight,
                label_smoothing=config.label_smoothing,
                weight_decay=config.weight_decay,
                grad_clip_norm=config.grad_clip_norm,
            ),
            self.run.strategy,
        )
        self.train_iterator = iter(self.data.train)

    @property
    def step(self):
        return self.trainer.step

    def checkpoint(self):
        """The network, the optimizer, the step and the data position."""
        return tf.train.Checkpoint(
            model=model_variables(self.model),
            optimizer=self.optimizer,
            step=self.trainer.step,
            train_iterator=self.train_iterator,
        )

    def start(self):
        """Writes genotype.json (on the chief) and the run's texts; makes the step function."""
        if self.run.chief:
            genotypes.save(self.genotype, os.path.join(self.run.workdir, GENOTYPE_FILE))
        with self.run.writer.as_default(step=int(self.step.numpy())):
            summaries.write_run_texts(self.config, self.genotype)
        self._train_step = tf.function(self.trainer.train_step)
        self._evaluator = Evaluator(self.model, self.config.image_size)

    def phase(self, epoch):
        del epoch  # one step function throughout
        return "training step"

    def _drop_path_rate(self, epoch):
        return drop_path_rate(self.config.drop_path_rate, epoch, self.config.epochs)

    def run_step(self, step, epoch):
        if epoch != self._drop_path_epoch:
            self._drop_path_epoch = epoch
            self.space.set_drop_path_rate(self.model, self._drop_path_rate(epoch))
        return self._train_step(next(self.train_iterator))

    def describe(self, values, epoch):
        shown = " ".join(f"{name} {value:.4f}" for name, value in sorted(values.items()))
        return f" {shown} lr {float(self.optimizer.learning_rate):.4g}"

    def summarize(self, values, epoch):
        """The step's metrics, the learning rate and the drop-path rate."""
        for name, value in values.items():
            tf.summary.scalar(name, value)
        tf.summary.scalar("lr", self.optimizer.learning_rate)
        tf.summary.scalar("drop_path_rate", self._drop_path_rate(epoch))

    def end_epoch(self, step, epoch):
        """Scores the network on the held-out training examples, if any."""
        if self.data.val is None:
            return
        scores = self._evaluator(self.data.val)
        logging.info(
            "epoch %d/%d: on the %d held-out training examples: top-1 %.4f top-5 %.4f loss %.4f",
            epoch + 1,
            self.config.epochs,
            scores["examples"],
            scores["top1"],
            scores["top5"],
            scores["loss"],
        )
        with self.run.writer.as_default(step=step):
            for name in ("top1", "top5", "loss"):
                tf.summary.scalar(f"val/{name}", scores[name])

    def finish(self):
        """Tests the network and writes metrics.json once trained to the end; else None."""
        config, total_steps = self.config, self.total_steps
        if (step := int(self.step.numpy())) < total_steps:
            logging.info("Stopped at step %d of %d; rerun to continue.", step, total_steps)
            return None
        results = self._evaluator(self.data.test)
        metrics = {
            "top1": results["top1"],
            "top5": results["top5"],
            "test_examples": results["examples"],
            "params": model_size.count_params(self.model),
            "macs": model_size.count_macs(self.model, config.image_size),
            "steps": total_steps,
            "genotype": config.genotype,
            "dataset": config.dataset,
        }
        with self.run.writer.as_default(step=total_steps):
            tf.summary.scalar("test/top1", metrics["top1"])
            tf.summary.scalar("test/top5", metrics["top5"])
        if self.run.chief:
            path = os.path.join(self.run.workdir, METRICS_FILE)
            run_directory.write_json_atomically(path, metrics)
        logging.info(
            "Test top-1 %.4f top-5 %.4f on %d examples; %d params, %d multiply-adds.",
            metrics["top1"],
            metrics["top5"],
            metrics["test_examples"],
            metrics["params"],
            metrics["macs"],
        )
        return metrics
