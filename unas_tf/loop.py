"""The search's outer loop: everything built from a config, epochs, checkpoints, summaries, resume.

`run_search(config, workdir)` is what `launch/search.py` calls. The workdir holds:
  config.json        the resolved config (a rerun must match it to resume)
  genotype.json      the current argmax architecture, rewritten each epoch and at the end
  checkpoints/       w, phi, both optimizers, the step, estimator state, data positions
  tensorboard/       every metric of the step (losses and accuracies of the sampled
                     architectures, objective terms, the norm and estimated variance of the
                     architecture gradient), learning rates, selector entropies; each epoch
                     the argmax architecture's search-val loss and accuracy, heatmaps of the
                     space's pictures (DARTS: selector heatmaps and a drawing of the
                     cells; ProxylessNAS: a heatmap of the layer choices)
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

import json
import math
import os
import time
from typing import NamedTuple

import keras
import tensorflow as tf
from absl import logging

from unas_tf import (
    checkpoints,
    data,
    distributions,
    estimators,
    genotypes,
    objectives,
    run_directory,
    runtime,
    strategies,
    trainer,
)
from unas_tf.latency import measure, measuring_process
from unas_tf.latency import objective as latency_objective
from unas_tf.latency import surrogate as latency_surrogate
from unas_tf.search_spaces import base as search_space_base

REFERENCE_BATCH_SIZE = 64  # scale_lr multiplies learning rates by batch_size / this
# The metrics of the progress line; TensorBoard receives every metric of the step.
PROGRESS_METRICS = (
    "train_loss",
    "train_accuracy",
    "arch_loss",
    "sampled/val_accuracy",
    "latency/sampled_ms",
)
LATENCY_FILE = "latency_measurements.json"
# Stream of the stateless seeds of the latency architectures, apart from the step's own.
_LATENCY_SEED_STREAM = 1


class SearchDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def validate(config):
    """Rejects impossible settings, naming the key.

    Raises:
      ValueError: a key with an impossible value.
    """
    known = estimators.known_names()
    checks = [
        ("batch_size", config.batch_size > 0, "a positive integer"),
        ("epochs", config.epochs > 0, "a positive integer"),
        ("warmup_epochs", 0 <= config.warmup_epochs < config.epochs, "0 <= warmup_epochs < epochs"),
        ("steps_per_epoch", config.steps_per_epoch >= 0, ">= 0 (0 = a full pass)"),
        ("layers", config.layers > 0, "a positive integer"),
        ("init_channels", config.init_channels > 0, "a positive integer"),
        ("temperature", config.temperature > 0, "> 0"),
        ("gap_weight", config.gap_weight >= 0, ">= 0"),
        (
            "gap_form",
            config.gap_form in objectives.GAP_FORMS,
            f"one of {list(objectives.GAP_FORMS)}",
        ),
        ("arch_penalty_weight", config.arch_penalty_weight >= 0, ">= 0"),
        ("estimator", config.estimator in known, f"one of {list(known)}"),
        ("log_every", config.log_every > 0, "a positive integer"),
        ("eval_batches", config.eval_batches > 0, "a positive integer"),
        ("strategy", config.strategy in strategies.KNOWN, f"one of {list(strategies.KNOWN)}"),
    ]
    for key, valid, expected in checks:
        if not valid:
            raise ValueError(f"config.{key}: expected {expected}, got {config[key]!r}")
    space = search_space_base.of_config(config)
    space.validate_search(config)
    if space.measures_latency:
        _validate_latency(config)
    # SearchSettings checks objective and sampling by name.
    _settings(config)


def _validate_latency(config):
    """Checks the `latency` section of a search in a space that measures latency."""
    if "latency" not in config:
        raise ValueError(
            "config.latency: missing; a latency-measuring search needs a `latency` section (see "
            "configs/search/proxyless_digits.py)"
        )
    latency = config.latency
    surrogate_left = latency.surrogate_architectures - math.floor(
        latency.surrogate_architectures * latency.holdout_fraction
    )
    checks = [
        ("target_ms", latency.target_ms > 0, "a positive target latency in milliseconds"),
        ("weight", latency.weight >= 0, ">= 0"),
        (
            "estimator",
            latency.estimator in latency_objective.ESTIMATORS,
            f"one of {list(latency_objective.ESTIMATORS)}",
        ),
        ("holdout_fraction", 0 <= latency.holdout_fraction < 1, "0 <= holdout_fraction < 1"),
        (
            "surrogate_architectures",
            surrogate_left >= 2,
            "at least 2 architectures left to fit after holding out holdout_fraction",
        ),
        ("l2", latency.l2 > 0, "> 0"),
        (
            "batch_size",
            latency.batch_size <= config.batch_size,
            f"at most config.batch_size={config.batch_size} (the data batch)",
        ),
    ]
    for key, valid, expected in checks:
        if not valid:
            raise ValueError(f"config.latency.{key}: expected {expected}, got {latency[key]!r}")
    measuring_process.search_meter(config, num_classes=1)  # names a bad meter setting


def _settings(config):
    try:
        return trainer.SearchSettings(
            objective=config.objective,
            gap_weight=config.gap_weight,
            gap_form=config.gap_form,
            arch_penalty_weight=config.arch_penalty_weight,
            sampling=config.sampling,
            temperature=config.temperature,
            grad_clip_norm=config.grad_clip_norm,
            global_batch_size=config.batch_size,
            weight_decay=config.weight_decay,
            arch_weight_decay=config.arch_weight_decay,
        )
    except ValueError as error:
        raise ValueError(f"config: {error}") from error


def _cosine(initial, final, steps):
    return keras.optimizers.schedules.CosineDecay(
        initial, decay_steps=max(steps, 1), alpha=final / initial
    )


def _learning_rates(config):
    """(weight initial, weight final, arch initial, arch final), scaled if `scale_lr` is set."""
    scale = config.batch_size / REFERENCE_BATCH_SIZE if config.scale_lr else 1.0
    rates = (config.weight_lr, config.weight_lr_final, config.arch_lr, config.arch_lr_final)
    return tuple(rate * scale for rate in rates)


def _check_replicas(config, strategy):
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(
            f"config.batch_size: the global batch {config.batch_size} must split evenly over "
            f"the {replicas} replicas"
        )


def _current_genotype(search_trainer, space, ops):
    mode = distributions.mode(search_trainer.logits())
    return space.genotype_from_indices({key: value.numpy() for key, value in mode.items()}, ops)


def _latency_seed(seed, step):
    """The stateless seed of step `step`'s latency architecture: [2] int32."""
    folded = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, _LATENCY_SEED_STREAM], tf.int64), step
    )
    return tf.cast(folded, tf.int32)


