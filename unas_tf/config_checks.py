"""Checks of a run's config before any work: each key's type and range, and what memory holds.

Every run kind (search, retraining, study, latency) checks its keys against a table of rules
(`check`) where the config enters the library, so that a bad value is one ValueError naming the
key, the value and what it may be, raised before a workdir is touched; launchers print it as one
line. Rules refuse what flag parsing lets through: zero, negative or non-finite rates and
temperatures (`--config.weight_lr=inf` parses as a float), and types set from Python.
"""

import math
import os
from typing import NamedTuple


class Rule(NamedTuple):
    """A key's rule: `holds(value)` and the phrase the error gives for what is expected."""

    holds: object
    expected: str


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


POSITIVE = Rule(lambda value: _number(value) and value > 0, "a finite number > 0")
NON_NEGATIVE = Rule(lambda value: _number(value) and value >= 0, "a finite number >= 0")
POSITIVE_INT = Rule(lambda value: _integer(value) and value > 0, "a positive integer")
NON_NEGATIVE_INT = Rule(lambda value: _integer(value) and value >= 0, "an integer >= 0")
BOOLEAN = Rule(lambda value: isinstance(value, bool), "True or False")
TEXT = Rule(lambda value: isinstance(value, str), "a string")
FRACTION = Rule(lambda value: _number(value) and 0 <= value < 1, "a number in [0, 1)")


def one_of(values):
    """The rule of a key whose value is one of `values`."""
    values = tuple(values)
    return Rule(lambda value: value in values, f"one of {list(values)}")


def with_meaning(rule, meaning):
    """`rule` with `meaning` added to its phrase, e.g. "(0 = a full pass)"."""
    return Rule(rule.holds, f"{rule.expected} {meaning}")


def check(config, rules, prefix="config."):
    """Raises a ValueError naming the first key of `rules` whose value breaks its rule.

    Args:
      config: a ConfigDict (or mapping) holding every key of `rules`.
      rules: {key: Rule}.
      prefix: how the message names the config ("config.", "config.latency.").
    """
    for key, rule in rules.items():
        value = config[key]
        if not rule.holds(value):
            raise ValueError(f"{prefix}{key}: expected {rule.expected}, got {value!r}")


def data_sizes(config):
    """Checks a run's data set and that it and the first batch fit in memory; returns its sizes.

    A user's images are read and checked here (`datasets.user_images`), before any work.

    Returns:
      `datasets.base.SplitSizes`, or None for a built-in tensorflow-datasets set not prepared
      yet (the run then stops with the command that prepares it).

    Raises:
      ValueError: an unknown data set or one that cannot be used, naming config.dataset; or
        images that do not fit in memory.
    """
    # Imports TensorFlow: only once a run's config is checked.
    from unas_tf.datasets import base as dataset_base

    dataset = dataset_base.of_config(config)
    sizes = dataset.split_sizes(config.image_size)
    check_images_fit_memory(
        config.batch_size, config.image_size, dataset.in_memory_bytes(config.image_size)
    )
    return sizes


def available_memory_bytes():
    """The memory this process may still take: MemAvailable on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_images_fit_memory(batch_size, image_size, resident_bytes=0, available=None):
    """Refuses an image size whose data and first batch alone exceed the available memory.

    The first batch of float32 RGB images is the least a step holds (its first activation is
    several times larger); `resident_bytes` is what the data set keeps in memory at that size
    (digits are resized whole). The bound is the host's memory: on a GPU a step needs its own.

    Raises:
      ValueError: naming config.image_size (or config.batch_size, if one image fits), the bytes
        needed and the bytes available.
    """
    available = available_memory_bytes() if available is None else available
    batch_bytes = batch_size * image_size * image_size * 3 * 4
    needed = resident_bytes + batch_bytes
    if needed <= available:
        return
    key = "image_size" if resident_bytes + batch_bytes / batch_size > available else "batch_size"
    value = image_size if key == "image_size" else batch_size
    raise ValueError(
        f"config.{key}: {value} needs at least {_gigabytes(needed)} for the data and one batch "
        f"of {batch_size} float32 images of {image_size}x{image_size}, more than the "
        f"{_gigabytes(available)} of memory available; lower config.image_size or "
        "config.batch_size"
    )


def _gigabytes(num_bytes):
    """ "4.8 GB", "219,004 GB": three significant digits, no exponent."""
    gigabytes = num_bytes / 1e9
    return f"{gigabytes:,.0f} GB" if gigabytes >= 1000 else f"{gigabytes:.3g} GB"
