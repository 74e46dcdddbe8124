"""The search's outer loop: everything built from a config, epochs, checkpoints, summaries, resume.

`run_search(config, workdir)` is what `launch/search.py` calls. The workdir holds:
  config.json        the resolved config (a rerun must match it to resume)
  genotype.json      the current argmax architecture, rewritten each epoch and at the end
  checkpoints/       w, phi, both optimizers, the step, estimator state, data positions
  tensorboard/       every metric of the step (losses and accuracies of the sampled
                     architectures, objective terms, the norm and estimated variance of the
                     architecture gradient), learning rates, selector entropies; each epoch
                     the argmax architecture's search-val loss and accuracy, its JSON as a
                     text, and the space's pictures (DARTS: selector heatmaps and a drawing
                     of the cells; ProxylessNAS: a heatmap of the layer choices and a drawing
                     of the layers); at the start, the config and the genotype as JSON texts
  latency_measurements.json  (spaces that measure latency) every latency measured: the random
                     architectures the surrogate is fit to, the search's samples and argmax
                     architectures; a resumed search reads it instead of measuring again
  workers/           under several workers, the non-chief workers' checkpoints
  .lock              held by the process working in the workdir (`run_directory.lock`)
Rerunning the same command on the same workdir resumes from the newest checkpoint that
restores (`checkpoints.restore_latest`). Under several workers only the chief writes
config.json, genotype.json and summaries.

`config.space` names the registered `search_spaces.base.SearchSpace` the loop asks for the
supernet, the choices, genotypes and pictures: "darts" (the default: factorized cells, UNAS
Sec. 4) or "proxyless" (21 MBConv layers, UNAS Sec. 5 and App. E). In a space that measures
latency the search may add the term lambda_lat(t) max(0, L_lat(z) - t_target) of App. E.1
(`config.latency`).
"""

import math
import os
from typing import NamedTuple

import keras
import tensorflow as tf
from absl import logging

from unas_tf import (
    adam,
    config_checks,
    data,
    distributions,
    estimators,
    genotypes,
    objectives,
    runs,
    strategies,
    summaries,
    trainer,
)
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
    if space.measures_latency:
        search_term.validate(config)
    _check_data_sizes(config)
    # SearchSettings checks objective and sampling by name.
    _settings(config)


def _rules():
    """The rule of every key a search reads itself (its space and latency term check theirs)."""
    rules = config_checks
    return {
        "space": rules.TEXT,  # the registry names the spaces it has
        "dataset": rules.one_of(data.KNOWN_DATASETS),
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
        "objective": rules.one_of(trainer.OBJECTIVES),
        "sampling": rules.one_of(trainer.SAMPLING),
        "weight_sample": rules.one_of(trainer.WEIGHT_SAMPLES),
        "gap_weight": rules.NON_NEGATIVE,
        "gap_form": rules.one_of(objectives.GAP_FORMS),
        "arch_penalty_weight": rules.NON_NEGATIVE,
        "estimator": rules.one_of(estimators.known_names()),
        "eval_batches": rules.POSITIVE_INT,
        "log_every": rules.POSITIVE_INT,
        "checkpoints_to_keep": rules.POSITIVE_INT,
        "strategy": rules.one_of(strategies.KNOWN),
        "seed": rules.NON_NEGATIVE_INT,
        "deterministic": rules.BOOLEAN,
    }


