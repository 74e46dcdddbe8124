"""A search's run: everything built from a config, the epochs' work, outputs and resume.

`run_search(config, workdir)` is what `launch/search.py` calls: the run controller
(`runs.Run.drive`) drives a `SearchTask`, whose step is `search_step.SearchTrainer`'s. The
workdir holds:
  config.json        the resolved config (a rerun must match it to resume)
  genotype.json      the current argmax architecture, rewritten each epoch and at the end
  dataset.json       the data set's spec, classes and normalisation (`datasets.record`)
  checkpoints/       w, phi, both optimizers, the step, estimator state, data positions
  tensorboard/       every metric of the step (losses and accuracies of the sampled
                     architectures, objective terms, the norm and estimated variance of the
                     architecture gradient), learning rates, selector entropies; each epoch
                     the argmax architecture's search-val loss and accuracy, its JSON as a
                     text, and the space's pictures (DARTS: selector heatmaps and a drawing
                     of the cells; ProxylessNAS: a heatmap of the layer choices and a drawing
                     of the layers); at the start, the config and the genotype as JSON texts
  latency_measurements.json  (with a `latency` section) every latency measured: the random
                     architectures the surrogate is fit to, the search's samples and argmax
                     architectures; a resumed search reads it instead of measuring again
  latency_target.json  (with latency.target_quantile) the target it resolved to, which a
                     resumed search reuses
  workers/           under several workers, the non-chief workers' checkpoints
  .lock              held by the process working in the workdir (`run_directory.lock`)
Rerunning the same command on the same workdir resumes from the newest checkpoint that
restores (`checkpoints.restore_latest`). Under several workers only the chief writes
config.json, genotype.json and summaries.

`config.space` names the registered `search_spaces.base.SearchSpace` the task asks for the
supernet, the choices, genotypes and pictures: "darts" (the default: factorized cells, UNAS
Sec. 4) or "proxyless" (21 MBConv layers, UNAS Sec. 5 and App. E). A config with a `latency`
section, in a space that measures latency (both do), measures architectures and may add the
term lambda_lat(t) max(0, L_lat(z) - t_target) of App. E.1.
"""

import math
import os

import keras
import tensorflow as tf
from absl import logging

from unas_tf import (
    adam,
    config_checks,
    distributions,
    estimators,
    genotypes,
    objectives,
    runs,
    search_step,
    summaries,
)
from unas_tf.datasets import base as dataset_base
from unas_tf.datasets import record as dataset_record
from unas_tf.latency import search_term
from unas_tf.search_spaces import base as search_space_base

# The metrics of the progress line; TensorBoard receives every metric of the step.
PROGRESS_METRICS = (
    "train_loss",
    "train_accuracy",
    "arch_loss",
    "sampled/val_accuracy",
    "latency/sampled_ms",
)
GENOTYPE_FILE = "genotype.json"  # the current argmax architecture
# `search_augment`: which search batches get the data set's random training transform.
# "both": the released code's CIFAR search (util/datasets.py transforms the whole training
# split before splitting off search-val); "none": its ImageNet search (both centre-cropped);
# "train": train batches only.
SEARCH_AUGMENT = {
    "both": {"augment": True, "augment_val": True},
    "none": {"augment": False, "augment_val": False},
    "train": {"augment": True, "augment_val": False},
}


def validate(config):
    """Rejects impossible settings before any work, naming the key (`config_checks`).

    Every key has a rule; the data set's size bounds the batch and the evaluation batches, and
    memory the image size.

    Raises:
      ValueError: a key with an impossible value.
    """
    config_checks.check(config, _rules())
    if config.warmup_epochs >= config.epochs:
        raise ValueError(
            f"config.warmup_epochs: expected fewer than config.epochs={config.epochs}, got "
            f"{config.warmup_epochs}"
        )
    batch, reference = config.batch_size, config.lr_reference_batch_size
    if config.scale_lr and batch % reference and reference % batch:
        raise ValueError(
            f"config.batch_size: with config.scale_lr, expected a multiple or a divisor of "
            f"config.lr_reference_batch_size={reference} (the linear scaling rule is for whole "
            f"multiples of the batch the rates are set for), got {batch}"
        )
    space = search_space_base.of_config(config)
    space.validate_search(config)
    if "latency" in config:
        search_term.validate(config, space)
    _check_data_sizes(config)
    # SearchSettings checks objective and sampling by name.
    _settings(config)


