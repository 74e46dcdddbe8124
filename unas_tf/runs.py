"""A run's life, shared by searches and retraining: the controller around their steps.

`start(config, workdir, what)` refuses a workdir of another config, holds the workdir's lock,
creates the `tf.distribute` strategy (before any other TensorFlow work: several workers
configure collectives at start-up), seeds the process and opens the summary writer. The `Run`
it yields restores the newest good checkpoint and drives the steps (`Run.loop`): progress lines
with the steady rate and ETA (`progress.StepClock`), a line before each graph build, TensorBoard
scalars, the guard against non-finite losses, and each epoch's
work followed by a checkpoint. A search and a retraining run supply their step, their summaries
and their epoch work.
"""

import contextlib
import math
import os

import keras
import tensorflow as tf
from absl import logging

from unas_tf import checkpoints, progress, run_directory, strategies

SUMMARY_DIR = "tensorboard"


class Diverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


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
    """A started run: its strategy, writer and checkpoints, and the loop over its steps.

    Attributes:
      config, workdir, strategy: as given to `start`.
      chief: whether this process writes the run's outputs (always, unless several workers).
      writer: the TensorBoard writer (a no-op writer on other workers).
      manager: the `tf.train.CheckpointManager`, once `restore` has run.
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

    def save_config(self):
        """Writes config.json (on the chief), after the run has been set up."""
        if self.chief:
            run_directory.save_config(self.config, self.workdir)

    def restore(self, checkpoint):
        """Restores `checkpoint` from the newest good checkpoint, if any (`checkpoints`)."""
        self.manager = checkpoints.restore_latest(
            checkpoint, self.workdir, self.strategy, self.config.checkpoints_to_keep
        )

    def loop(
        self,
        step_variable,
        *,
        stop,
        total,
        steps_per_epoch,
        run_step,
        describe,
        summarize,
        end_epoch=lambda step, epoch: None,
        phase=lambda epoch: "step",
    ):
        """Runs steps until `step_variable` reaches `stop`, logging, guarding and saving.

        Every `config.log_every` steps, at each epoch's end and at `stop`, the step's metrics are
        checked, logged in a progress line and written to TensorBoard. At each epoch's end and at
        `stop`, `end_epoch` runs and then a checkpoint is saved (on every worker: saving is
        collective).

        Args:
          step_variable: the int64 variable counting completed steps (checkpointed).
          stop: the step to stop at; `total` unless the run stops early.
          total: the run's total steps, for the progress line's ETA.
          steps_per_epoch: steps of one epoch.
          run_step: (step, epoch) -> {name: scalar}, runs one step and advances the counter.
          describe: (values, epoch) -> str, the progress line's part after "epoch e/E".
          summarize: (values, epoch) -> None, writes the step's TensorBoard scalars (under the
            writer).
          end_epoch: (step, epoch) -> None, the epoch's work before its checkpoint.
          phase: epoch -> str, the traced step function an epoch's steps call ("warm-up step",
            "search step"); its first step in this process builds its graph, which a line
            announces and the rate leaves out.

        Raises:
          Diverged: a logged metric is not finite; nothing is saved after the last checkpoint.
        """
        clock = progress.StepClock()
        epochs = math.ceil(total / steps_per_epoch)
        while (step := int(step_variable.numpy())) < stop:
            epoch = step // steps_per_epoch
            if clock.step_started(phase(epoch)):
                logging.info(
                    "step %d: building the %s's graph (tens of seconds to minutes on a 2-core CPU)",
                    step + 1,
                    phase(epoch),
                )
            metrics = run_step(step, epoch)
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
                    describe(values, epoch),
                    "--" if rate is None else f"{rate:.2f}",
                    progress.format_duration(clock.eta(total - step)),
                )
                with self.writer.as_default(step=step):
                    summarize(values, epoch)
            if epoch_done:
                clock.epoch_work_started()
                end_epoch(step, epoch)
                self.manager.save(checkpoint_number=step)
                clock.epoch_work_ended()
