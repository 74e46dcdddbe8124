"""Shared test helpers: CPU device splitting for distribution tests, the tiny search command,
folders of generated images."""

import functools
import os
import pathlib
import re
import subprocess
import sys

import tensorflow as tf

NUM_LOGICAL_CPUS = 2


def split_cpu_devices(num_devices=NUM_LOGICAL_CPUS):
    """Splits the physical CPU into logical devices so MirroredStrategy has replicas to mirror.

    Must run before TensorFlow initialises its runtime; conftest.py calls it at start-up.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices
    )


@functools.cache
def two_cpu_strategy():
    """Returns the process's MirroredStrategy over two logical CPU devices.

    One instance for every test: two strategies over the same devices number their collective
    operations independently, and TensorFlow then pairs up collectives of different tensors.
    """
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices[:NUM_LOGICAL_CPUS])


ROOT = pathlib.Path(__file__).resolve().parent.parent
LAUNCH_TIMEOUT_S = 300


def run_module(*args):
    """Runs `python -m ARGS...` from the repository root as a user would; returns the result."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT_S,
        check=False,
    )


# Two ops, one cell, 8x8 digits: the smallest search that exercises every part of the loop.
TINY_SEARCH = (
    "--config.num_ops=2",
    "--config.layers=1",
    "--config.init_channels=4",
    "--config.image_size=8",
    "--config.batch_size=8",
    "--config.epochs=3",
    "--config.warmup_epochs=1",
    "--config.log_every=1",
    "--config.deterministic=True",
)


def tiny_search_command(workdir, *overrides):
    """The argv of `launch.search` on the tiny search, with `overrides` appended."""
    return [sys.executable, "-m", "launch.search", f"--workdir={workdir}", *TINY_SEARCH, *overrides]


def launch_env():
    """The environment to run a launcher from any directory: this checkout on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


# An absl INFO line logged from a module of this repository's library or launchers.
_OWN_MODULES = {
    path.stem for folder in ("unas_tf", "launch") for path in (ROOT / folder).rglob("*.py")
}
_PROGRESS_LINE = re.compile(r"I\d{4} [\d:.]+ +\d+ (\w+)\.py:\d+\] ")


def foreign_stderr_lines(stderr):
    """The lines of a launcher's stderr that are not its own progress lines (absl INFO lines of
    unas_tf / launch modules): warnings, tracebacks, TensorFlow's C++ or Python logging."""
    return [
        line
        for line in stderr.splitlines()
        if not ((match := _PROGRESS_LINE.match(line)) and match.group(1) in _OWN_MODULES)
    ]


def write_image_folder(root, classes=("ant", "bee", "cat"), per_class=10, size=8, grey=False):
    """Writes PNGs in one sub-folder per class under `root`; returns `root`.

    Each class has its own brightness, so that a network can tell them apart; pixels vary with
    the image index, so that no two images are equal.
    """
    channels = 1 if grey else 3
    for label, name in enumerate(classes):
        folder = pathlib.Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = tf.random.stateless_uniform(
                [size, size, channels], [label, index], 0, 60, dtype=tf.int32
            )
            image = tf.cast(pixels + 90 * label, tf.uint8)
            (folder / f"{index:03d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return pathlib.Path(root)


def decode_png(path):
    """The uint8 [H, W, C] pixels of a PNG file."""
    return tf.io.decode_png(pathlib.Path(path).read_bytes()).numpy()