class _LatencyRecord:
    """The search's latency measurements, in `LATENCY_FILE` so that a resumed run reuses them.

    Args:
      meter: the `measure.LatencyMeter`; its cache holds every measurement.
      path: the JSON file.
      writes: whether this worker writes the file (the chief).
    """

    def __init__(self, meter, path, writes):
        self.meter = meter
        self.path = path
        self.writes = writes
        self.loaded = 0
        if os.path.exists(path):
            with open(path) as file:
                saved = json.load(file)
            for entry in saved["measurements"]:
                genotype = genotypes.from_json(json.dumps(entry["genotype"]))
                meter.remember(genotype, measure.Measurement.from_dict(entry))
            self.loaded = len(saved["measurements"])

    def save(self):
        if not self.writes:
            return
        entries = [
            {"genotype": json.loads(genotypes.to_json(genotype)), **measurement.as_dict()}
            for genotype, measurement in self.meter.measurements()
        ]
        run_directory.write_json_atomically(self.path, {"measurements": entries})


def _latency_setup(config, record):
    """Measures the surrogate's random architectures (unless saved) and fits g.

    Returns:
      (`LatencySurrogate`, `SurrogateFit`).
    """
    latency = config.latency
    surrogate = latency_surrogate.LatencySurrogate(record.meter)
    before = record.meter.num_measured
    start = time.perf_counter()
    surrogate.measure_random(latency.surrogate_architectures, seed=config.seed)
    logging.info(
        "Latency surrogate: %d random architectures, %d measured now in %.0f s, %d read from %s",
        latency.surrogate_architectures,
        record.meter.num_measured - before,
        time.perf_counter() - start,
        record.loaded,
        record.path,
    )
    record.save()
    fit = surrogate.fit(latency.l2, latency.holdout_fraction, seed=config.seed)
    return surrogate, fit


