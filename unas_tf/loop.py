"""The search's outer loop: everything built from a config, epochs, checkpoints, summaries, resume.

`run_search(config, workdir)` is what `launch/search.py` calls. The workdir holds:
  config.json        the resolved config (a rerun must match it to resume)
  genotype.json      the current argmax architecture, rewritten each epoch and at the end
  checkpoints/       w, phi, both optimizers, the step, estimator state, data positions
  tensorboard/       losses, accuracy, learning rates, selector entropies
Rerunning the same command on the same workdir resumes from the latest checkpoint.
"""

import json
import math
import os
import time

import keras
import tensorflow as tf
from absl import logging

from unas_tf import data, distributions, estimators, genotypes, trainer
from unas_tf.search_spaces import darts_supernet

RANDOM_ESTIMATOR = "random"  # uniform architectures: the paper's random-cell baseline


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
    _write_json_atomically(os.path.join(workdir, "config.json"), config.to_json(indent=2))

    strategy = tf.distribute.get_strategy()
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
            _cosine(config.weight_lr, config.weight_lr_final, total_steps),
            weight_decay=config.weight_decay,
        )
        arch_optimizer = keras.optimizers.Adam(
            _cosine(config.arch_lr, config.arch_lr_final, search_steps),
            weight_decay=config.arch_weight_decay,
        )
        train_iterator, val_iterator = iter(search.train), iter(search.val)
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
        distribution=distribution,
        weight_optimizer=weight_optimizer,
        arch_optimizer=arch_optimizer,
        step=search_trainer.step,
        estimator_state=estimator_state,
        train_iterator=train_iterator,
        val_iterator=val_iterator,
    )
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(workdir, "checkpoints"), max_to_keep=config.checkpoints_to_keep
    )
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logging.info("Resumed %s at step %d.", manager.latest_checkpoint, int(search_trainer.step))

    steps = {
        flag: tf.function(lambda train, val, flag=flag: search_trainer.train_step(train, val, flag))
        for flag in (False, True)
    }
    writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))
    genotype_path = os.path.join(workdir, "genotype.json")
    genotypes.save(_current_genotype(distribution, ops), genotype_path)

    start_step, start_time = int(search_trainer.step), time.perf_counter()
    while (step := int(search_trainer.step)) < total_steps:
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
                " ".join(f"{name} {value:.4f}" for name, value in sorted(values.items())),
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
            manager.save(checkpoint_number=step)
            genotypes.save(_current_genotype(distribution, ops), genotype_path)
    writer.flush()
    final = _current_genotype(distribution, ops)
    genotypes.save(final, genotype_path)
    return final
