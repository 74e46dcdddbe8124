"""One trial of a study: search (or draw a random cell), retrain from scratch, record the metrics.

`run(config, trial, workdir)` is what `launch.study` runs in each trial's process. The trial's
directory (`study.trial_directory`) holds an ordinary search workdir (search/) and retraining
workdir (train/), so a stopped trial resumes as they do; its record, trial.json, says how far it
got: "searched" (with the search's seconds and logged gradient variance), then "done" (with the
test metrics) or "failed" (with the error). Done trials also write a TensorBoard HParams
session into their directory: their grid keys and seed, and their metrics as scalars.

When the trials' search config says how to measure latency (a `latency` section, in a space
that measures it), every trial, the random baseline's too, re-measures the latency of the
architecture it retrained once the retraining is done: the space's deployed network of that
architecture (`latency_network`, at `latency.image_size`), timed by a new meter of the search's
latency settings (a new measuring process with `latency.separate_process`), never the search's
cached figures. The record holds its median as `latency_ms` and the whole measurement as
`latency`, so that a study can set accuracy against latency (`unas_tf/pareto.py`).

Seconds are wall time of the process that completed a phase: a phase resumed after a stop
counts only its last part.
"""

import os
import time

import tensorflow as tf
from absl import logging
from tensorboard.plugins.hparams import api as hparams_api

from unas_tf import eval_networks, retrain_run, run_directory, runs, search_run, study, summaries
from unas_tf.latency import backends
from unas_tf.search_spaces import base as search_space_base

SEARCH_DIR = "search"
TRAIN_DIR = "train"
EXPERIMENT_DIR = "tensorboard"  # in the study directory: the HParams experiment
VARIANCE_TAG = "arch_grad_variance"  # the step metric of unas_tf/search_step.py
GENOTYPE_FILE = "genotype.json"  # the search's final architecture (unas_tf/search_run.py)
# The statuses of a record before its final one (`study.DONE` or `study.FAILED`).
STARTED, SEARCHED = "started", "searched"


class TrialFailed(RuntimeError):
    """A trial raised; its record holds the error, and the message says where to look."""


def validate(config):
    """Validates the study and every trial's search and retraining config, naming the trial.

    Raises:
      ValueError: `study.validate`'s errors, or a trial's config its runner would refuse.
    """
    study.validate(config)
    for trial in study.trials(config):
        try:
            # The random baseline's search config says how to measure its latency.
            if trial.searches or measures_latency(config, trial):
                search_run.validate(study.search_config(config, trial))
            # A stand-in genotype: the searched one does not exist yet.
            retrain_run.validate(study.eval_config(config, trial, study.random_genotype(trial)))
        except ValueError as error:
            raise ValueError(f"trial {trial.name}: {error}") from None


def mean_logged_variance(search_dir):
    """The mean of `arch_grad_variance` over a search's TensorBoard events, or None if absent.

    The search logs it every `log_every` architecture steps when it draws one sample per
    example (unas_tf/search_step.py); warm-up steps and other estimators' runs log none.
    """
    values = summaries.logged_scalars(os.path.join(search_dir, runs.SUMMARY_DIR), VARIANCE_TAG)
    return sum(values.values()) / len(values) if values else None


def run(config, trial, workdir):
    """Runs (or resumes) one trial; returns its record once done.

    A done trial returns its record at once; a failed or unfinished one continues where its
    runs stopped (a finished search is not run again).

    Args:
      config: the study config (validated).
      trial: a `study.Trial` of it.
      workdir: the study directory.

    Returns:
      The trial's record (trial.json).

    Raises:
      TrialFailed: the search or the retraining raised; the record holds the error.
      run_directory.WorkdirBusy: another process works on this trial.
    """
    directory = study.trial_directory(workdir, trial)
    with run_directory.lock(directory):
        previous = study.read_record(directory) or {}
        if previous.get("status") == study.DONE:
            return previous
        searched = previous.get("search_seconds") is not None
        record = {
            "name": trial.name,
            "keys": study.trial_keys(config, trial),
            "seed": trial.seed,
            "status": SEARCHED if searched else STARTED,
            "search_seconds": previous.get("search_seconds"),
            "arch_grad_variance": previous.get("arch_grad_variance"),
        }
        study.write_record(directory, record)
        try:
            genotype = _search(config, trial, directory, record)
            start = time.perf_counter()
            metrics = retrain_run.run_training(
                study.eval_config(config, trial, genotype), os.path.join(directory, TRAIN_DIR)
            )
            record.update(
                train_seconds=time.perf_counter() - start,
                test_accuracy=metrics["top1"],
                test_top5=metrics["top5"],
                params=metrics["params"],
                macs=metrics["macs"],
            )
            if measures_latency(config, trial):
                measurement = measure_latency(config, trial, genotype)
                record.update(latency_ms=measurement.median_ms, latency=measurement.as_dict())
                logging.info("trial %s: latency %.3f ms", trial.name, measurement.median_ms)
            record.update(status=study.DONE)
        except Exception as error:  # recorded, so that the study goes on and reports it
            logging.exception("trial %s failed", trial.name)
            record.update(status=study.FAILED, error=_one_line(error))
            study.write_record(directory, record)
            raise TrialFailed(f"trial {trial.name} failed: {record['error']}") from error
        study.write_record(directory, record)
        write_session(config, trial, directory, record)
        return record


