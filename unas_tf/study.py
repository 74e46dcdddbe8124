"""Studies: UNAS Table 2's protocol as data, a grid of search -> retrain trials over seeds.

NAS results are only worth their average over seeds (UNAS Sec. 4 and App. C, after Li and
Talwalkar 2019): Table 2 runs every objective x estimator four times end to end and reports the
mean, standard deviation and best test error. A study config (configs/study/*.py) holds

  search    the search preset every trial starts from
  eval      the retraining preset; its `genotype` and `seed` are the trial's
  grids     named grids {axis: (values, ...)}, each axis a search key; a nested key is a nested
            grid entry ({"latency": {"weight": (...)}} is the axis `latency.weight`); each
            grid's product is a set of grid points, and the study's points are their union, in
            order
  seeds     every grid point runs once per seed (the seed of its search and its retraining)
  parallel  how many trials `launch.study` runs at once (not part of the study's identity)
  gpus_per_trial
            how many GPUs each of those trials gets to itself (`gpu_slots`; not part of the
            study's identity either); ignored on a machine without GPUs

A grid point whose `estimator` is "random" is the paper's random baseline: its trials search
nothing and retrain the uniformly random cell `random:SEED` (the estimator of that name leaves
phi at zero, whose argmax is one fixed cell, so a search with it would measure nothing). Its
trials do not depend on search keys, so one grid point at most may name it.

This module is pure Python (no TensorFlow): the grid, trial names and directories, trial records,
how running trials share the GPUs (`visible_gpus`, `gpu_slots`) and the results (`aggregate`,
`render_markdown`). `unas_tf.study_trial` runs one trial and `launch/study.py` runs the trials
as processes. A study directory holds

  study.json        the study config (without `parallel` and `gpus_per_trial`); a directory
                    whose study.json differs is refused before anything is written
  trials/NAME/      one trial: trial.json (its record), search/ (an ordinary search workdir),
                    train/ (an ordinary retraining workdir), log.txt (its process's output) and
                    the TensorBoard HParams session of its keys and metrics
  tensorboard/      the HParams experiment (its keys' domains and the metrics)
  results.json      `aggregate`'s trials and groups (and "pareto_front")
  results.md        the same as a table like the paper's Table 2
  pareto.png        with latency (unas_tf/pareto.py): test accuracy against latency, the
                    non-dominated trials marked; also an image in the TensorBoard run pareto/
"""

import copy
import itertools
import json
import os
from typing import NamedTuple

from unas_tf import run_directory, seed_statistics

STUDY_FILE = "study.json"
TRIALS_DIR = "trials"
TRIAL_FILE = "trial.json"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
PARETO_PLOT = "pareto.png"  # written beside results.md by unas_tf/pareto.py
RANDOM = "random"  # the `estimator` value of the random-cell baseline
FORMAT_VERSION = 1
# Study config keys that say how to run the study, not what it is.
_RUN_KEYS = ("parallel", "gpus_per_trial")
_REQUIRED = ("search", "eval", "grids", "seeds", "parallel", "gpus_per_trial")
_MAX_NAME_BYTES = 255  # a directory name's limit on common file systems
# A trial record's status; a trial with no record is "pending", one whose record has neither
# final status (it stopped, or is running) is "unfinished".
DONE, FAILED, UNFINISHED, PENDING = "done", "failed", "unfinished", "pending"
# The metrics a done trial's record holds, besides its keys, seed and status.
METRICS = (
    "test_accuracy",
    "params",
    "macs",
    "search_seconds",
    "train_seconds",
    "arch_grad_variance",
    "latency_ms",  # re-measured after retraining, in a study whose search measures latency
)


