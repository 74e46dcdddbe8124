"""The latency target t_target of a search: milliseconds, or a quantile of this machine's latencies.

A target in milliseconds belongs to one device: the proxyless_digits preset's former 20 ms lay
among its random architectures on one CPU and below every one of them on another, where the
hinge then acted as a plain penalty. `latency.target_quantile` q sets the target to the
q-quantile of the latencies of the random architectures the surrogate is fit on, measured on
the search's own device, so that about a fraction q of random architectures meet it on any
machine. The paper (UNAS Sec. 5) gives an absolute target (its V100's); `target_ms` keeps that.

The resolved target is logged and written to WORKDIR/latency_target.json; a resumed search
reads it there instead of computing it again, so the hinge never moves within a run. Under
several workers each worker measures for itself, as it measures every latency, and the chief
alone writes the file.
"""

import os

import numpy as np
from absl import logging

from unas_tf import config_checks, run_directory

FILE = "latency_target.json"

# The rules of the two exclusive ways of setting the target (`validate` checks that one is set).
RULES = {
    "target_ms": config_checks.with_meaning(
        config_checks.NON_NEGATIVE, "(milliseconds; 0 = from target_quantile)"
    ),
    "target_quantile": config_checks.with_meaning(
        config_checks.FRACTION, "(0 = the target is target_ms)"
    ),
}


def validate(latency):
    """Checks that exactly one of `target_ms` and `target_quantile` of a `latency` section is set.

    Raises:
      ValueError: a bad value, both set or neither; the message names the keys.
    """
    config_checks.check(latency, RULES, prefix="config.latency.")
    if latency.target_ms and latency.target_quantile:
        raise ValueError(
            "config.latency.target_ms, config.latency.target_quantile: expected one of them "
            f"set, the other 0, got {latency.target_ms!r} and {latency.target_quantile!r}"
        )
    if not (latency.target_ms or latency.target_quantile):
        raise ValueError(
            "config.latency.target_ms: expected a latency > 0 (milliseconds) unless "
            f"config.latency.target_quantile is set, got {latency.target_ms!r}"
        )


def from_quantile(latency):
    """Whether the target is a quantile of measured latencies (which must then be measured)."""
    return latency.target_quantile > 0


def resolve(latency, random_latencies_ms, workdir, writes):
    """Returns the search's target in milliseconds.

    Args:
      latency: a validated `latency` config section.
      random_latencies_ms: the measured latencies of the surrogate's random architectures (only
        read for a quantile target that no earlier run of the workdir stored).
      workdir: the run's directory, where the target is stored.
      writes: whether this process writes the file (the chief).

    Raises:
      ValueError: a quantile target without measurements, or an unreadable stored target.
    """
    if not from_quantile(latency):
        return float(latency.target_ms)
    path = os.path.join(workdir, FILE)
    saved = run_directory.read_json_object(path, "a latency target")
    if saved is not None:
        logging.info("Latency target %.3f ms, read from %s", saved["target_ms"], path)
        return float(saved["target_ms"])
    if not random_latencies_ms:
        raise ValueError(
            "config.latency.target_quantile: needs measured random architectures, got none"
        )
    target_ms = float(np.quantile(random_latencies_ms, latency.target_quantile))
    logging.info(
        "Latency target %.3f ms: the %.2f-quantile of %d random architectures (%.3f to %.3f ms)",
        target_ms,
        latency.target_quantile,
        len(random_latencies_ms),
        min(random_latencies_ms),
        max(random_latencies_ms),
    )
    if writes:
        run_directory.write_json_atomically(
            path,
            {
                "target_ms": target_ms,
                "target_quantile": latency.target_quantile,
                "random_architectures": len(random_latencies_ms),
            },
        )
    return target_ms
