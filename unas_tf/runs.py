"""The run controller: a `Task` says what a search or a retraining does, `Run` drives it.

`start(config, workdir, what)` refuses a workdir of another config, holds the workdir's lock,
creates the `tf.distribute` strategy (before any other TensorFlow work: several workers
configure collectives at start-up), seeds the process and opens the summary writer. The `Run`
it yields drives a `Task` (`Run.drive`), as Orbit's controller drives a trainer: it builds the
task under the strategy's scope, restores the newest good checkpoint and runs the steps, with
progress lines (the steady rate and ETA of `progress.StepClock`, a line before each graph build),
TensorBoard scalars, the guard against non-finite losses, and each epoch's work followed by a
checkpoint. The search (`search_run.SearchTask`) and the retraining (`retrain_run.RetrainTask`)
are tasks: what to build and checkpoint, their step, its summaries and their epoch's work.
"""

import abc
import contextlib
import math
import os

import keras
import tensorflow as tf
from absl import logging

from unas_tf import checkpoints, config_checks, progress, run_directory, strategies

SUMMARY_DIR = "tensorboard"


class Diverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Task(abc.ABC):
    """What a run does, for `Run.drive`: one kind of run's modules, step, summaries and epochs.

    A task is made from a started `Run` (its config, workdir, strategy and writer) and reads its
    data there, outside the strategy's scope; the controller then calls `build` under the scope,
    restores `checkpoint()`, calls `start`, and runs steps until `step` reaches the end, with
    `end_epoch` after each epoch; `finish` gives the run's result.

    Args:
      run: the started `Run`.
      total_steps: the run's total steps.
      steps_per_epoch: steps of one epoch.
    """

    def __init__(self, run, total_steps, steps_per_epoch):
        self.run = run
        self.config = run.config
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch

    @abc.abstractmethod
    def build(self):
        """Builds every variable the steps use (called under the strategy's scope)."""

    @property
    @abc.abstractmethod
    def step(self):
        """The int64 variable counting completed steps, which the checkpoint holds."""

    @abc.abstractmethod
    def checkpoint(self):
        """The `tf.train.Checkpoint` of everything a resumed run must continue from."""

    @abc.abstractmethod
    def start(self):
        """The work after the restore, before the first step (the chief's first outputs)."""

    @abc.abstractmethod
    def run_step(self, step, epoch):
        """Runs step `step` (0-based) of epoch `epoch`; returns {name: scalar} metrics."""

    @abc.abstractmethod
    def phase(self, epoch):
        """The traced step function epoch `epoch`'s steps call, e.g. "warm-up step".

        The first step of a phase in this process builds its graph: a line announces it, and
        the steady rate leaves it out (`progress.StepClock`).
        """

    @abc.abstractmethod
    def describe(self, values, epoch):
        """The progress line's part after "epoch e/E" for the step's float `values`."""

    @abc.abstractmethod
    def summarize(self, values, epoch):
        """Writes the step's TensorBoard scalars (called under the writer, at the step)."""

    @abc.abstractmethod
    def end_epoch(self, step, epoch):
        """The epoch's work (evaluation, outputs) after its last step `step`, before the save."""

    @abc.abstractmethod
    def finish(self):
        """The run's result, once the controller has stopped at the end or earlier."""


# The rules of the keys the controller reads (`start`, `Run`), for every run kind's table.
RULES = {
    "log_every": config_checks.POSITIVE_INT,
    "checkpoints_to_keep": config_checks.POSITIVE_INT,
    "strategy": config_checks.one_of(strategies.KNOWN),
    "seed": config_checks.NON_NEGATIVE_INT,
    "deterministic": config_checks.BOOLEAN,
}


@contextlib.contextmanager
def start(config, workdir, what):
    """Starts (or resumes) a run of a validated `config` in `workdir`; yields its `Run`.

    Args:
      config: the run's ConfigDict, already validated; uses `strategy`, `batch_size`, `seed`,
        `deterministic`, `checkpoints_to_keep` and `log_every`.
      workdir: the run's directory; created if missing.
      what: the kind of run, for messages ("search", "training run").

    Raises:
      ValueError: a workdir of another config, one that cannot be written, or a global batch
        the replicas cannot share.
      run_directory.WorkdirBusy: another process works in `workdir`.
    """
    run_directory.refuse_another_config(config, workdir, what)
    with run_directory.lock(strategies.process_directory(workdir)):
        strategy = strategies.create(config.strategy)
        replicas = strategy.num_replicas_in_sync
        if config.batch_size % replicas:
            raise ValueError(
                f"config.batch_size: the global batch {config.batch_size} must split evenly "
                f"over the {replicas} replicas"
            )
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        run = Run(config, workdir, strategy)
        try:
            yield run
        finally:
            run.flush()