class Trial(NamedTuple):
    """One search -> retrain run of a study.

    Attributes:
      point: ((search key, value), ...) of its grid point, keys sorted.
      seed: the seed of its search and its retraining.
    """

    point: tuple
    seed: int

    @property
    def name(self):
        """Its directory name: "key=value,...,seed=S"."""
        return ",".join(
            f"{key}={_format(value)}" for key, value in (*self.point, ("seed", self.seed))
        )

    @property
    def group(self):
        """The name of its grid point (its name without the seed)."""
        return group_name(self.point)

    @property
    def searches(self):
        """False for the random baseline, which retrains a random cell instead."""
        return dict(self.point).get("estimator") != RANDOM


def group_name(point):
    """The name of a grid point, "key=value,..." (keys sorted)."""
    return ",".join(f"{key}={_format(value)}" for key, value in point)


def _format(value):
    return json.dumps(value) if not isinstance(value, str) else value


def _grid_items(config):
    """[(grid name, {axis: values})], grids and axes sorted by name (stable trial names).

    A grid's nested entries are nested search keys: their axis is the dotted path.
    """
    grids = _as_dict(config.grids)
    return [(name, dict(sorted(_axes(_as_dict(grids[name])).items()))) for name in sorted(grids)]


def _as_dict(value):
    return value.to_dict() if hasattr(value, "to_dict") else dict(value)


def _is_mapping(value):
    return isinstance(value, dict) or hasattr(value, "to_dict")


def _axes(grid, prefix=""):
    """{dotted axis: values} of a grid whose nested mappings are nested search keys.

    An empty nested mapping stays an axis of no values, which `validate` refuses by name.
    """
    axes = {}
    for key, value in grid.items():
        if _is_mapping(value) and _as_dict(value):
            axes.update(_axes(_as_dict(value), f"{prefix}{key}."))
        else:
            axes[f"{prefix}{key}"] = value
    return axes


def _has_key(search, axis):
    """Whether `axis` (a dotted path) names a key of the search config."""
    *sections, key = axis.split(".")
    for section in sections:
        if section not in search or not _is_mapping(search[section]):
            return False
        search = search[section]
    return key in search


def _get_key(search, axis):
    for part in axis.split("."):
        search = search[part]
    return search


def _set_key(search, axis, value):
    *sections, key = axis.split(".")
    for section in sections:
        search = search[section]
    search[key] = value


def validate(config):
    """Rejects a study config that cannot run, naming the key.

    Raises:
      ValueError: a missing key, an empty grid, seeds or axis, an axis that is no search key
        (or is `seed`, which `seeds` sets; a nested axis is named by its dotted path), a value
        its search key cannot take, the random baseline in several grid points, a `parallel` or
        `gpus_per_trial` below 1, or a trial name unfit for a directory.
    """
    missing = [key for key in _REQUIRED if key not in config]
    if missing:
        raise ValueError(f"config: missing keys {missing}; a study config has {list(_REQUIRED)}")
    seeds = list(config.seeds)
    if not seeds or not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in seeds):
        raise ValueError(f"config.seeds: expected a non-empty tuple of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"config.seeds: expected distinct seeds, got {seeds!r}")
    for key in ("parallel", "gpus_per_trial"):
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"config.{key}: expected an integer >= 1, got {value!r}")
    items = _grid_items(config)
    if not items:
        raise ValueError("config.grids: expected at least one grid, got none")
    for grid, axes in items:
        if not axes:
            raise ValueError(f"config.grids.{grid}: expected at least one axis, got none")
        for axis, values in axes.items():
            where = f"config.grids.{grid}.{axis}"
            if axis == "seed":
                raise ValueError(f"{where}: the seed is not a grid axis; set config.seeds")
            if not _has_key(config.search, axis):
                raise ValueError(
                    f"{where}: unknown search key {axis!r}; an axis is a key of config.search, "
                    "a nested one given as a nested grid entry (latency.weight as "
                    "{'latency': {'weight': (...)}})"
                )
            if not isinstance(values, list | tuple) or not values:
                raise ValueError(f"{where}: expected a non-empty tuple of values, got {values!r}")
            for value in values:
                try:
                    _set_key(copy.deepcopy(config.search), axis, value)
                except TypeError as error:
                    raise ValueError(
                        f"{where}: {value!r} does not fit search key {axis!r} ({error})"
                    ) from None
    randoms = [
        group_name(point) for point in grid_points(config) if dict(point).get("estimator") == RANDOM
    ]
    if len(randoms) > 1:
        raise ValueError(
            f"config.grids: the random baseline (estimator={RANDOM}) is in {len(randoms)} grid "
            f"points ({'; '.join(randoms)}); its trials retrain random cells whatever the search "
            "keys, so give it one"
        )
    for trial in trials(config):
        if len(trial.name.encode()) > _MAX_NAME_BYTES or "/" in trial.name or "\0" in trial.name:
            raise ValueError(
                f"config.grids: trial name {trial.name!r} cannot be a directory name (too long, "
                "or holds '/'); use shorter values"
            )


