r"""Runs a study: a grid of search -> retrain trials over seeds, summarised like UNAS Table 2.

    python -m launch.study --config=configs/study/digits.py --workdir=/tmp/study_digits
    python -m launch.study --config=configs/study/smoke.py --workdir=/tmp/study_smoke \
        --config.parallel=1                   # one trial at a time
    python -m launch.study --config=configs/study/cifar10.py --workdir=/data/c10 \
        --config.parallel=4 --config.gpus_per_trial=2   # 8 GPUs: 4 trials, 2 GPUs each
    python -m launch.study --config=configs/study/cifar10.py --workdir=/shared/c10 --list
    python -m launch.study --config=configs/study/cifar10.py --workdir=/shared/c10 --aggregate

Each trial (`unas_tf/study.py`) is a search, or a random cell for the random baseline, then a
retraining from scratch and the test metrics; it runs as its own process, `--config.parallel`
at a time, its output in WORKDIR/trials/NAME/log.txt. On a machine with GPUs each running trial
gets `--config.gpus_per_trial` of them to itself (its CUDA_VISIBLE_DEVICES), and fewer trials
run at once when there are not enough for `parallel` of them. A line after each trial says how
many are done and failed, and the time left. Rerunning the same command skips done trials and
resumes the others from their checkpoints (failed ones are tried again). The workdir
receives study.json, trials/, tensorboard/ (the HParams experiment: point TensorBoard at the
workdir), results.json and results.md, which is also printed; when the trials re-measure their
latency (a search config with a `latency` section), also pareto.png, test accuracy against
latency with the non-dominated trials marked, and the same image in the TensorBoard run
pareto/. The exit status is 1 if a trial failed or did not finish.

--list prints one self-contained shell command per trial, for a cluster's scheduler; each runs
that trial alone (--trial=NAME) on the GPUs the scheduler gives it (ask it for
`gpus_per_trial`). --aggregate writes the results from whatever trials the workdir holds,
finished or not.
"""

import collections
import os
import shlex
import subprocess
import sys
import time

from absl import app, flags, logging

from launch import common
from unas_tf import pareto, progress, run_directory, runs, runtime, study, study_trial

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
    if trial.searches and "latency" not in study.search_config(config, trial):
        runtime.lighten_graph_optimisation()  # process-wide: the launcher's, as launch.search's
    study.save_study(config, workdir)
    directory = study.trial_directory(workdir, trial)
    with common.stop_on_signals(lambda: "rerun the same command to resume the trial"):
        record = study_trial.run(config, trial, workdir)
    print(
        f"trial {trial.name}: test top-1 {record['test_accuracy']:.4f}, {record['params']:,} "
        f"params; record in {os.path.join(directory, study.TRIAL_FILE)}"
    )
    common.end_process()


def _visible_gpus():
    """The ids of the GPUs this process sees, as a trial's CUDA_VISIBLE_DEVICES names them.

    TensorFlow counts them: launch.common has imported it, and its start-up already listed the
    physical devices (`runtime.import_tensorflow_quietly`), so listing them again costs nothing
    and, like that listing, does not initialise the runtime: this process, which only starts
    trials, creates no GPU context and takes no GPU memory. It counts the GPUs the trials'
    TensorFlow will use (none where TensorFlow has no CUDA), in CUDA's order, where
    `nvidia-smi -L` would count every GPU of the driver, in bus order. Its ids are the entries
    of this process's CUDA_VISIBLE_DEVICES when set (`study.visible_gpus`).
    """
    import tensorflow as tf  # already imported by launch.common, quietly

    count = len(tf.config.list_physical_devices("GPU"))
    return study.visible_gpus(os.environ.get("CUDA_VISIBLE_DEVICES"), count)


def _gpu_slots(config, gpus):
    """`study.gpu_slots`, with a warning when there are too few GPUs for `config.parallel`."""
    slots = study.gpu_slots(gpus, config.parallel, config.gpus_per_trial)
    if len(slots) < config.parallel:
        logging.warning(
            "config.parallel=%d x config.gpus_per_trial=%d needs %d GPUs, %d visible: running "
            "%d at a time",
            config.parallel,
            config.gpus_per_trial,
            config.parallel * config.gpus_per_trial,
            len(gpus),
            len(slots),
        )
    return slots


def _aggregate(config, workdir):
    """Writes results.json, results.md, the Pareto plot (when trials have a latency) and the
    HParams experiment; returns the results."""
    results = study.aggregate(config, study.read_records(config, workdir))
    results["pareto_front"] = pareto.write(workdir, results)
    study.write_results(workdir, results)
    study_trial.write_experiment(config, workdir)
    return results