def _rules():
    """The rule of every key a search reads itself (its space and latency term check theirs)."""
    rules = config_checks
    return {
        "space": rules.TEXT,  # the registry names the spaces it has
        "dataset": rules.TEXT,  # the registry knows the data sets (`_check_data_sizes`)
        "data_dir": rules.TEXT,
        "image_size": rules.POSITIVE_INT,
        "batch_size": rules.POSITIVE_INT,
        "lr_reference_batch_size": rules.POSITIVE_INT,
        "scale_lr": rules.BOOLEAN,
        "epochs": rules.POSITIVE_INT,
        "warmup_epochs": rules.NON_NEGATIVE_INT,
        "steps_per_epoch": rules.with_meaning(rules.NON_NEGATIVE_INT, "(0 = a full pass)"),
        "weight_lr": rules.POSITIVE,
        "weight_lr_final": rules.NON_NEGATIVE,
        "arch_lr": rules.POSITIVE,
        "arch_lr_final": rules.NON_NEGATIVE,
        "weight_decay": rules.NON_NEGATIVE,
        "arch_weight_decay": rules.NON_NEGATIVE,
        "grad_clip_norm": rules.POSITIVE,
        "temperature": rules.POSITIVE,
        "objective": rules.one_of(search_step.OBJECTIVES),
        "sampling": rules.one_of(search_step.SAMPLING),
        "weight_sample": rules.one_of(search_step.WEIGHT_SAMPLES),
        "gap_weight": rules.NON_NEGATIVE,
        "gap_form": rules.one_of(objectives.GAP_FORMS),
        "arch_penalty_weight": rules.NON_NEGATIVE,
        "estimator": rules.one_of(estimators.known_names()),
        "baseline_momentum": rules.with_meaning(rules.FRACTION, "(the previous average's weight)"),
        "gsm_soften_eps": rules.NON_NEGATIVE,
        "search_augment": rules.one_of(tuple(SEARCH_AUGMENT)),
        "reset_weight_optimizer_after_warmup": rules.BOOLEAN,
        "eval_batches": rules.POSITIVE_INT,
        **runs.RULES,
    }


def _check_data_sizes(config):
    """The batch and the evaluation batches within the data set, the images within memory."""
    sizes = config_checks.data_sizes(config)
    if sizes is None:
        return
    num_val = dataset_base.held_out_examples(sizes.train, dataset_base.DEFAULT_VAL_FRACTION)
    num_train = sizes.train - num_val
    if config.batch_size > num_train:
        raise ValueError(
            f"config.batch_size: expected at most {num_train} (the search-train examples of "
            f"{config.dataset}), got {config.batch_size}"
        )
    val_batches = math.ceil(num_val / config.batch_size)
    if config.eval_batches > val_batches:
        raise ValueError(
            f"config.eval_batches: expected at most {val_batches} (one pass over the {num_val} "
            f"search-val examples in batches of {config.batch_size}), got {config.eval_batches}"
        )


def _settings(config):
    try:
        return search_step.SearchSettings(
            objective=config.objective,
            gap_weight=config.gap_weight,
            gap_form=config.gap_form,
            arch_penalty_weight=config.arch_penalty_weight,
            sampling=config.sampling,
            weight_sample=config.weight_sample,
            temperature=config.temperature,
            grad_clip_norm=config.grad_clip_norm,
            global_batch_size=config.batch_size,
            weight_decay=config.weight_decay,
            arch_weight_decay=config.arch_weight_decay,
        )
    except ValueError as error:
        raise ValueError(f"config: {error}") from error


def learning_rate_schedules(config, total_steps, search_steps):
    """The cosine schedules of w (over `total_steps`) and phi (over `search_steps`).

    Each anneals from the config's initial rate to its final one. With `config.scale_lr` the
    whole schedule, initial and final rates, is multiplied by
    `batch_size / lr_reference_batch_size`: the linear scaling rule (Goyal et al. 2017, Sec. 2.1),
    the rates being set for a global batch of `lr_reference_batch_size`. The released code's
    `--scale_lr` scaled the initial rates alone, against a reference of 64 examples.

    Args:
      config: a search config (its learning-rate keys, batch_size and scale_lr).
      total_steps: steps of the whole search, over which w's rate anneals.
      search_steps: steps that update phi (after the warm-up), over which phi's rate anneals.

    Returns:
      (weight schedule, arch schedule), Keras `LearningRateSchedule`s of the step.
    """
    scale = config.batch_size / config.lr_reference_batch_size if config.scale_lr else 1.0

    def cosine(initial, final, steps):
        return keras.optimizers.schedules.CosineDecay(
            initial * scale, decay_steps=max(steps, 1), alpha=final / initial
        )

    return (
        cosine(config.weight_lr, config.weight_lr_final, total_steps),
        cosine(config.arch_lr, config.arch_lr_final, search_steps),
    )