def run_search(config, workdir):
    """Runs (or resumes) a UNAS search; returns the final genotype.

    Args:
      config: a search preset (configs/search/*.py), possibly overridden.
      workdir: directory of the run's outputs; created if missing.

    Raises:
      ValueError: an impossible config value, or a workdir of another config.
      data.DatasetNotPreparedError: the data set is not in data_dir.
      SearchDiverged: the loss became NaN or infinite.
      run_directory.WorkdirBusy: another process works in `workdir`.
    """
    validate(config)
    run_directory.refuse_another_config(config, workdir, "search")
    with run_directory.lock(strategies.process_directory(workdir)):
        return _search(config, workdir)


def _search(config, workdir):
    """`run_search` once the config is checked and this process holds the workdir."""
    # Before any other TensorFlow work: several workers configure collectives at start-up.
    strategy = strategies.create(config.strategy)
    _check_replicas(config, strategy)
    chief = strategies.is_chief(strategy)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
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
    if not space.measures_latency:  # else latency may be measured in this process
        runtime.skip_idle_graph_passes()

    if chief:
        run_directory.save_config(config, workdir)

    record = None
    if space.measures_latency:
        meter = measuring_process.search_meter(config, search.num_classes)
        record = _LatencyRecord(meter, os.path.join(workdir, LATENCY_FILE), chief)

    with strategy.scope():
        iterators = {
            "train_iterator": iter(search.train),
            "val_iterator": iter(search.val),
            # Its own stream, so that evaluating leaves the search's batches unchanged.
            "eval_iterator": iter(search.val),
        }
        search_trainer, fit = _build_trainer(config, space, strategy, search, record, schedule)
    ops = space.ops(config)
    manager = _restore_or_start(config, workdir, strategy, search_trainer, iterators)

    steps = {
        flag: tf.function(lambda train, val, flag=flag: search_trainer.train_step(train, val, flag))
        for flag in (False, True)
    }
    latency_step = tf.function(
        lambda train, val, latency: search_trainer.train_step(train, val, True, latency)
    )
    evaluate = tf.function(search_trainer.evaluate_step)
    if chief:
        writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))
    else:
        writer = tf.summary.create_noop_writer()
    genotype_path = os.path.join(workdir, "genotype.json")
    if chief:
        genotypes.save(_current_genotype(search_trainer, space, ops), genotype_path)
    if fit is not None and chief:
        with writer.as_default(step=int(search_trainer.step.numpy())):
            tf.summary.scalar("latency/surrogate_holdout_mae", fit.holdout_mae)
            tf.summary.scalar("latency/surrogate_holdout_r2", fit.holdout_r2)

    objective = search_trainer.latency_objective
    progress = _Progress(int(search_trainer.step.numpy()), time.perf_counter(), schedule.total)
    while (step := int(search_trainer.step.numpy())) < schedule.total:
        epoch = step // steps_per_epoch
        searching = epoch >= config.warmup_epochs and search_trainer.estimator.updates_architecture
        train, val = next(iterators["train_iterator"]), next(iterators["val_iterator"])
        measured = {}
        if searching and objective is not None:
            latency, measured = _latency_inputs(
                objective,
                search_trainer,
                space,
                record.meter,
                config,
                step,
                schedule.search_start,
                schedule.search,
            )
            metrics = latency_step(train, val, latency)
        else:
            metrics = steps[searching](train, val)
        step += 1
        if step % config.log_every == 0 or step % steps_per_epoch == 0:
            values = {name: float(value) for name, value in metrics.items()}
            values.update(measured)
            if not all(math.isfinite(value) for value in values.values()):
                kept = manager.latest_checkpoint or "none was written yet"
                raise SearchDiverged(
                    f"step {step}: a loss is not finite ({values}); stopped without saving, "
                    f"the last good checkpoint is kept ({kept})"
                )
            progress.log(step, epoch, config.epochs, searching, values)
            with writer.as_default(step=step):
                _write_step_summaries(search_trainer, values)
        if step % steps_per_epoch == 0:
            scores = _evaluate(evaluate, iterators["eval_iterator"], config.eval_batches)
            logging.info(
                "epoch %d/%d: argmax architecture on %d search-val batches: "
                "loss %.4f accuracy %.4f",
                epoch + 1,
                config.epochs,
                config.eval_batches,
                scores["loss"],
                scores["accuracy"],
            )
            genotype = _current_genotype(search_trainer, space, ops)
            if record is not None:
                scores["latency_ms"] = _end_of_epoch_latency(
                    config, record, objective, genotype, epoch
                )
            manager.save(checkpoint_number=step)  # on every worker: saving is collective
            if chief:
                genotypes.save(genotype, genotype_path)
                with writer.as_default(step=step):
                    for name, value in scores.items():
                        tf.summary.scalar(f"argmax/val_{name}", value)
                    space.epoch_summaries(search_trainer.logits(), genotype)
    writer.flush()
    final = _current_genotype(search_trainer, space, ops)
    if chief:
        genotypes.save(final, genotype_path)
    if record is not None:
        logging.info(
            "Final architecture: latency %.3f ms (target %.3f ms)",
            record.meter.measure(final).median_ms,
            config.latency.target_ms,
        )
        record.save()
    return final


