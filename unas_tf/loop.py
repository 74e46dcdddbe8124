"""The search's outer loop: everything built from a config, epochs, checkpoints, summaries, resume.

`run_search(config, workdir)` is what `launch/search.py` calls. The workdir holds:
  config.json        the resolved config (a rerun must match it to resume)
  genotype.json      the current argmax architecture, rewritten each epoch and at the end
  checkpoints/       w, phi, both optimizers, the step, estimator state, data positions
  tensorboard/       every metric of the step (losses and accuracies of the sampled
                     architectures, objective terms, the norm and estimated variance of the
                     architecture gradient), learning rates, selector entropies; each epoch
                     the argmax architecture's search-val loss and accuracy, heatmaps of the
                     selector probabilities and a drawing of the cells
  workers/           under several workers, the non-chief workers' checkpoints
Rerunning the same command on the same workdir resumes from the latest checkpoint. Under
several workers only the chief writes config.json, genotype.json and summaries.
"""

import json
import math
import os
import time

import keras
import tensorflow as tf
from absl import logging

from unas_tf import data, distributions, estimators, genotypes, strategies, summaries, trainer
from unas_tf.search_spaces import darts_supernet

RANDOM_ESTIMATOR = "random"  # uniform architectures: the paper's random-cell baseline
REFERENCE_BATCH_SIZE = 64  # scale_lr multiplies learning rates by batch_size / this
# The metrics of the progress line; TensorBoard receives every metric of the step.
PROGRESS_METRICS = ("train_loss", "train_accuracy", "arch_loss", "sampled/val_accuracy")


class SearchDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def validate(config):
    """Rejects impossible settings, naming the key.

    Raises:
      ValueError: a key with an impossible value.
    """
    known = (*estimators.known_names(), RANDOM_ESTIMATOR)
    checks = [
        ("batch_size", config.batch_size > 0, "a positive integer"),
        ("epochs", config.epochs > 0, "a positive integer"),
        ("warmup_epochs", 0 <= config.warmup_epochs < config.epochs, "0 <= warmup_epochs < epochs"),
        ("steps_per_epoch", config.steps_per_epoch >= 0, ">= 0 (0 = a full pass)"),
        ("layers", config.layers > 0, "a positive integer"),
        ("init_channels", config.init_channels > 0, "a positive integer"),
        ("num_ops", 1 <= config.num_ops <= len(genotypes.DARTS_OPS), "1..7"),
        ("temperature", config.temperature > 0, "> 0"),
        ("gap_weight", config.gap_weight >= 0, ">= 0"),
        ("arch_penalty_weight", config.arch_penalty_weight >= 0, ">= 0"),
        ("estimator", config.estimator in known, f"one of {list(known)}"),
        ("log_every", config.log_every > 0, "a positive integer"),
        ("eval_batches", config.eval_batches > 0, "a positive integer"),
        ("strategy", config.strategy in strategies.KNOWN, f"one of {list(strategies.KNOWN)}"),
    ]
    for key, valid, expected in checks:
        if not valid:
            raise ValueError(f"config.{key}: expected {expected}, got {config[key]!r}")
    # SearchSettings checks objective and sampling by name.
    _settings(config)


def _settings(config):
    try:
        return trainer.SearchSettings(
            objective=config.objective,
            gap_weight=config.gap_weight,
            arch_penalty_weight=config.arch_penalty_weight,
            sampling=config.sampling,
            temperature=config.temperature,
            grad_clip_norm=config.grad_clip_norm,
            global_batch_size=config.batch_size,
        )
    except ValueError as error:
        raise ValueError(f"config: {error}") from error