def grid_points(config):
    """The study's grid points in order: each grid's product, duplicates kept once.

    Returns:
      A list of points, each a tuple of (search key, value) pairs sorted by key (a nested key
      dotted, e.g. "latency.weight").
    """
    points = []
    for _, axes in _grid_items(config):
        keys = list(axes)
        for values in itertools.product(*(axes[key] for key in keys)):
            point = tuple(zip(keys, values, strict=True))
            if point not in points:
                points.append(point)
    return points


def trials(config):
    """Every trial of the study: grid points in order, each with every seed."""
    return [Trial(point, seed) for point in grid_points(config) for seed in config.seeds]


def find_trial(config, name):
    """The trial called `name`.

    Raises:
      ValueError: the study has no such trial; the message lists a few it has.
    """
    for trial in trials(config):
        if trial.name == name:
            return trial
    known = [trial.name for trial in trials(config)]
    shown = ", ".join(known[:3]) + (", ..." if len(known) > 3 else "")
    raise ValueError(f"--trial={name}: the study has no such trial ({len(known)} trials: {shown})")


def grid_keys(config):
    """The search keys the grids vary, sorted: the columns that tell groups apart."""
    return sorted({key for point in grid_points(config) for key, _ in point})


def search_config(config, trial):
    """The search config of a trial: the study's search preset, its grid point and seed."""
    search = copy.deepcopy(config.search)
    for key, value in trial.point:
        _set_key(search, key, value)
    search.seed = trial.seed
    return search


def eval_config(config, trial, genotype):
    """The retraining config of a trial: the study's eval preset with `genotype` and its seed."""
    evaluation = copy.deepcopy(config.eval)
    evaluation.genotype = genotype
    evaluation.seed = trial.seed
    return evaluation


def random_genotype(trial):
    """The eval-config genotype of a random-baseline trial: the random cell of its seed."""
    return f"random:{trial.seed}"


def trial_keys(config, trial):
    """{grid key: value} of a trial: its point's, else its search config's (None if it searches
    nothing)."""
    search = search_config(config, trial) if trial.searches else None
    point = dict(trial.point)
    return {
        key: point[key] if key in point else (_get_key(search, key) if search is not None else None)
        for key in grid_keys(config)
    }


# --- the GPUs of running trials ---------------------------------------------------------------


def visible_gpus(cuda_visible_devices, count):
    """The ids of a process's GPUs, as its child's CUDA_VISIBLE_DEVICES names them.

    A child's CUDA_VISIBLE_DEVICES selects among the machine's GPUs, not among its parent's, so
    a parent restricted by CUDA_VISIBLE_DEVICES passes on its own entries (indices or UUIDs).
    CUDA reads that variable up to its first invalid entry, which is why the first `count`
    entries are the ones the parent sees.

    Args:
      cuda_visible_devices: the process's CUDA_VISIBLE_DEVICES, or None if it is not set.
      count: how many GPUs the process sees.

    Returns:
      A list of `count` ids (strings): CUDA_VISIBLE_DEVICES's first entries, or "0" ... when
      it is not set.
    """
    if cuda_visible_devices is None:
        return [str(index) for index in range(count)]
    return [entry.strip() for entry in cuda_visible_devices.split(",")][:count]


