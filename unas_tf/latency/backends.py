"""Latency back ends: where a search's latencies come from, one object per kind, found by name.

`config.latency.backend` names one:
  graph       the network's Keras inference compiled with `tf.function` and timed (UNAS Sec. 5:
              the search's own device; the default);
  tflite      the network converted to TFLite and timed in the TFLite interpreter on the CPU
              (XNNPACK, `latency.intra_op_threads` threads): the form `launch.export --tflite`
              ships (`tflite.py`);
  table:PATH  a per-choice latency table measured elsewhere, e.g. on a phone (`table.py`): an
              architecture's latency is the table's sum and nothing is timed.
Every back end gives a `measure.LatencyMeter`, so the search's record, surrogate and target
treat them alike; the timed ones measure in this process or a measuring process as
`latency.separate_process` says.
"""

import abc
from typing import ClassVar

from unas_tf import config_checks
from unas_tf.latency import measure, measuring_process, table, tflite

_EXPECTED = "graph, tflite or table:PATH (a latency table's JSON file)"


class Backend(abc.ABC):
    """A kind of latency back end; `argument` is what follows its name and a colon, if any."""

    name: ClassVar[str]
    takes_argument: ClassVar[bool] = False

    @abc.abstractmethod
    def search_meter(self, config, space, num_classes, argument):
        """The `measure.LatencyMeter` of a search of `config` in `space`.

        Raises:
          ValueError: a bad setting; the message names the key (or the table file).
        """


class _TimedBackend(Backend):
    """A back end that builds each network and times it (`measuring_process.search_meter`)."""

    # Whether the meter's threads are the process's (TensorFlow's intra-op pool), so that only a
    # measuring process may set them.
    threads_are_process_wide: ClassVar[bool] = True

    def search_meter(self, config, space, num_classes, argument):
        del argument
        return measuring_process.search_meter(config, space, num_classes, self)

    @abc.abstractmethod
    def local_meter(self, space, network, settings, threads):
        """The meter of `space.latency_network(genotype, network)` in this process.

        Args:
          space: the `SearchSpace`.
          network: the JSON-ready settings of `space.latency_network`.
          settings: the `measure.LatencyMeter` keyword arguments.
          threads: the meter's threads; 0 for the default.
        """


class GraphBackend(_TimedBackend):
    """The network's inference compiled with `tf.function` (optionally XLA) and timed."""

    name = "graph"

    def local_meter(self, space, network, settings, threads):
        del threads  # process-wide: a measuring process sets them before building anything
        return measure.LatencyMeter(
            lambda genotype: space.latency_network(genotype, network), **settings
        )


class TfliteBackend(_TimedBackend):
    """The network converted to TFLite and timed in the interpreter with `threads` threads."""

    name = "tflite"
    threads_are_process_wide = False

    def local_meter(self, space, network, settings, threads):
        return tflite.TfliteMeter(
            lambda genotype: space.latency_network(genotype, network), threads, **settings
        )


class TableBackend(Backend):
    """The sum of a per-choice latency table read from `argument`, a JSON file."""

    name = "table"
    takes_argument = True

    def search_meter(self, config, space, num_classes, argument):
        del num_classes
        latency_table = table.load(argument, space, config)
        settings = measure.settings_from_config(config)
        return table.TableMeter(latency_table, space, f"{self.name}:{argument}", **settings)


_BACKENDS = {backend.name: backend for backend in (GraphBackend(), TfliteBackend(), TableBackend())}


def _parse(value):
    """(back end, argument) of a `latency.backend` value, or None if it names none."""
    if not isinstance(value, str):
        return None
    name, colon, argument = value.partition(":")
    backend = _BACKENDS.get(name)
    if backend is None or bool(colon) != backend.takes_argument:
        return None
    if backend.takes_argument and not argument:
        return None
    return backend, argument


RULES = {"backend": config_checks.Rule(lambda value: _parse(value) is not None, _EXPECTED)}


def get(name):
    """The back end called `name` (without argument), e.g. for a measuring process."""
    return _BACKENDS[name]


def search_meter(config, space, num_classes):
    """The latency meter of a search of `config` in `space`, from `config.latency.backend`.

    Args:
      config: the search config; its `latency` section.
      space: the `SearchSpace`.
      num_classes: the data set's classes, for the timed networks' heads.

    Raises:
      ValueError: a bad latency setting or table; the message names the key or the file.
    """
    config_checks.check(config.latency, RULES, prefix="config.latency.")
    backend, argument = _parse(config.latency.backend)
    return backend.search_meter(config, space, num_classes, argument)
