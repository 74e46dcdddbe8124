"""Progress lines of long work: durations as h:mm:ss, rates from steady steps, where they show.

A run's first step of each kind builds and optimises its TensorFlow graph, which takes 30 s to
several minutes on a small CPU, many times a steady step; an ETA from the mean over all steps
would read several times too long at first. `StepClock` therefore leaves out each step that
built a graph, and the first epoch's work (it builds the evaluation graph). Its rate is that of
the current kind of step: a search's architecture steps take several times a warm-up step, and
the steps left are of the current kind or a later one.

Progress lines are absl INFO records. The launchers show them (`show_lines`, from their
start-up); a notebook or a script calling the Python API sees none by default, since absl
logs only warnings until `app.run` sets it up, so the API shows them for the duration of a call
(`shown_during`) unless the caller chose a verbosity of its own or asked for silence.
"""

import contextlib
import importlib.util
import logging as std_logging
import math
import os
import sys
import time

from absl import logging


def format_duration(seconds):
    """`seconds` as h:mm:ss ("0:02:05"), or "--:--" when unknown (None, NaN, infinite)."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class StepClock:
    """The steady rate of a run's steps and its ETA, leaving out graph-building time.

    Call `step_started(phase)` before a step and `step_ended()` after it; `epoch_work_*` around
    an epoch's work. A phase (e.g. "warm-up step", "search step") builds its graph on its first
    step in this process: that step's time counts nowhere, and neither does the first epoch
    work's. Everything else, epoch work and checkpoints included, counts towards the rate of
    the phase it ran in; `rate` is the current phase's, or all phases' before it has one.
    """

    def __init__(self, clock=time.perf_counter):
        self._clock = clock
        self._phase = None
        self._steady = {}  # phase -> [steady steps, their seconds and epoch work's]
        self._started = None
        self._counted = True
        self._epoch_work_seen = False

    def step_started(self, phase):
        """Marks a step's start; returns True if this step builds `phase`'s graph first."""
        builds = phase not in self._steady
        self._steady.setdefault(phase, [0, 0.0])
        self._phase = phase
        self._counted = not builds
        self._started = self._clock()
        return builds

    def step_ended(self):
        """Marks the end of the step started last."""
        if self._counted:
            steady = self._steady[self._phase]
            steady[0] += 1
            steady[1] += self._clock() - self._started

    def epoch_work_started(self):
        """Marks the start of an epoch's work (evaluation, checkpoint)."""
        self._started = self._clock()

    def epoch_work_ended(self):
        """Marks its end; the first epoch work in this process builds graphs and counts not."""
        if self._epoch_work_seen:
            self._steady[self._phase][1] += self._clock() - self._started
        self._epoch_work_seen = True

    def rate(self):
        """Steady steps per second, or None before the first steady step."""
        steps, seconds = self._steady.get(self._phase, (0, 0.0))
        if not steps and self._steady:  # the phase has only built its graph: all phases
            steps, seconds = (sum(column) for column in zip(*self._steady.values(), strict=True))
        if not steps or seconds <= 0.0:
            return None
        return steps / seconds

    def eta(self, remaining_steps):
        """Seconds for `remaining_steps` more at the steady rate, or None before it is known."""
        rate = self.rate()
        return None if rate is None else remaining_steps / rate


_TENSORFLOW_SPEC = importlib.util.find_spec("tensorflow")


def _not_tensorflows_own(record):
    """TensorFlow logs through absl too (e.g. a line per checkpoint save): drop those records."""
    if _TENSORFLOW_SPEC is None or not _TENSORFLOW_SPEC.submodule_search_locations:
        return True
    return not record.pathname.startswith(_TENSORFLOW_SPEC.submodule_search_locations[0])


def show_lines():
    """Shows INFO records (the progress lines) on absl's handler, without TensorFlow's own.

    For a program's own start-up (the launchers): it changes absl's verbosity for good.
    TensorFlow's INFO lines stay visible with TF_CPP_MIN_LOG_LEVEL=0.
    """
    logging.set_verbosity(logging.INFO)
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0":
        logging.get_absl_handler().addFilter(_not_tensorflows_own)


@contextlib.contextmanager
def shown_during(enabled=True):
    """Shows the progress lines on standard error for the block, as a launcher would.

    Only when absl is in its untouched default state: a caller who set a verbosity
    (`absl.logging.set_verbosity`), or runs under `app.run`, keeps what they chose. The absl
    logger is restored afterwards.

    Args:
      enabled: False shows nothing new (the caller's logging as it is).
    """
    absl_logger = logging.get_absl_logger()
    untouched = absl_logger.level == std_logging.NOTSET and not any(
        isinstance(handler, logging.ABSLHandler) for handler in std_logging.getLogger().handlers
    )
    if not (enabled and untouched):
        yield
        return
    handler = std_logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.PythonFormatter())
    handler.addFilter(_not_tensorflows_own)
    propagate = absl_logger.propagate
    absl_logger.addHandler(handler)
    absl_logger.setLevel(std_logging.INFO)
    absl_logger.propagate = False  # a root handler (logging.basicConfig) would print it twice
    try:
        yield
    finally:
        absl_logger.propagate = propagate
        absl_logger.setLevel(std_logging.NOTSET)
        absl_logger.removeHandler(handler)
        handler.flush()