def gpu_slots(gpus, parallel, gpus_per_trial):
    """The GPUs of each trial that runs at once, so that no two running trials share one.

    Slot i holds the i-th block of `gpus_per_trial` consecutive GPUs (neighbouring GPUs are the
    ones most often linked directly, which a trial on several uses); a trial takes a free slot
    and frees it when it ends, so the next trial reuses its GPUs. When there are too few GPUs
    for `parallel` slots, fewer trials run at once rather than share a GPU: each trial's
    TensorFlow takes nearly all of its GPUs' memory, so a second one on a GPU would fail.

    Args:
      gpus: the ids of the GPUs the trials may use (`visible_gpus`); empty without GPUs.
      parallel: how many trials the study config asks to run at once.
      gpus_per_trial: how many GPUs each trial gets.

    Returns:
      One entry per trial that may run at once: a tuple of GPU ids for its CUDA_VISIBLE_DEVICES,
      or None without GPUs (the trials see what the study's process sees, and `parallel` of
      them run at once). With GPUs, min(parallel, len(gpus) // gpus_per_trial) entries.

    Raises:
      ValueError: a trial needs more GPUs than there are.
    """
    if not gpus:
        return [None] * parallel
    if gpus_per_trial > len(gpus):
        raise ValueError(
            f"config.gpus_per_trial={gpus_per_trial}: only {len(gpus)} GPU(s) visible "
            f"({','.join(gpus)}); lower it"
        )
    count = min(parallel, len(gpus) // gpus_per_trial)
    return [
        tuple(gpus[slot * gpus_per_trial : (slot + 1) * gpus_per_trial]) for slot in range(count)
    ]


# --- the study directory ----------------------------------------------------------------------


def identity(config):
    """The JSON of what the study is: its config without how it is run."""
    whole = json.loads(config.to_json())
    return {key: value for key, value in whole.items() if key not in _RUN_KEYS}


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        flat = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else key))
        return flat or {prefix: {}}
    return {prefix: value}


def read_study(workdir):
    """The identity saved in `workdir`'s study.json, or None if there is none.

    Raises:
      ValueError: study.json cannot be read; the message names it.
    """
    path = os.path.join(workdir, STUDY_FILE)
    saved = run_directory.read_json_object(path, "a study")
    if saved is None:
        return None
    if "config" not in saved:
        raise ValueError(f"{path}: cannot be read as a study (it has no 'config')")
    return saved["config"]


def refuse_another_study(config, workdir):
    """Raises if `workdir` holds a study of another config, naming the keys that differ.

    Raises:
      ValueError: study.json differs from `config`, or `workdir` is not a study's directory
        (it holds files but no study.json).
    """
    saved = read_study(workdir)
    if saved is None:
        if os.path.isdir(workdir) and set(os.listdir(workdir)) - {run_directory.LOCK_FILE}:
            raise ValueError(
                f"workdir {workdir} holds files but no {STUDY_FILE}: it is not a study's "
                "directory; use a new --workdir"
            )
        return
    saved, current = _flatten(saved), _flatten(identity(config))
    differing = sorted(
        key for key in set(saved) | set(current) if saved.get(key) != current.get(key)
    )
    if differing:
        shown = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in differing[:4])
        more = f" and {len(differing) - 4} more" if len(differing) > 4 else ""
        raise ValueError(
            f"workdir {workdir} holds another study ({shown}{more}); use a new --workdir, or "
            "the same config to resume it"
        )


def save_study(config, workdir):
    """Writes study.json (after `refuse_another_study`); creates `workdir` if missing."""
    run_directory.check_writable(workdir, "workdir")
    run_directory.write_json_atomically(
        os.path.join(workdir, STUDY_FILE),
        {"format_version": FORMAT_VERSION, "config": identity(config)},
    )


def trial_directory(workdir, trial):
    """Where a trial's runs and record live."""
    return os.path.join(workdir, TRIALS_DIR, trial.name)


