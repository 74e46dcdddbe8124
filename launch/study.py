r"""Runs a study: a grid of search -> retrain trials over seeds, summarised like UNAS Table 2.

    python -m launch.study --config=configs/study/digits.py --workdir=/tmp/study_digits
    python -m launch.study --config=configs/study/smoke.py --workdir=/tmp/study_smoke \
        --config.parallel=1                   # one trial at a time
    python -m launch.study --config=configs/study/cifar10.py --workdir=/shared/c10 --list
    python -m launch.study --config=configs/study/cifar10.py --workdir=/shared/c10 --aggregate

Each trial (`unas_tf/study.py`) is a search, or a random cell for the random baseline, then a
retraining from scratch and the test metrics; it runs as its own process, `--config.parallel`
at a time, its output in WORKDIR/trials/NAME/log.txt. Rerunning the same command skips done
trials and resumes the others from their checkpoints (failed ones are tried again). The workdir
receives study.json, trials/, tensorboard/ (the HParams experiment: point TensorBoard at the
workdir), results.json and results.md, which is also printed. The exit status is 1 if a trial
failed or did not finish.

--list prints one self-contained shell command per trial, for a cluster's scheduler; each runs
that trial alone (--trial=NAME). --aggregate writes the results from whatever trials the
workdir holds, finished or not.
"""

import collections
import os
import shlex
import subprocess
import sys
import time

from absl import app, flags, logging

from launch import common
from unas_tf import run_directory, runs, study, study_trial

_DEFAULT_CONFIG = "configs/study/digits.py"
_CONFIG = common.define_config_file(
    _DEFAULT_CONFIG, "Study preset (configs/study/*.py); override keys with --config.KEY=VALUE."
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory of the study: its trials and results.", required=True
)
_LIST = flags.DEFINE_bool("list", False, "Print one shell command per trial and exit.")
_AGGREGATE = flags.DEFINE_bool(
    "aggregate", False, "Write results.json and results.md from the trials the workdir holds."
)
_TRIAL = flags.DEFINE_string("trial", None, "Run only this trial, in this process.")
LOG_FILE = "log.txt"  # a trial process's standard output and error, in its directory
POLL_S = 0.5  # how often the study looks at its trial processes


def _trial_command(trial, workdir):
    """The argv of the process that runs one trial."""
    return [
        sys.executable,
        "-m",
        "launch.study",
        *common.config_arguments(_DEFAULT_CONFIG),
        f"--workdir={workdir}",
        f"--trial={trial.name}",
    ]


def _shell_command(trial, workdir):
    """One trial's command for a shell, runnable from any directory."""
    root = shlex.quote(str(common.PACKAGE_ROOT))
    return f"cd {root} && {shlex.join(_trial_command(trial, workdir))}"


def _run_one(config, workdir, name):
    """--trial: runs one trial in this process."""
    trial = study.find_trial(config, name)
    study.save_study(config, workdir)
    directory = study.trial_directory(workdir, trial)
    with common.stop_on_signals(lambda: "rerun the same command to resume the trial"):
        record = study_trial.run(config, trial, workdir)
    print(
        f"trial {trial.name}: test top-1 {record['test_accuracy']:.4f}, {record['params']:,} "
        f"params; record in {os.path.join(directory, study.TRIAL_FILE)}"
    )


def _aggregate(config, workdir):
    """Writes results.json, results.md and the HParams experiment; returns the results."""
    results = study.aggregate(config, study.read_records(config, workdir))
    study.write_results(workdir, results)
    study_trial.write_experiment(config, workdir)
    return results