def run_search(config, workdir):
    """Runs (or resumes) a UNAS search; returns the final genotype.

    Args:
      config: a search preset (configs/search/*.py), possibly overridden.
      workdir: directory of the run's outputs; created if missing.

    Raises:
      ValueError: an impossible config value, or a workdir of another config.
      dataset_base.DatasetNotPreparedError: the data set is not in data_dir.
      runs.Diverged: the loss became NaN or infinite.
      run_directory.WorkdirBusy: another process works in `workdir`.
    """
    validate(config)
    with runs.start(config, workdir, "search") as run:
        return run.drive(SearchTask(run))


class SearchTask(runs.Task):
    """A UNAS search, for the controller: warm-up steps of w alone, then steps of phi and w.

    Each epoch scores the argmax architecture on search-val batches and writes it to
    genotype.json, TensorBoard (texts and the space's pictures) and, with a `latency` section,
    the latency record. The result is the final argmax genotype.

    Args:
      run: the started `runs.Run` of a validated search config.

    Raises:
      dataset_base.DatasetNotPreparedError: the data set is not in data_dir.
    """

    def __init__(self, run):
        config = run.config
        self.dataset = dataset_record.for_run(config, run.workdir)
        self.data = self.dataset.search_data(
            config.batch_size,
            config.image_size,
            config.seed,
            **SEARCH_AUGMENT[config.search_augment],
        )
        if run.chief:
            dataset_record.write(self.dataset, config.image_size, run.workdir)
        steps_per_epoch = config.steps_per_epoch or self.data.steps_per_epoch
        super().__init__(run, config.epochs * steps_per_epoch, steps_per_epoch)
        self.search_start = config.warmup_epochs * steps_per_epoch  # the first step of phi
        self.search_steps = self.total_steps - self.search_start
        self.space = search_space_base.of_config(config)
        self.genotype_path = os.path.join(run.workdir, GENOTYPE_FILE)
        self.latency = None
        if "latency" in config:
            self.latency = search_term.SearchLatency(
                config, self.space, run.workdir, run.chief, self.data.num_classes
            )
        self.trainer = self.iterators = self._steps = self._evaluate = None

    def build(self):
        """The data iterators, and the supernet, phi, estimators and optimizers, built.

        The latency term, if any, fits its surrogate first.
        """
        config = self.config
        self.iterators = {
            "train_iterator": iter(self.data.train),
            "val_iterator": iter(self.data.val),
            # Its own stream, so that evaluating leaves the search's batches unchanged.
            "eval_iterator": iter(self.data.val),
        }
        weight_schedule, arch_schedule = learning_rate_schedules(
            config, self.total_steps, self.search_steps
        )
        supernet = self.space.build_supernet(config, self.data.num_classes)
        distribution = distributions.ArchitectureDistribution(
            self.space.choice_shapes(config),
            self.space.choice_masks(config),
            soften_eps=config.gsm_soften_eps,
        )
        objective = self.latency.build_objective() if self.latency is not None else None
        estimator = estimators.create_for_search(config)
        # PyTorch's Adam, as the released code's; weight decay is L2 in the gradient, added by
        # the step (see unas_tf/search_step.py).
        weight_optimizer = adam.Adam(weight_schedule)
        arch_optimizer = adam.Adam(arch_schedule)
        first = next(iter(self.data.val))
        supernet(first["image"][:1], distribution.sample(1, seed=0))  # builds every candidate
        weight_optimizer.build(supernet.trainable_weights)
        arch_optimizer.build(distribution.trainable_variables)
        self.trainer = search_step.SearchTrainer(
            supernet,
            distribution,
            estimator,
            weight_optimizer,
            arch_optimizer,
            _settings(config),
            config.seed,
            self.run.strategy,
            latency_objective=objective,
            architecture_penalty=self.space.architecture_penalty,
        )

    @property
    def step(self):
        return self.trainer.step

    def checkpoint(self):
        """w, phi, both optimizers, the step, estimator state, data positions, latency term."""
        supernet = self.trainer.supernet
        return tf.train.Checkpoint(
            **(self.latency.checkpoint_state() if self.latency is not None else {}),
            **self.iterators,
            supernet=supernet,
            # Listed explicitly: tf.train.Checkpoint does not follow Keras 3 layers kept in lists.
            supernet_variables=supernet.variables,
            distribution=self.trainer.distribution,
            weight_optimizer=self.trainer.weight_optimizer,
            arch_optimizer=self.trainer.arch_optimizer,
            step=self.trainer.step,
            estimator=self.trainer.estimator,
        )

    def start(self):
        """Makes the step functions; the chief writes genotype.json and the run's texts."""
        self._steps = {flag: self.trainer.step_function(flag) for flag in (False, True)}
        self._evaluate = tf.function(self.trainer.evaluate_step, autograph=False)
        if self.run.chief:
            genotype = self._argmax_genotype()
            genotypes.save(genotype, self.genotype_path)
            with self.run.writer.as_default(step=int(self.step.numpy())):
                summaries.write_run_texts(self.config, genotype)
                if self.latency is not None:
                    self.latency.write_fit_summaries()

    def _searching(self, epoch):
        """Whether epoch `epoch`'s steps update phi (after the warm-up, if the estimator does)."""
        return epoch >= self.config.warmup_epochs and self.trainer.estimator.updates_architecture

    def phase(self, epoch):
        return "search step" if self._searching(epoch) else "warm-up step"

    def run_step(self, step, epoch):
        train = next(self.iterators["train_iterator"])
        val = next(self.iterators["val_iterator"])
        if self._searching(epoch) and self.trainer.latency_objective is not None:
            inputs, measured = self.latency.step_inputs(
                self.trainer, step, self.search_start, self.search_steps
            )
            return {**self._steps[True](train, val, inputs), **measured}
        return self._steps[self._searching(epoch)](train, val)

    def describe(self, values, epoch):
        shown = " ".join(f"{n} {values[n]:.4f}" for n in PROGRESS_METRICS if n in values)
        return f"{'' if self._searching(epoch) else ' (warm-up)'} {shown}"

    def summarize(self, values, epoch):
        """Every metric of the step, the learning rates and the selector entropies."""
        for name, value in values.items():
            tf.summary.scalar(name, value)
        tf.summary.scalar("lr/weights", self.trainer.weight_optimizer.learning_rate)
        tf.summary.scalar("lr/architecture", self.trainer.arch_optimizer.learning_rate)
        for group, entropy in self.trainer.distribution.entropy().items():
            tf.summary.scalar(f"entropy/{group}", tf.reduce_mean(entropy))

    def end_epoch(self, step, epoch):
        """Scores the argmax architecture on search-val and writes it out (on the chief).

        When the warm-up's last step is done, starts w's Adam afresh if the config says so
        (`reset_weight_optimizer_after_warmup`, as the released code's new optimizer).
        """
        config = self.config
        if step == self.search_start > 0 and config.reset_weight_optimizer_after_warmup:
            self.trainer.weight_optimizer.reset_moments()
            logging.info("step %d: warm-up done; the weights' Adam starts afresh", step)
        scores = self._evaluate_argmax(config.eval_batches)
        logging.info(
            "epoch %d/%d: argmax architecture on %d search-val batches: loss %.4f accuracy %.4f",
            epoch + 1,
            config.epochs,
            config.eval_batches,
            scores["loss"],
            scores["accuracy"],
        )
        genotype = self._argmax_genotype()
        if self.latency is not None:
            scores["latency_ms"] = self.latency.end_of_epoch(genotype, epoch)
        if self.run.chief:
            genotypes.save(genotype, self.genotype_path)
            with self.run.writer.as_default(step=step):
                for name, value in scores.items():
                    tf.summary.scalar(f"argmax/val_{name}", value)
                summaries.write_genotype_text(genotype)
                self.space.epoch_summaries(self.trainer.logits(), genotype)

    def finish(self):
        """Writes and returns the final argmax genotype; logs the space's warnings about it."""
        final = self._argmax_genotype()
        for warning in self.space.search_warnings(final):
            logging.warning("Searched architecture: %s", warning)
        if self.run.chief:
            genotypes.save(final, self.genotype_path)
        if self.latency is not None:
            self.latency.finish(final)
        return final

    def _argmax_genotype(self):
        mode = distributions.mode(self.trainer.logits())
        indices = {key: value.numpy() for key, value in mode.items()}
        return self.space.genotype_from_indices(indices, self.config)

    def _evaluate_argmax(self, num_batches):
        """Mean loss and accuracy of the argmax architecture over `num_batches` batches."""
        iterator = self.iterators["eval_iterator"]
        totals = {"loss": 0.0, "accuracy": 0.0}
        for _ in range(num_batches):
            for name, value in self._evaluate(next(iterator)).items():
                totals[name] += float(value) / num_batches
        return totals