def read_record(directory):
    """A trial directory's record (trial.json), or None if there is none.

    Raises:
      ValueError: trial.json cannot be read; the message names it.
    """
    return run_directory.read_json_object(os.path.join(directory, TRIAL_FILE), "a trial record")


def write_record(directory, record):
    """Writes a trial's record atomically."""
    run_directory.write_json_atomically(os.path.join(directory, TRIAL_FILE), record)


def status(directory, record):
    """A trial's status from its directory and record: done, failed, unfinished or pending."""
    if record is not None and record.get("status") in (DONE, FAILED):
        return record["status"]
    return UNFINISHED if os.path.isdir(directory) else PENDING


def read_records(config, workdir):
    """{trial name: record} of every trial; a trial without a final record gets only a status.

    Raises:
      ValueError: a trial.json cannot be read; the message names it.
    """
    records = {}
    for trial in trials(config):
        directory = trial_directory(workdir, trial)
        record = read_record(directory)
        state = status(directory, record)
        records[trial.name] = record if state in (DONE, FAILED) else {"status": state}
    return records


# --- results ----------------------------------------------------------------------------------


def aggregate(config, records):
    """The study's results from its trials' records.

    Args:
      config: the study config.
      records: {trial name: record}; a record has "status" and, when done, `METRICS`; a failed
        one has "error". Trials missing from it are pending.

    Returns:
      {"summary": {status: count}, "keys": grid keys, "trials": [one object per trial: its
      name, grid keys, seed, status, metrics (None when absent), error if failed], "groups":
      [one object per grid point: its name and keys, "n" done trials, "failed", "mean", "std",
      "best" of test accuracy, mean "params", "macs", "search_seconds", "train_seconds",
      "arch_grad_variance" and "latency_ms", and "vs_random": Welch's test against the random
      baseline or None]}. Means over no values are None; std needs two values.
    """
    rows = []
    for trial in trials(config):
        record = records.get(trial.name) or {"status": PENDING}
        row = {"name": trial.name, **trial_keys(config, trial), "seed": trial.seed}
        row["status"] = record.get("status", PENDING)
        row.update({metric: record.get(metric) for metric in METRICS})
        if row["status"] == FAILED:
            row["error"] = record.get("error", "unknown error")
        rows.append(row)

    groups, accuracies = [], {}
    for point in grid_points(config):
        name = group_name(point)
        members = [
            row for row, trial in zip(rows, trials(config), strict=True) if trial.point == point
        ]
        done = [row for row in members if row["status"] == DONE]
        scores = [row["test_accuracy"] for row in done]
        accuracies[name] = scores
        keys = trial_keys(config, Trial(point, config.seeds[0]))
        group = {"name": name, **keys, "n": len(done)}
        group["failed"] = sum(row["status"] == FAILED for row in members)
        group["mean"] = seed_statistics.mean(scores) if scores else None
        group["std"] = seed_statistics.sample_std(scores)
        group["best"] = max(scores) if scores else None
        for metric in METRICS[1:]:  # test accuracy, first, has its mean, std and best above
            values = [row[metric] for row in done if row[metric] is not None]
            group[metric] = seed_statistics.mean(values) if values else None
        group["random_baseline"] = dict(point).get("estimator") == RANDOM
        groups.append(group)

    baseline = next((group for group in groups if group["random_baseline"]), None)
    for group in groups:
        group["vs_random"] = None
        if baseline is None or group is baseline:
            continue
        ours, theirs = accuracies[group["name"]], accuracies[baseline["name"]]
        if len(ours) >= 2 and len(theirs) >= 2:
            group["vs_random"] = seed_statistics.welch_test(ours, theirs)._asdict()

    summary = {
        state: sum(row["status"] == state for row in rows)
        for state in (DONE, FAILED, UNFINISHED, PENDING)
    }
    return {
        "summary": {"trials": len(rows), **summary},
        "keys": grid_keys(config),
        "trials": rows,
        "groups": groups,
    }


def _cell(value, form):
    return "-" if value is None else form.format(value)