class Run:
    """A started run: its strategy, writer and checkpoints; drives a `Task` (`drive`).

    Attributes:
      config, workdir, strategy: as given to `start`.
      chief: whether this process writes the run's outputs (always, unless several workers).
      writer: the TensorBoard writer (a no-op writer on other workers).
      manager: the `tf.train.CheckpointManager`, once `drive` has restored the task.
    """

    def __init__(self, config, workdir, strategy):
        self.config = config
        self.workdir = workdir
        self.strategy = strategy
        self.chief = strategies.is_chief(strategy)
        self.manager = None
        self._writer = None

    @property
    def writer(self):
        """The summary writer, made on first use: a run refused early leaves no directory."""
        if self._writer is None:
            if self.chief:
                path = os.path.join(self.workdir, SUMMARY_DIR)
                self._writer = tf.summary.create_file_writer(path)
            else:
                self._writer = tf.summary.create_noop_writer()
        return self._writer

    def flush(self):
        """Writes out pending summaries (the writer flushes by itself every two minutes)."""
        if self._writer is not None:
            self._writer.flush()

    def drive(self, task, max_steps=None):
        """Builds, restores and runs `task` to its end or to `max_steps`; returns its result.

        config.json is written once the task is made (its data found), and before the build.
        Every `config.log_every` steps, at each epoch's end and at the stop, the step's metrics
        are checked, logged in a progress line and written to TensorBoard. At each epoch's end
        and at the stop, the task's epoch work runs and then a checkpoint is saved (on every
        worker: saving is collective).

        Args:
          task: the `Task`, made from this run.
          max_steps: stop (with a checkpoint) once the step counter reaches this, before the
            end; None to run to the end. A rerun continues from there.

        Returns:
          `task.finish()`.

        Raises:
          Diverged: a logged metric is not finite; nothing is saved after the last checkpoint.
        """
        if self.chief:
            run_directory.save_config(self.config, self.workdir)
        with self.strategy.scope():
            task.build()
        self.manager = checkpoints.restore_latest(
            task.checkpoint(), self.workdir, self.strategy, self.config.checkpoints_to_keep
        )
        task.start()
        total = task.total_steps
        self._loop(task, total if max_steps is None else min(max_steps, total))
        return task.finish()

    def _loop(self, task, stop):
        """Runs the task's steps until its step counter reaches `stop` (see `drive`)."""
        clock = progress.StepClock()
        total, steps_per_epoch = task.total_steps, task.steps_per_epoch
        epochs = math.ceil(total / steps_per_epoch)
        while (step := int(task.step.numpy())) < stop:
            epoch = step // steps_per_epoch
            if clock.step_started(task.phase(epoch)):
                logging.info(
                    "step %d: building the %s's graph (tens of seconds to minutes on a 2-core CPU)",
                    step + 1,
                    task.phase(epoch),
                )
            metrics = task.run_step(step, epoch)
            clock.step_ended()
            step += 1
            epoch_done = step % steps_per_epoch == 0 or step == stop
            if step % self.config.log_every == 0 or epoch_done:
                values = {name: float(value) for name, value in metrics.items()}
                if not all(math.isfinite(value) for value in values.values()):
                    kept = self.manager.latest_checkpoint or "none was written yet"
                    raise Diverged(
                        f"step {step}: a loss is not finite ({values}); stopped without "
                        f"saving, the last good checkpoint is kept ({kept})"
                    )
                rate = clock.rate()
                logging.info(
                    "step %d/%d epoch %d/%d%s | %s steps/s, ETA %s",
                    step,
                    total,
                    epoch + 1,
                    epochs,
                    task.describe(values, epoch),
                    "--" if rate is None else f"{rate:.2f}",
                    progress.format_duration(clock.eta(total - step)),
                )
                with self.writer.as_default(step=step):
                    task.summarize(values, epoch)
            if epoch_done:
                clock.epoch_work_started()
                task.end_epoch(step, epoch)
                self.manager.save(checkpoint_number=step)
                clock.epoch_work_ended()