class _TrialProcess:
    """A trial running in a child process, its output appended to the trial's log."""

    def __init__(self, trial, workdir):
        self.trial = trial
        self.directory = study.trial_directory(workdir, trial)
        os.makedirs(self.directory, exist_ok=True)
        self.log_path = os.path.join(self.directory, LOG_FILE)
        self.start = time.perf_counter()
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                _trial_command(trial, workdir),
                cwd=common.PACKAGE_ROOT,  # the checkout's launch/ and unas_tf/ are imported
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def report(self):
        """Logs how the ended process left its trial; records a failure it did not record."""
        minutes = (time.perf_counter() - self.start) / 60
        record = study.read_record(self.directory) or {}
        if record.get("status") == study.DONE:
            logging.info(
                "trial %s done in %.1f min: test top-1 %.4f",
                self.trial.name,
                minutes,
                record["test_accuracy"],
            )
            return
        if record.get("status") != study.FAILED:
            # It ended without saying why (killed, out of memory, refused at start).
            with open(self.log_path, errors="replace") as log:
                lines = [line.strip() for line in log if line.strip()]
            last = f": {lines[-1]}" if lines else ""
            record = self._record_failure(f"exit status {self.process.returncode}{last}")
        logging.warning(
            "trial %s failed after %.1f min: %s (log: %s)",
            self.trial.name,
            minutes,
            record.get("error", "see the log"),
            self.log_path,
        )

    def _record_failure(self, error):
        """Records `error` as the trial's failure, unless another process works on it."""
        try:
            with run_directory.lock(self.directory):
                record = study.read_record(self.directory) or {}
                if record.get("status") in (study.DONE, study.FAILED):
                    return record
                record.update(name=self.trial.name, status=study.FAILED, error=error)
                study.write_record(self.directory, record)
                return record
        except run_directory.WorkdirBusy as busy:
            return {"error": f"{error} ({busy})"}


def _run_trials(config, workdir):
    """Runs every trial that is not done, `config.parallel` at a time, each as a process."""
    records = study.read_records(config, workdir)
    trials = study.trials(config)
    todo = collections.deque(t for t in trials if records[t.name]["status"] != study.DONE)
    logging.info(
        "%d trials: %d done already, %d to run, %d at a time; logs in %s",
        len(trials),
        len(trials) - len(todo),
        len(todo),
        config.parallel,
        os.path.join(workdir, study.TRIALS_DIR, "NAME", LOG_FILE),
    )
    running = []
    try:
        while todo or running:
            while todo and len(running) < config.parallel:
                running.append(_TrialProcess(todo.popleft(), workdir))
                logging.info("trial %s started", running[-1].trial.name)
            for trial_process in [t for t in running if t.process.poll() is not None]:
                running.remove(trial_process)
                trial_process.report()
            time.sleep(POLL_S)
    finally:
        # Interrupted: the trials stop within seconds by themselves and resume on a rerun.
        for trial_process in running:
            trial_process.process.terminate()


def _run_study(config, workdir):
    """Runs the study's trials, writes and prints the results; exits 1 if one did not end well."""
    resume = "rerun the same command to resume: done trials are kept, the others resume"
    with common.stop_on_signals(lambda: resume):
        with run_directory.lock(workdir):
            study.save_study(config, workdir)
            _run_trials(config, workdir)
            results = _aggregate(config, workdir)
    print(study.render_markdown(results), end="")
    print(f"Results written to {os.path.join(workdir, study.RESULTS_MD)} and {study.RESULTS_JSON}")
    summary = results["summary"]
    if summary["done"] < summary["trials"]:
        failed = [row for row in results["trials"] if row["status"] == study.FAILED]
        first = f"; {failed[0]['name']}: {failed[0]['error']}" if failed else ""
        common.fail(
            f"{summary['trials'] - summary['done']} of {summary['trials']} trials did not finish "
            f"({summary['failed']} failed{first}); rerun the same command to try them again"
        )


def main(argv):
    del argv
    common.show_progress_lines()
    config, workdir = common.load_config(_CONFIG), os.path.abspath(_WORKDIR.value)
    with common.one_line_errors(study_trial.TrialFailed, runs.Diverged):
        modes = [
            flag
            for flag, given in (
                ("--list", _LIST.value),
                ("--aggregate", _AGGREGATE.value),
                ("--trial", _TRIAL.value is not None),
            )
            if given
        ]
        if len(modes) > 1:
            raise ValueError(f"{' and '.join(modes)}: give at most one of them")
        study_trial.validate(config)
        study.refuse_another_study(config, workdir)
        if _LIST.value:
            print("\n".join(_shell_command(trial, workdir) for trial in study.trials(config)))
        elif _AGGREGATE.value:
            if study.read_study(workdir) is None:
                raise ValueError(f"workdir {workdir} holds no study (no {study.STUDY_FILE})")
            print(study.render_markdown(_aggregate(config, workdir)), end="")
        elif _TRIAL.value is not None:
            _run_one(config, workdir, _TRIAL.value)
        else:
            _run_study(config, workdir)


if __name__ == "__main__":
    app.run(main)