class _Progress:
    """The line logged as each trial ends: trials done and failed, and the time left.

    The time left is the mean wall time of the trials done in this run, times the trials left
    (running ones included), over how many run at once (no more than are left); it is somewhat
    long while trials run, since they have partly run. Trials done by an earlier run
    count as done but not in the mean, which they took no time of; failed ones neither, since a
    failure often comes at start-up and says nothing of how long a trial takes.
    """

    def __init__(self, total, done, parallel):
        self.total, self.done, self.parallel = total, done, parallel
        self.failed = 0
        self._seconds = []  # wall times of the trials done in this run

    def trial_done(self, name, seconds, accuracy):
        """Counts a trial done after `seconds`; returns its line."""
        self.done += 1
        self._seconds.append(seconds)
        took = progress.format_duration(seconds)
        return (
            f"trial {self.done} of {self.total} done ({name}: test top-1 {accuracy:.4f}, {took})"
            f"{self._failed_and_eta()}"
        )

    def trial_failed(self, name, seconds, error):
        """Counts a trial failed after `seconds` with `error`; returns its line."""
        self.failed += 1
        took = progress.format_duration(seconds)
        return (
            f"trial {name} failed after {took}: {error}; {self.done} of {self.total} done"
            f"{self._failed_and_eta()}"
        )

    def _failed_and_eta(self):
        """The line's end: ", N failed" if any failed, ", ETA h:mm:ss" while trials are left."""
        failed = f", {self.failed} failed" if self.failed else ""
        left = self.total - self.done - self.failed
        if not left:
            return failed
        eta = None  # "--:--" until a trial is done in this run
        if self._seconds:
            eta = sum(self._seconds) / len(self._seconds) * left / min(self.parallel, left)
        return f"{failed}, ETA {progress.format_duration(eta)}"


class _TrialProcess:
    """A trial running in a child process, its output appended to the trial's log.

    Args:
      trial: the `study.Trial`.
      workdir: the study directory.
      gpus: the ids of the GPUs the trial gets to itself (its CUDA_VISIBLE_DEVICES), or None to
        leave the process's environment as it is.
    """

    def __init__(self, trial, workdir, gpus):
        self.trial = trial
        self.directory = study.trial_directory(workdir, trial)
        os.makedirs(self.directory, exist_ok=True)
        self.log_path = os.path.join(self.directory, LOG_FILE)
        self.start = time.perf_counter()
        environment = None
        if gpus is not None:
            environment = {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(gpus)}
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                _trial_command(trial, workdir),
                cwd=common.PACKAGE_ROOT,  # the checkout's launch/ and unas_tf/ are imported
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )

    def report(self, study_progress):
        """Logs how the ended process left its trial and the study's progress (`_Progress`).

        A failure the process did not record (it was killed, or refused at start) is recorded.
        """
        seconds = time.perf_counter() - self.start
        record = study.read_record(self.directory) or {}
        if record.get("status") == study.DONE:
            logging.info(
                study_progress.trial_done(self.trial.name, seconds, record["test_accuracy"])
            )
            return
        if record.get("status") != study.FAILED:
            # It ended without saying why (killed, out of memory, refused at start).
            with open(self.log_path, errors="replace") as log:
                lines = [line.strip() for line in log if line.strip()]
            last = f": {lines[-1]}" if lines else ""
            record = self._record_failure(f"exit status {self.process.returncode}{last}")
        error = f"{record.get('error', 'see the log')} (log: {self.log_path})"
        logging.warning(study_progress.trial_failed(self.trial.name, seconds, error))

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


def _run_trials(config, workdir, slots):
    """Runs every trial that is not done, as processes, one per slot of `study.gpu_slots`.

    A trial starts in the first free slot, on its GPUs (if any): the slot of a trial that ended
    goes to the next trial.
    """
    records = study.read_records(config, workdir)
    trials = study.trials(config)
    todo = collections.deque(t for t in trials if records[t.name]["status"] != study.DONE)
    on_gpus = ""
    if slots[0] is not None:
        on_gpus = " on GPUs " + " | ".join(",".join(gpus) for gpus in slots)
    logging.info(
        "%d trials: %d done already, %d to run, %d at a time%s; logs in %s",
        len(trials),
        len(trials) - len(todo),
        len(todo),
        len(slots),
        on_gpus,
        os.path.join(workdir, study.TRIALS_DIR, "NAME", LOG_FILE),
    )
    study_progress = _Progress(len(trials), len(trials) - len(todo), len(slots))
    running = {}  # slot -> _TrialProcess
    try:
        while todo or running:
            for slot, gpus in enumerate(slots):
                if todo and slot not in running:
                    running[slot] = _TrialProcess(todo.popleft(), workdir, gpus)
                    where = "" if gpus is None else f" (CUDA_VISIBLE_DEVICES={','.join(gpus)})"
                    logging.info("trial %s started%s", running[slot].trial.name, where)
            for slot, trial_process in list(running.items()):
                if trial_process.process.poll() is not None:
                    del running[slot]
                    trial_process.report(study_progress)
            time.sleep(POLL_S)
    finally:
        # Interrupted: the trials stop within seconds by themselves and resume on a rerun.
        for trial_process in running.values():
            trial_process.process.terminate()


def _run_study(config, workdir):
    """Runs the study's trials, writes and prints the results; exits 1 if one did not end well."""
    slots = _gpu_slots(config, _visible_gpus())  # too few GPUs: refused before writing
    resume = "rerun the same command to resume: done trials are kept, the others resume"
    with common.stop_on_signals(lambda: resume):
        with run_directory.lock(workdir):
            study.save_study(config, workdir)
            _run_trials(config, workdir, slots)
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
