"""Shared test helpers: CPU device splitting for distribution tests."""

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


def two_cpu_strategy():
    """Returns a MirroredStrategy over two logical CPU devices."""
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices[:NUM_LOGICAL_CPUS])