def measures_latency(config, trial):
    """Whether `trial` re-measures its architecture's latency: its search config says how (a
    `latency` section) in a space that measures latency."""
    search = study.search_config(config, trial)
    return "latency" in search and search_space_base.of_config(search).measures_latency


def measure_latency(config, trial, genotype):
    """Measures the latency of the architecture `trial` retrained, with a new meter.

    Args:
      config: the study config.
      trial: a `study.Trial` for which `measures_latency` holds.
      genotype: the eval-config genotype it retrained (a genotype.json path or random:SEED).

    Returns:
      A `latency.measure.Measurement` of the space's latency network of that architecture.
    """
    search = study.search_config(config, trial)
    space = search_space_base.of_config(search)
    evaluation = study.eval_config(config, trial, genotype)
    architecture = eval_networks.resolve_genotype(genotype, space, evaluation)
    # The meter the search builds for itself, new: its cache is empty, and with
    # `latency.separate_process` it measures in a new process.
    meter = backends.search_meter(search, space, evaluation.num_classes)
    return meter.measure(architecture)


def _one_line(error):
    """An error as one line, its type and its message's first line (or its last, after a header
    line such as TensorFlow's "in user code:")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    line = lines[-1] if lines[0].endswith(":") else lines[0]
    return f"{type(error).__name__}: {line}"


def _search(config, trial, directory, record):
    """Searches unless the record says it is done (or the trial is the random baseline).

    Returns:
      The eval-config genotype to retrain: the search's genotype.json or the random cell.
    """
    if not trial.searches:
        return study.random_genotype(trial)
    search_dir = os.path.join(directory, SEARCH_DIR)
    if record["status"] != SEARCHED:
        start = time.perf_counter()
        search_run.run_search(study.search_config(config, trial), search_dir)
        record.update(
            status=SEARCHED,
            search_seconds=time.perf_counter() - start,
            arch_grad_variance=mean_logged_variance(search_dir),
        )
        study.write_record(directory, record)
        logging.info("trial %s: searched in %.0f s", trial.name, record["search_seconds"])
    return os.path.abspath(os.path.join(search_dir, GENOTYPE_FILE))


def _hparams(config, trial):
    """{name: value} of a trial's HParams: its grid keys (those that apply) and seed."""
    keys = study.trial_keys(config, trial)
    return {**{k: v for k, v in keys.items() if v is not None}, "seed": trial.seed}


def write_session(config, trial, directory, record):
    """Writes a done trial's HParams session and metrics into its directory."""
    with tf.summary.create_file_writer(os.fspath(directory)).as_default():
        hparams_api.hparams(_hparams(config, trial), trial_id=trial.name)
        for metric in study.METRICS:
            if record.get(metric) is not None:
                tf.summary.scalar(metric, record[metric], step=0)
        tf.summary.flush()


def write_experiment(config, workdir):
    """Writes the study's HParams experiment (its keys' domains and metrics) once.

    The domains follow from the study config, which a study directory never changes, so an
    existing experiment is kept.
    """
    directory = os.path.join(workdir, EXPERIMENT_DIR)
    if os.path.isdir(directory) and os.listdir(directory):
        return
    domains = {}
    for trial in study.trials(config):
        for name, value in _hparams(config, trial).items():
            domains.setdefault(name, [])
            if value not in domains[name]:
                domains[name].append(value)
    with tf.summary.create_file_writer(os.fspath(directory)).as_default():
        hparams_api.hparams_config(
            hparams=[
                hparams_api.HParam(name, hparams_api.Discrete(values))
                for name, values in domains.items()
            ],
            metrics=[hparams_api.Metric(metric) for metric in study.METRICS],
        )
        tf.summary.flush()
