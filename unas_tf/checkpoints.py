"""Finding a run's checkpoints and restoring the newest one that restores.

A checkpoint can be unreadable although the run that wrote it reported no error: a disk that
filled up, a copy cut short, a file truncated by hand. Resuming and exporting then fall back to
the newest checkpoint that restores, and say which ones they skipped and why, instead of failing
on the newest or silently starting afresh.

TensorFlow writes a checkpoint's files before it records the checkpoint in the directory's
`checkpoint` state file, so a process killed while saving leaves the previous checkpoint
recorded and whole. Checkpoints are found from their `.index` files rather than from the state
file, so that a damaged state file hides none of them.
"""

import os
import re

import tensorflow as tf
from absl import logging

from unas_tf import strategies

_INDEX_FILE = re.compile(r"^ckpt-(\d+)\.index$")


class NoUsableCheckpoint(ValueError):
    """Checkpoints exist, but none of them restores."""


def newest_first(directory):
    """The checkpoint prefixes (".../ckpt-N") in `directory`, highest N first; [] if none."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    numbered = [(int(match[1]), name) for name in names if (match := _INDEX_FILE.match(name))]
    return [
        os.path.join(directory, name.removesuffix(".index")) for _, name in sorted(numbered)[::-1]
    ]


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def restore_newest(checkpoint, prefixes, partial=False):
    """Restores the first checkpoint of `prefixes` that restores completely; returns its prefix.

    Args:
      checkpoint: the `tf.train.Checkpoint` to restore into.
      prefixes: candidate checkpoint prefixes, the preferred first.
      partial: whether the checkpoint may hold objects that `checkpoint` lacks (a model restored
        from a training checkpoint without its optimizer); the objects `checkpoint` has must all
        be restored either way.

    Returns:
      The prefix restored, or None when `prefixes` is empty.

    Raises:
      NoUsableCheckpoint: none of `prefixes` restores; the message names each and why.
    """
    failures = []
    for prefix in prefixes:
        try:
            status = checkpoint.restore(prefix)
            if partial:
                status.expect_partial()
            status.assert_existing_objects_matched()
        # A damaged file surfaces as an OpError, an IndexError ("Read less bytes than
        # requested"), a ValueError or an AssertionError, depending on where it is damaged.
        except Exception as error:
            failures.append((prefix, _first_line(error)))
            continue
        for skipped, reason in failures:
            logging.warning("Skipped checkpoint %s: it does not restore (%s).", skipped, reason)
        return prefix
    if failures:
        directories = sorted({os.path.dirname(prefix) for prefix, _ in failures})
        reasons = "; ".join(f"{os.path.basename(prefix)}: {reason}" for prefix, reason in failures)
        raise NoUsableCheckpoint(
            f"checkpoints in {', '.join(directories)} cannot be restored ({reasons})"
        )
    return None


def restore_latest(checkpoint, workdir, strategy, max_to_keep):
    """This process's checkpoint manager, after restoring the run's newest good checkpoint.

    Every worker resumes from the chief's checkpoints when it can see them (a shared file
    system), else from its own scratch copies, which hold the same state.

    Args:
      checkpoint: a `tf.train.Checkpoint` with a `step` variable (logged on resuming).
      workdir: the run's directory.
      strategy: the run's `tf.distribute.Strategy`.
      max_to_keep: checkpoints the manager keeps.

    Returns:
      The `tf.train.CheckpointManager`.

    Raises:
      NoUsableCheckpoint: checkpoints exist and none restores.
    """
    own = strategies.checkpoint_dir(workdir, strategy)
    manager = tf.train.CheckpointManager(checkpoint, own, max_to_keep=max_to_keep)
    chief = os.path.join(workdir, strategies.CHECKPOINT_DIR)
    candidates = newest_first(chief) + (newest_first(own) if own != chief else [])
    try:
        restored = restore_newest(checkpoint, candidates)
    except NoUsableCheckpoint as error:
        raise NoUsableCheckpoint(f"{error}; move them away to start afresh") from None
    if restored:
        logging.info("Resumed %s at step %d.", restored, int(checkpoint.step.numpy()))
    return manager


def describe_resume_point(workdir):
    """Where a rerun on `workdir` resumes: "from .../ckpt-N" or "from the start"."""
    found = newest_first(os.path.join(workdir, strategies.CHECKPOINT_DIR))
    return f"from {found[0]}" if found else "from the start (no checkpoint was written yet)"