class _Schedule(NamedTuple):
    """Step counts of a search: weights alone for `search_start` steps, then both."""

    total: int
    search_start: int
    search: int


def _build_trainer(config, space, strategy, search, record, schedule):
    """The supernet, phi, estimators and optimizers, built, in a `SearchTrainer` (call in scope).

    Returns:
      (the `SearchTrainer`, the op names, the latency surrogate's `SurrogateFit` or None).
    """
    weight_lr, weight_lr_final, arch_lr, arch_lr_final = _learning_rates(config)
    supernet = space.build_supernet(config, search.num_classes)
    distribution = distributions.ArchitectureDistribution(
        space.choice_shapes(config), space.choice_masks(config)
    )
    objective = fit = None
    if record is not None and config.latency.weight > 0:
        surrogate, fit = _latency_setup(config, record)
        objective = latency_objective.LatencyObjective(
            surrogate, config.latency.target_ms, config.latency.estimator, config.temperature
        )
    estimator = estimators.create_for_search(config.estimator, config.temperature)
    # Weight decay is L2 in the gradient, added by the trainer (see unas_tf/trainer.py).
    weight_optimizer = keras.optimizers.Adam(_cosine(weight_lr, weight_lr_final, schedule.total))
    arch_optimizer = keras.optimizers.Adam(_cosine(arch_lr, arch_lr_final, schedule.search))
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
    )
    return search_trainer, fit


