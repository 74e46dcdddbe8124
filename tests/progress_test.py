"""Progress lines: durations, a rate that leaves graph builds out, lines shown from the API."""

import subprocess
import sys

import pytest

from tests import testing
from unas_tf import progress


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0:00:00"), (59.4, "0:00:59"), (125, "0:02:05"), (3723, "1:02:03"), (90061, "25:01:01")],
)
def test_format_duration_is_hours_minutes_seconds(seconds, text):
    assert progress.format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [None, float("nan"), float("inf")])
def test_format_duration_of_an_unknown_time(seconds):
    assert progress.format_duration(seconds) == "--:--"


class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _step(clock, fake, phase, seconds):
    builds = clock.step_started(phase)
    fake.now += seconds
    clock.step_ended()
    return builds


def test_step_clock_leaves_out_each_phase_first_step_and_the_first_epoch_work():
    fake = _FakeClock()
    clock = progress.StepClock(clock=fake)
    assert _step(clock, fake, "warm-up step", 60.0)  # builds its graph
    assert clock.rate() is None and clock.eta(10) is None
    assert not _step(clock, fake, "warm-up step", 1.0)
    assert not _step(clock, fake, "warm-up step", 1.0)
    clock.epoch_work_started()
    fake.now += 30.0  # builds the evaluation graph: not counted
    clock.epoch_work_ended()
    assert _step(clock, fake, "search step", 90.0)  # a second graph
    assert clock.rate() == pytest.approx(2 / 2.0)  # none of its own yet: the warm-up's
    assert not _step(clock, fake, "search step", 2.0)
    clock.epoch_work_started()
    fake.now += 2.0  # a steady epoch's work counts, in its phase
    clock.epoch_work_ended()
    assert clock.rate() == pytest.approx(1 / 4.0)  # the search steps' own rate
    assert clock.eta(4) == pytest.approx(16.0)


def _run_python(code):
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=testing.launch_env(),
        check=True,
        timeout=120,
    )


def test_the_api_shows_progress_lines_in_a_plain_script_and_restores_logging():
    code = (
        "from absl import logging\n"
        "from unas_tf import progress\n"
        "with progress.shown_during():\n"
        "    logging.info('inside the call')\n"
        "logging.info('after the call')\n"
        "with progress.shown_during(False):\n"
        "    logging.info('silenced')\n"
    )
    stderr = _run_python(code).stderr
    assert "inside the call" in stderr
    assert "after the call" not in stderr and "silenced" not in stderr


def test_a_callers_own_verbosity_is_kept():
    code = (
        "from absl import logging\n"
        "from unas_tf import progress\n"
        "logging.set_verbosity(logging.WARNING)\n"
        "with progress.shown_during():\n"
        "    logging.info('hidden by the caller')\n"
        "    logging.warning('a warning')\n"
    )
    stderr = _run_python(code).stderr
    assert "hidden by the caller" not in stderr and "a warning" in stderr


def test_launcher_help_lists_config_and_the_preset_keys():
    result = testing.run_module("launch.train", "--help")  # absl exits 1 after --help
    text = " ".join(result.stdout.split())  # absl wraps the help at 80 columns
    assert "--config: Eval preset" in text
    assert "Keys of configs/eval/digits.py: auxiliary=True," in text
    assert " batch_size=32," in text
