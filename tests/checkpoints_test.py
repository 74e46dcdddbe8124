"""Checkpoints: a damaged newest one is skipped for the one before; a kill mid-save loses none."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from unas_tf import checkpoints, strategies

# Saves checkpoints of a 16 MB variable (filled with the step) as fast as it can, forever.
SAVE_FOREVER = """
import sys
import tensorflow as tf

step = tf.Variable(0, dtype=tf.int64)
values = tf.Variable(tf.zeros([4_000_000]))
manager = tf.train.CheckpointManager(
    tf.train.Checkpoint(step=step, values=values), sys.argv[1], max_to_keep=2
)
while True:
    step.assign_add(1)
    values.assign(tf.fill([4_000_000], tf.cast(step, tf.float32)))
    manager.save(checkpoint_number=int(step))
    print(int(step), flush=True)
"""


def _saved(directory, steps):
    """A checkpoint manager in `directory` that saved steps 1..steps (values = 10 * step)."""
    step, values = tf.Variable(0, dtype=tf.int64), tf.Variable(tf.zeros([100]))
    checkpoint = tf.train.Checkpoint(step=step, values=values)
    manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=5)
    for number in range(1, steps + 1):
        step.assign(number)
        values.assign(tf.fill([100], 10.0 * number))
        manager.save(checkpoint_number=number)
    return checkpoint, step, values


def _truncate_data(prefix):
    """Cuts the data file of checkpoint `prefix` to half, as a full disk or a cut copy would."""
    data = next(
        os.path.join(os.path.dirname(prefix), name)
        for name in os.listdir(os.path.dirname(prefix))
        if name.startswith(os.path.basename(prefix) + ".data")
    )
    with open(data, "r+b") as file:
        file.truncate(os.path.getsize(data) // 2)


def test_newest_first_orders_by_number_not_by_name(tmp_path):
    for number in (2, 10, 9):
        (tmp_path / f"ckpt-{number}.index").write_bytes(b"")
    (tmp_path / "ckpt-11.data-00000-of-00001").write_bytes(b"")  # no index: not a checkpoint
    assert checkpoints.newest_first(tmp_path) == [str(tmp_path / f"ckpt-{n}") for n in (10, 9, 2)]
    assert checkpoints.newest_first(tmp_path / "absent") == []


def test_a_damaged_newest_checkpoint_is_skipped_for_the_one_before(tmp_path, caplog):
    checkpoint, step, values = _saved(tmp_path, 3)
    _truncate_data(str(tmp_path / "ckpt-3"))
    step.assign(0)
    found = checkpoints.newest_first(tmp_path)
    assert checkpoints.restore_newest(checkpoint, found) == str(tmp_path / "ckpt-2")
    assert int(step.numpy()) == 2
    np.testing.assert_array_equal(values.numpy(), np.full([100], 20.0))
    assert "Skipped checkpoint" in caplog.text and "ckpt-3" in caplog.text


def test_no_checkpoint_that_restores_is_an_error_naming_the_directory(tmp_path):
    checkpoint, _, _ = _saved(tmp_path, 2)
    for number in (1, 2):
        _truncate_data(str(tmp_path / f"ckpt-{number}"))
    with pytest.raises(checkpoints.NoUsableCheckpoint) as raised:
        checkpoints.restore_newest(checkpoint, checkpoints.newest_first(tmp_path))
    message = str(raised.value)
    assert str(tmp_path) in message and "ckpt-1" in message and "ckpt-2" in message
    assert "\n" not in message
    assert checkpoints.restore_newest(checkpoint, []) is None


def test_a_checkpoint_of_other_objects_does_not_restore(tmp_path):
    _saved(tmp_path, 1)
    other = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), extra=tf.Variable(1.0))
    with pytest.raises(checkpoints.NoUsableCheckpoint, match="ckpt-1"):
        checkpoints.restore_newest(other, checkpoints.newest_first(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_s", [0.5, 0.9, 1.3])
def test_a_kill_during_a_save_leaves_a_checkpoint_that_restores_whole(tmp_path, kill_after_s):
    process = subprocess.Popen(
        [sys.executable, "-c", SAVE_FOREVER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "1"  # TensorFlow started; saving now
        time.sleep(kill_after_s)  # the loop does nothing but save: this lands mid-save
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    step, values = tf.Variable(0, dtype=tf.int64), tf.Variable(tf.zeros([4_000_000]))
    checkpoint = tf.train.Checkpoint(step=step, values=values)
    restored = checkpoints.restore_newest(checkpoint, checkpoints.newest_first(tmp_path))
    assert restored is not None and int(step.numpy()) >= 1
    # Whole: the values are those saved with this very step, not a mix of two saves.
    np.testing.assert_array_equal(values.numpy(), np.full([4_000_000], float(step.numpy())))


def test_a_run_resumes_from_the_checkpoint_before_a_damaged_one_and_saves_on(tmp_path):
    directory = tmp_path / strategies.CHECKPOINT_DIR
    checkpoint, step, values = _saved(directory, 3)
    _truncate_data(str(directory / "ckpt-3"))
    step.assign(0)
    manager = checkpoints.restore_latest(checkpoint, tmp_path, tf.distribute.get_strategy(), 5)
    assert int(step.numpy()) == 2
    values.assign(tf.fill([100], 30.0))
    manager.save(checkpoint_number=3)  # the damaged checkpoint is written anew
    assert checkpoints.restore_newest(checkpoint, checkpoints.newest_first(directory)).endswith(
        "ckpt-3"
    )
    np.testing.assert_array_equal(values.numpy(), np.full([100], 30.0))
    for number in (1, 2, 3):
        _truncate_data(str(directory / f"ckpt-{number}"))
    with pytest.raises(checkpoints.NoUsableCheckpoint, match="move them away to start afresh"):
        checkpoints.restore_latest(checkpoint, tmp_path, tf.distribute.get_strategy(), 5)