def _restore_or_start(config, workdir, strategy, search_trainer, iterators):
    """The search's checkpoint manager, after restoring its latest checkpoint if there is one."""
    latency_state = {}
    objective = search_trainer.latency_objective
    if objective is not None:
        # g too: refits during the search change it, and a resumed search must use the same.
        latency_state = dict(
            latency_surrogate=objective.surrogate.linear, latency_estimator=objective.state
        )
    supernet = search_trainer.supernet
    checkpoint = tf.train.Checkpoint(
        **latency_state,
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
    return checkpoints.restore_latest(checkpoint, workdir, strategy, config.checkpoints_to_keep)


class _Progress:
    """The progress line: the step, the epoch, `PROGRESS_METRICS`, the rate and the ETA."""

    def __init__(self, start_step, start_time, total_steps):
        self.start_step = start_step
        self.start_time = start_time
        self.total_steps = total_steps

    def log(self, step, epoch, epochs, searching, values):
        rate = (step - self.start_step) / (time.perf_counter() - self.start_time)
        logging.info(
            "step %d/%d epoch %d/%d%s %s | %.2f steps/s, ETA %.0f s",
            step,
            self.total_steps,
            epoch + 1,
            epochs,
            "" if searching else " (warm-up)",
            " ".join(f"{name} {values[name]:.4f}" for name in PROGRESS_METRICS if name in values),
            rate,
            (self.total_steps - step) / rate,
        )


def _write_step_summaries(search_trainer, values):
    """TensorBoard scalars of a step: its metrics, learning rates, selector entropies."""
    for name, value in values.items():
        tf.summary.scalar(name, value)
    tf.summary.scalar("lr/weights", search_trainer.weight_optimizer.learning_rate)
    tf.summary.scalar("lr/architecture", search_trainer.arch_optimizer.learning_rate)
    for group, entropy in search_trainer.distribution.entropy().items():
        tf.summary.scalar(f"entropy/{group}", tf.reduce_mean(entropy))


def _latency_inputs(
    objective, search_trainer, space, meter, config, step, search_start, search_steps
):
    """Draws and measures step `step`'s latency architecture, eagerly (UNAS App. E.1).

    Returns:
      (the step's `latency` argument, a dict of the measured figures to log).
    """
    seed = _latency_seed(config.seed, step)
    sample = objective.draw(search_trainer.latency_logits(), seed)
    indices = {
        key: tf.argmax(value[0], axis=-1, output_type=tf.int32) for key, value in sample.items()
    }
    latency_ms = meter.measure(
        space.genotype_from_indices(
            {key: value.numpy() for key, value in indices.items()}, space.ops(config)
        )
    ).median_ms
    weight = latency_objective.annealed_weight(
        step, search_start, search_steps, config.latency.weight
    )
    latency = {
        "seed": seed,
        "indices": indices,
        "latency_ms": tf.constant(latency_ms, tf.float32),
        "weight": tf.constant(weight, tf.float32),
    }
    return latency, {"latency/sampled_ms": latency_ms, "latency/weight": weight}


def _end_of_epoch_latency(config, record, objective, genotype, epoch):
    """Measures the argmax architecture, saves the measurements, refits g if asked; returns ms."""
    latency_ms = record.meter.measure(genotype).median_ms
    logging.info(
        "epoch %d/%d: argmax architecture latency %.3f ms (target %.3f ms), %d measured so far",
        epoch + 1,
        config.epochs,
        latency_ms,
        config.latency.target_ms,
        record.meter.num_measured,
    )
    record.save()
    if objective is not None and config.latency.refit_every_epoch:
        surrogate = objective.surrogate
        known = {genotypes.to_json(g) for g in surrogate.genotypes}
        for measured, measurement in record.meter.measurements():
            if genotypes.to_json(measured) not in known:
                surrogate.add(measured, measurement.median_ms)
        surrogate.fit(config.latency.l2, config.latency.holdout_fraction, seed=config.seed)
    return latency_ms


def _evaluate(evaluate, iterator, num_batches):
    """Mean loss and accuracy of the argmax architecture over `num_batches` batches."""
    totals = {"loss": 0.0, "accuracy": 0.0}
    for _ in range(num_batches):
        for name, value in evaluate(next(iterator)).items():
            totals[name] += float(value) / num_batches
    return totals
