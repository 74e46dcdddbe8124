"""A latency meter whose timing runs in a separate Python process with its own thread pools.

The search process is a poor place to time a small network on a CPU: its intra-op threads spin
between the search's ops, so CPU time counts them, and its state (allocator, caches, a large
traced step) shifts wall time: on a 2-core CPU the same architecture reads markedly slower
inside the search than in a fresh process. A child process that only builds and times
networks, with one intra-op thread, reads close to a fresh process (bench/latency_search.py;
figures in bench/README.md). The search waits while the child measures, so the two never
compete for the cores; the child sees the same devices, so latency is still that of the device
that runs the search.

Protocol: the child reads one genotype JSON per line on stdin and writes one `Measurement`
JSON per line on its own copy of stdout (anything else it prints goes to stderr).

    python -m unas_tf.latency.measuring_process '<spec JSON>'   # started by MeasuringProcess
"""

import json
import os
import subprocess
import sys
import tempfile
import weakref

import tensorflow as tf

import unas_tf
from unas_tf import config_checks, genotypes
from unas_tf.latency import measure
from unas_tf.search_spaces import base

# The child's stderr kept for an error message when it fails.
_STDERR_TAIL_CHARS = 2000


class MeasuringProcessError(RuntimeError):
    """The child process failed or exited; the message holds the end of its stderr."""


class MeasuringProcess(measure.LatencyMeter):
    """A `LatencyMeter` of a space's child networks that measures in a child process.

    The child starts at the first measurement and stops with this object (or at interpreter
    exit, or when its stdin closes because this process died). Caching, `remember` and
    `measurements` are the parent's, as in `LatencyMeter`. The child finds the space by its
    registered name, so any space whose `latency_network` builds from JSON settings can use it.

    Args:
      space: the `SearchSpace` of the genotypes; its `latency_network` builds the timed networks.
      network: the JSON-ready settings of `space.latency_network` (for ProxylessNAS:
        `num_classes`, `width_multiplier` and `image_size`).
      intra_op_threads: TensorFlow intra-op threads of the child (and the TFLite
        interpreter's); 0 for the default.
      backend: the name of the timed back end (`backends`) whose meter the child runs.
      **meter_settings: the `LatencyMeter` settings (batch_size, warmup_runs, repeats,
        runs_per_repeat, jit_compile, clock, device, seed).

    Raises:
      ValueError: a setting is invalid.
    """

    def __init__(self, space, network, intra_op_threads=1, backend="graph", **meter_settings):
        super().__init__(build_model=None, **meter_settings)
        if isinstance(intra_op_threads, bool) or not (
            isinstance(intra_op_threads, int) and intra_op_threads >= 0
        ):
            raise ValueError(
                "Invalid value received for argument `intra_op_threads`. Expected an integer "
                f">= 0. Received: intra_op_threads={intra_op_threads!r}"
            )
        self.intra_op_threads = intra_op_threads
        self._spec = {
            "space": space.name,
            "network": dict(network),
            "intra_op_threads": intra_op_threads,
            "backend": backend,
            "meter": meter_settings,
        }
        self._process = None
        self._stderr = None
        self._finalizer = None

    def _start(self):
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(self._spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            # Where `unas_tf` is importable from, installed or not.
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(unas_tf.__file__))),
        )
        self._finalizer = weakref.finalize(self, _stop, self._process, self._stderr)

    def _measure(self, genotype):
        if self._process is None:
            self._start()
        try:
            self._process.stdin.write(genotypes.to_json(genotype).replace("\n", " ") + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise MeasuringProcessError(self._failure_message())
        return measure.Measurement.from_dict(json.loads(line))

    def _failure_message(self):
        code = self._process.poll()
        if code is None:
            self._process.kill()
            code = self._process.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-_STDERR_TAIL_CHARS:]
        return f"the latency measuring process exited with code {code}; its stderr ends:\n{tail}"

    def close(self):
        """Stops the child process (a later measurement starts a new one)."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = self._finalizer = None


# The rules of the `latency` keys that say where and at what size a search measures.
PROCESS_RULES = {
    "image_size": config_checks.with_meaning(
        config_checks.NON_NEGATIVE_INT, "(0 = the search's image size)"
    ),
    "intra_op_threads": config_checks.with_meaning(
        config_checks.NON_NEGATIVE_INT, "(0 = TensorFlow's default)"
    ),
    "separate_process": config_checks.BOOLEAN,
}


def search_meter(config, space, num_classes, backend):
    """Returns the timing meter of a search in `space` (or of re-measuring its result).

    It times the space's `latency_network` for `config` with `backend`'s meter, at
    `config.latency.image_size` (the deployment resolution; 0 for `config.image_size`), in this
    process or, with `config.latency.separate_process`, in a `MeasuringProcess` with
    `config.latency.intra_op_threads` threads.

    Args:
      config: the search config.
      space: the `SearchSpace`.
      num_classes: the data set's classes, for the networks' heads.
      backend: a timed back end of `backends` (its `local_meter` and
        `threads_are_process_wide`).

    Raises:
      ValueError: a latency setting is invalid; the message names it as `config.latency.KEY`.
    """
    latency = config.latency
    settings = measure.settings_from_config(config)
    config_checks.check(latency, PROCESS_RULES, prefix="config.latency.")
    image_size = latency.image_size or config.image_size
    threads = latency.intra_op_threads
    separate = latency.separate_process
    if threads and not separate and backend.threads_are_process_wide:
        raise ValueError(
            "config.latency.intra_op_threads: expected 0 unless separate_process=True (the "
            f"search process's threads are its own), got {threads!r}"
        )
    network = space.latency_network_settings(config, num_classes, image_size)
    if separate:
        return MeasuringProcess(space, network, threads, backend.name, **settings)
    return backend.local_meter(space, network, settings, threads)


def _stop(process, stderr):
    """Closes the child's stdin (it exits at end of input), then waits, then kills."""
    try:
        process.stdin.close()
        process.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait()
    stderr.close()


def _serve(spec, requests, replies):
    """The child: measures each genotype line of `requests`, one JSON line to `replies` each."""
    from unas_tf.latency import backends  # imported here: backends imports this module

    threads = spec["intra_op_threads"]
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    backend = backends.get(spec["backend"])
    meter = backend.local_meter(base.get(spec["space"]), spec["network"], spec["meter"], threads)
    for line in requests:
        measurement = meter.measure(genotypes.from_json(line, spec["space"]))
        replies.write(json.dumps(measurement.as_dict()) + "\n")
        replies.flush()


# The child imports TensorFlow quietly first, as the launchers do, so that its start-up notices
# stay out of the error a failing child reports.
_CHILD = (
    "from unas_tf import runtime; runtime.import_tensorflow_quietly(); "
    f"from {__name__} import main; main()"
)


def main():
    # Replies go to a private copy of stdout; fd 1 then points at stderr, so a stray print (or
    # a library's) cannot corrupt the protocol.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(json.loads(sys.argv[1]), sys.stdin, replies)


if __name__ == "__main__":
    main()