def _p_value(p):
    if p is None:
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def render_markdown(results, title="Study results"):
    """`aggregate`'s results as Markdown: a table like UNAS Table 2, the Pareto front, failures.

    The front is listed when the results hold "pareto_front", the names of the non-dominated
    trials that `unas_tf/pareto.py` plotted into `PARETO_PLOT` (launch/study.py adds it).

    Test accuracy (not error) as mean +- sample standard deviation over the done trials, and
    the best; each group's difference of means to the random baseline +- its standard error,
    with the two-sided p-value of Welch's t-test.
    """
    keys = results["keys"]
    summary = results["summary"]
    counts = ", ".join(
        f"{summary[state]} {state}"
        for state in (DONE, FAILED, UNFINISHED, PENDING)
        if summary[state]
    )
    # A study whose search measures no latency has no latency column.
    latency = any(group["latency_ms"] is not None for group in results["groups"])
    header = [
        *keys,
        "n",
        "test accuracy",
        "best",
        "params",
        *(["latency (ms)"] if latency else []),
        "search + retrain (min)",
        "arch. grad. variance",
        "vs random",
        "p (Welch)",
    ]
    lines = [
        f"# {title}",
        "",
        f"{summary['trials']} trials: {counts}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for group in results["groups"]:
        accuracy = _cell(group["mean"], "{:.4f}")
        if group["std"] is not None:
            accuracy += f" ± {group['std']:.4f}"
        minutes = None
        if group["train_seconds"] is not None:
            minutes = ((group["search_seconds"] or 0.0) + group["train_seconds"]) / 60
        comparison = group["vs_random"]
        if group["random_baseline"]:
            versus, p_value = "baseline", ""
        elif comparison is None:
            versus, p_value = "-", "-"
        else:
            versus = f"{comparison['difference']:+.4f} ± {comparison['standard_error']:.4f}"
            p_value = _p_value(comparison["p_value"])
        cells = [
            *("-" if group[key] is None else _format(group[key]) for key in keys),
            str(group["n"]) + (f" ({group['failed']} failed)" if group["failed"] else ""),
            accuracy,
            _cell(group["best"], "{:.4f}"),
            _cell(group["params"], "{:,.0f}"),
            *([_cell(group["latency_ms"], "{:.2f}")] if latency else []),
            _cell(minutes, "{:.1f}"),
            _cell(group["arch_grad_variance"], "{:.3g}"),
            versus,
            p_value,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Test top-1 accuracy of the retrained networks: mean ± sample standard deviation over "
        "the done trials (seeds), and the best. vs random: difference of the mean to the random "
        "cells' ± its standard error; p: two-sided Welch's t-test. Arch. grad. variance: the "
        "mean over the search's logged steps of `arch_grad_variance`, the estimated variance "
        "of one step's architecture gradient (summed over phi).",
    ]
    if latency:
        lines[-1] += (
            " Latency: the mean over the done trials of the retrained architecture's latency, "
            "re-measured after its retraining with the search's latency settings (ms per batch)."
        )
    if results.get("pareto_front"):
        lines += [
            "",
            "## Latency against accuracy",
            "",
            f"![test accuracy against latency]({PARETO_PLOT}): non-dominated (no other trial "
            "at least as fast and as accurate, and better in one), fastest first:",
            "",
            *(f"- `{name}`" for name in results["pareto_front"]),
        ]
    failed = [row for row in results["trials"] if row["status"] == FAILED]
    if failed:
        lines += ["", "## Failed trials", ""]
        lines += [f"- `{row['name']}`: {row['error']}" for row in failed]
    return "\n".join(lines) + "\n"


def write_results(workdir, results, title="Study results"):
    """Writes results.json and results.md into the study directory, each atomically."""
    run_directory.write_json_atomically(os.path.join(workdir, RESULTS_JSON), results)
    run_directory.write_text_atomically(
        os.path.join(workdir, RESULTS_MD), render_markdown(results, title)
    )