def _check_workdir(config, workdir):
    """Refuses a workdir that holds a search of another config (nothing is overwritten)."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as file:
        saved = json.load(file)
    current = json.loads(config.to_json())
    differing = sorted(
        key for key in set(saved) | set(current) if saved.get(key) != current.get(key)
    )
    if differing:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in differing)
        raise ValueError(
            f"workdir {workdir} holds a search with another config ({details}); "
            "use a new --workdir or the same config to resume"
        )


def _write_json_atomically(path, text):
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


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


def _current_genotype(distribution, ops):
    mode = {key: value.numpy() for key, value in distributions.mode(distribution.logits).items()}
    return genotypes.darts_from_indices(mode, ops)


def run_search(config, workdir):
    """Runs (or resumes) a UNAS search in the DARTS space; returns the final genotype.

    Args:
      config: a search preset (configs/search/*.py), possibly overridden.
      workdir: directory of the run's outputs; created if missing.

    Raises:
      ValueError: an impossible config value, or a workdir of another config.
      data.DatasetNotPreparedError: the data set is not in data_dir.
      SearchDiverged: the loss became NaN or infinite.
    """
    validate(config)
    _check_workdir(config, workdir)
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
    total_steps = config.epochs * steps_per_epoch
    search_steps = (config.epochs - config.warmup_epochs) * steps_per_epoch
    ops = genotypes.DARTS_OPS[: config.num_ops]

    os.makedirs(workdir, exist_ok=True)
    if chief:
        _write_json_atomically(os.path.join(workdir, "config.json"), config.to_json(indent=2))

    weight_lr, weight_lr_final, arch_lr, arch_lr_final = _learning_rates(config)
    with strategy.scope():
        supernet = darts_supernet.Supernet(
            search.num_classes, config.init_channels, config.layers, ops, stem=config.stem
        )
        distribution = distributions.ArchitectureDistribution(
            genotypes.darts_choice_shapes(len(ops))
        )
        estimator = None
        if config.estimator != RANDOM_ESTIMATOR:
            kwargs = {"temperature": config.temperature}
            if config.estimator == "reinforce":
                kwargs["baseline"] = "ema"
            estimator = estimators.create(config.estimator, **kwargs)
        weight_optimizer = keras.optimizers.Adam(
            _cosine(weight_lr, weight_lr_final, total_steps),
            weight_decay=config.weight_decay,
        )
        arch_optimizer = keras.optimizers.Adam(
            _cosine(arch_lr, arch_lr_final, search_steps),
            weight_decay=config.arch_weight_decay,
        )
        train_iterator, val_iterator = iter(search.train), iter(search.val)
        # Its own stream, so that evaluating leaves the search's batches unchanged.
        eval_iterator = iter(search.val)
        first = next(iter(search.val))
        supernet(first["image"][:1], distribution.sample(1, seed=0))  # builds every edge
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
        )

    estimator_state = [
        v for v in vars(estimator or object()).values() if isinstance(v, tf.Variable)
    ]
    checkpoint = tf.train.Checkpoint(
        supernet=supernet,
        # Listed explicitly: tf.train.Checkpoint does not follow Keras 3 layers kept in lists.
        supernet_variables=supernet.variables,
        distribution=distribution,
        weight_optimizer=weight_optimizer,
        arch_optimizer=arch_optimizer,
        step=search_trainer.step,
        estimator_state=estimator_state,
        train_iterator=train_iterator,
        val_iterator=val_iterator,
        eval_iterator=eval_iterator,
    )
    manager = tf.train.CheckpointManager(
        checkpoint,
        strategies.checkpoint_dir(workdir, strategy),
        max_to_keep=config.checkpoints_to_keep,
    )
    # Every worker resumes from the chief's checkpoint when it can see it (a shared file
    # system), else from its own scratch copy, which holds the same state.
    latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    latest = latest or manager.latest_checkpoint
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        logging.info("Resumed %s at step %d.", latest, int(search_trainer.step.numpy()))

    steps = {
        flag: tf.function(lambda train, val, flag=flag: search_trainer.train_step(train, val, flag))
        for flag in (False, True)
    }
    evaluate = tf.function(search_trainer.evaluate_step)
    if chief:
        writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))
    else:
        writer = tf.summary.create_noop_writer()
    genotype_path = os.path.join(workdir, "genotype.json")
    if chief:
        genotypes.save(_current_genotype(distribution, ops), genotype_path)

    start_step, start_time = int(search_trainer.step.numpy()), time.perf_counter()
    while (step := int(search_trainer.step.numpy())) < total_steps:
        epoch = step // steps_per_epoch
        searching = epoch >= config.warmup_epochs and estimator is not None
        metrics = steps[searching](next(train_iterator), next(val_iterator))
        step += 1
        if step % config.log_every == 0 or step % steps_per_epoch == 0:
            values = {name: float(value) for name, value in metrics.items()}
            if not all(math.isfinite(value) for value in values.values()):
                kept = manager.latest_checkpoint or "none was written yet"
                raise SearchDiverged(
                    f"step {step}: a loss is not finite ({values}); stopped without saving, "
                    f"the last good checkpoint is kept ({kept})"
                )
            elapsed = time.perf_counter() - start_time
            rate = (step - start_step) / elapsed
            logging.info(
                "step %d/%d epoch %d/%d%s %s | %.2f steps/s, ETA %.0f s",
                step,
                total_steps,
                epoch + 1,
                config.epochs,
                "" if searching else " (warm-up)",
                " ".join(
                    f"{name} {values[name]:.4f}" for name in PROGRESS_METRICS if name in values
                ),
                rate,
                (total_steps - step) / rate,
            )
            with writer.as_default(step=step):
                for name, value in values.items():
                    tf.summary.scalar(name, value)
                tf.summary.scalar("lr/weights", weight_optimizer.learning_rate)
                tf.summary.scalar("lr/architecture", arch_optimizer.learning_rate)
                for group, entropy in distributions.entropy(distribution.logits).items():
                    tf.summary.scalar(f"entropy/{group}", tf.reduce_mean(entropy))
        if step % steps_per_epoch == 0:
            scores = _evaluate(evaluate, eval_iterator, config.eval_batches)
            logging.info(
                "epoch %d/%d: argmax architecture on %d search-val batches: "
                "loss %.4f accuracy %.4f",
                epoch + 1,
                config.epochs,
                config.eval_batches,
                scores["loss"],
                scores["accuracy"],
            )
            manager.save(checkpoint_number=step)  # on every worker: saving is collective
            genotype = _current_genotype(distribution, ops)
            if chief:
                genotypes.save(genotype, genotype_path)
                with writer.as_default(step=step):
                    for name, value in scores.items():
                        tf.summary.scalar(f"argmax/val_{name}", value)
                    _write_pictures(distribution, genotype, ops)
    writer.flush()
    final = _current_genotype(distribution, ops)
    if chief:
        genotypes.save(final, genotype_path)
    return final


def _evaluate(evaluate, iterator, num_batches):
    """Mean loss and accuracy of the argmax architecture over `num_batches` batches."""
    totals = {"loss": 0.0, "accuracy": 0.0}
    for _ in range(num_batches):
        for name, value in evaluate(next(iterator)).items():
            totals[name] += float(value) / num_batches
    return totals


def _write_pictures(distribution, genotype, ops):
    """TensorBoard images: the selector probabilities and the cells of the argmax genotype."""
    probabilities = {
        key: tf.nn.softmax(logits).numpy() for key, logits in distribution.logits.items()
    }
    tf.summary.image("selector_probabilities", summaries.selector_heatmap(probabilities, ops))
    tf.summary.image("cells", summaries.cells_image(genotype))