def _check_data_sizes(config):
    """The batch and the evaluation batches within the data set, the images within memory."""
    sizes = config_checks.data_sizes(config)
    if sizes is None:
        return
    num_val = data.held_out_examples(sizes.train, data.DEFAULT_VAL_FRACTION)
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
        return trainer.SearchSettings(
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


def _current_genotype(search_trainer, space, ops):
    mode = distributions.mode(search_trainer.logits())
    return space.genotype_from_indices({key: value.numpy() for key, value in mode.items()}, ops)


def run_search(config, workdir):
    """Runs (or resumes) a UNAS search; returns the final genotype.

    Args:
      config: a search preset (configs/search/*.py), possibly overridden.
      workdir: directory of the run's outputs; created if missing.

    Raises:
      ValueError: an impossible config value, or a workdir of another config.
      data.DatasetNotPreparedError: the data set is not in data_dir.
      runs.Diverged: the loss became NaN or infinite.
      run_directory.WorkdirBusy: another process works in `workdir`.
    """
    validate(config)
    with runs.start(config, workdir, "search") as run:
        return _search(run)


def _search(run):
    """The search of a started run: data, trainer, steps, epoch work; returns the genotype."""
    config, workdir, chief = run.config, run.workdir, run.chief
    search = data.search_data(
        config.dataset,
        config.batch_size,
        config.image_size,
        config.seed,
        data_dir=config.data_dir or None,
    )
    steps_per_epoch = config.steps_per_epoch or search.steps_per_epoch
    schedule = _Schedule(
        total=config.epochs * steps_per_epoch,
        search_start=config.warmup_epochs * steps_per_epoch,
        search=(config.epochs - config.warmup_epochs) * steps_per_epoch,
    )
    space = search_space_base.of_config(config)
    run.save_config()
    latency = None
    if space.measures_latency:
        latency = search_term.SearchLatency(config, space, workdir, chief, search.num_classes)

    with run.strategy.scope():
        iterators = {
            "train_iterator": iter(search.train),
            "val_iterator": iter(search.val),
            # Its own stream, so that evaluating leaves the search's batches unchanged.
            "eval_iterator": iter(search.val),
        }
        search_trainer = _build_trainer(config, space, run.strategy, search, latency, schedule)
    ops = space.ops(config)
    run.restore(_checkpoint(search_trainer, iterators, latency))

    steps = {flag: search_trainer.step_function(flag) for flag in (False, True)}
    evaluate = tf.function(search_trainer.evaluate_step, autograph=False)
    genotype_path = os.path.join(workdir, "genotype.json")
    if chief:
        genotype = _current_genotype(search_trainer, space, ops)
        genotypes.save(genotype, genotype_path)
        with run.writer.as_default(step=int(search_trainer.step.numpy())):
            summaries.write_run_texts(config, genotype)
            if latency is not None:
                latency.write_fit_summaries()

    def searching(epoch):
        return epoch >= config.warmup_epochs and search_trainer.estimator.updates_architecture

    def run_step(step, epoch):
        train, val = next(iterators["train_iterator"]), next(iterators["val_iterator"])
        if searching(epoch) and search_trainer.latency_objective is not None:
            inputs, measured = latency.step_inputs(
                search_trainer, step, schedule.search_start, schedule.search
            )
            return {**steps[True](train, val, inputs), **measured}
        return steps[searching(epoch)](train, val)

    def describe(values, epoch):
        shown = " ".join(f"{n} {values[n]:.4f}" for n in PROGRESS_METRICS if n in values)
        return f"{'' if searching(epoch) else ' (warm-up)'} {shown}"

    def end_epoch(step, epoch):
        scores = _evaluate(evaluate, iterators["eval_iterator"], config.eval_batches)
        logging.info(
            "epoch %d/%d: argmax architecture on %d search-val batches: loss %.4f accuracy %.4f",
            epoch + 1,
            config.epochs,
            config.eval_batches,
            scores["loss"],
            scores["accuracy"],
        )
        genotype = _current_genotype(search_trainer, space, ops)
        if latency is not None:
            scores["latency_ms"] = latency.end_of_epoch(genotype, epoch)
        if chief:
            genotypes.save(genotype, genotype_path)
            with run.writer.as_default(step=step):
                for name, value in scores.items():
                    tf.summary.scalar(f"argmax/val_{name}", value)
                summaries.write_genotype_text(genotype)
                space.epoch_summaries(search_trainer.logits(), genotype)

    run.loop(
        search_trainer.step,
        stop=schedule.total,
        total=schedule.total,
        steps_per_epoch=steps_per_epoch,
        run_step=run_step,
        describe=describe,
        summarize=lambda values, epoch: _write_step_summaries(search_trainer, values),
        end_epoch=end_epoch,
        phase=lambda epoch: "search step" if searching(epoch) else "warm-up step",
    )
    final = _current_genotype(search_trainer, space, ops)
    if chief:
        genotypes.save(final, genotype_path)
    if latency is not None:
        latency.finish(final)
    return final


class _Schedule(NamedTuple):
    """Step counts of a search: weights alone for `search_start` steps, then both."""

    total: int
    search_start: int
    search: int


def _build_trainer(config, space, strategy, search, latency, schedule):
    """The supernet, phi, estimators and optimizers, built, in a `SearchTrainer` (call in scope).

    `latency`, a `search_term.SearchLatency` or None, fits its surrogate first.
    """
    weight_schedule, arch_schedule = learning_rate_schedules(
        config, schedule.total, schedule.search
    )
    supernet = space.build_supernet(config, search.num_classes)
    distribution = distributions.ArchitectureDistribution(
        space.choice_shapes(config), space.choice_masks(config)
    )
    objective = latency.build_objective() if latency is not None else None
    estimator = estimators.create_for_search(config.estimator, config.temperature)
    # PyTorch's Adam, as the released code's; weight decay is L2 in the gradient, added by
    # the trainer (see unas_tf/trainer.py).
    weight_optimizer = adam.Adam(weight_schedule)
    arch_optimizer = adam.Adam(arch_schedule)
    first = next(iter(search.val))
    supernet(first["image"][:1], distribution.sample(1, seed=0))  # builds every candidate
    weight_optimizer.build(supernet.trainable_weights)
    arch_optimizer.build(distribution.trainable_variables)
    search_trainer = trainer.SearchTrainer(
        supernet,
        distribution,
        estimator,
        weight_optimizer,
        arch_optimizer,
        _settings(config),
        config.seed,
        strategy,
        latency_objective=objective,
        architecture_penalty=space.architecture_penalty,
    )
    return search_trainer


def _checkpoint(search_trainer, iterators, latency):
    """The search's `tf.train.Checkpoint`: everything a resumed search must continue from."""
    supernet = search_trainer.supernet
    return tf.train.Checkpoint(
        **(latency.checkpoint_state() if latency is not None else {}),
        **iterators,
        supernet=supernet,
        # Listed explicitly: tf.train.Checkpoint does not follow Keras 3 layers kept in lists.
        supernet_variables=supernet.variables,
        distribution=search_trainer.distribution,
        weight_optimizer=search_trainer.weight_optimizer,
        arch_optimizer=search_trainer.arch_optimizer,
        step=search_trainer.step,
        estimator=search_trainer.estimator,
    )


def _write_step_summaries(search_trainer, values):
    """TensorBoard scalars of a step: its metrics, learning rates, selector entropies."""
    for name, value in values.items():
        tf.summary.scalar(name, value)
    tf.summary.scalar("lr/weights", search_trainer.weight_optimizer.learning_rate)
    tf.summary.scalar("lr/architecture", search_trainer.arch_optimizer.learning_rate)
    for group, entropy in search_trainer.distribution.entropy().items():
        tf.summary.scalar(f"entropy/{group}", tf.reduce_mean(entropy))


def _evaluate(evaluate, iterator, num_batches):
    """Mean loss and accuracy of the argmax architecture over `num_batches` batches."""
    totals = {"loss": 0.0, "accuracy": 0.0}
    for _ in range(num_batches):
        for name, value in evaluate(next(iterator)).items():
            totals[name] += float(value) / num_batches
    return totals
