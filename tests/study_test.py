"""Studies without TensorFlow: grid, names, validation, GPUs, records, results."""

import json
import math

import ml_collections
import pytest

from unas_tf import study


def _config(grids=None, seeds=(0, 1), parallel=1, gpus_per_trial=1):
    """A study over a stand-in search config (only its keys and types matter here)."""
    search = ml_collections.ConfigDict(
        dict(
            estimator="rebar",
            objective="gen",
            gap_weight=0.5,
            epochs=8,
            seed=0,
            latency=dict(weight=5.0, target_ms=20.0),
        )
    )
    evaluation = ml_collections.ConfigDict(dict(genotype="UNAS_CIFAR10", seed=0, epochs=15))
    if grids is None:
        grids = {
            "gen": {"estimator": ("rebar", "reinforce", "random"), "objective": ("gen",)},
            "val": {"estimator": ("rebar",), "objective": ("val",)},
        }
    return ml_collections.ConfigDict(
        dict(
            search=search,
            eval=evaluation,
            grids=grids,
            seeds=seeds,
            parallel=parallel,
            gpus_per_trial=gpus_per_trial,
        )
    )


# --- the grid ---------------------------------------------------------------------------------


def test_grids_expand_to_the_union_of_their_products_in_order():
    config = _config()
    assert [study.group_name(point) for point in study.grid_points(config)] == [
        "estimator=rebar,objective=gen",
        "estimator=reinforce,objective=gen",
        "estimator=random,objective=gen",
        "estimator=rebar,objective=val",
    ]
    names = [trial.name for trial in study.trials(config)]
    assert len(names) == 8 and len(set(names)) == 8
    assert names[:2] == [
        "estimator=rebar,objective=gen,seed=0",
        "estimator=rebar,objective=gen,seed=1",
    ]


def test_a_point_in_two_grids_runs_once():
    config = _config(
        grids={
            "a": {"estimator": ("rebar", "reinforce")},
            "b": {"estimator": ("reinforce", "gumbel_softmax")},
        },
        seeds=(3,),
    )
    assert [trial.name for trial in study.trials(config)] == [
        "estimator=rebar,seed=3",
        "estimator=reinforce,seed=3",
        "estimator=gumbel_softmax,seed=3",
    ]


def test_any_search_key_is_an_axis_and_names_show_its_values():
    config = _config(grids={"gap": {"gap_weight": (0.0, 0.5), "estimator": ("rebar",)}}, seeds=(0,))
    study.validate(config)
    assert [trial.name for trial in study.trials(config)] == [
        "estimator=rebar,gap_weight=0.0,seed=0",
        "estimator=rebar,gap_weight=0.5,seed=0",
    ]
    assert study.grid_keys(config) == ["estimator", "gap_weight"]


def test_a_trial_config_is_the_preset_with_its_point_and_seed():
    config = _config()
    trial = study.trials(config)[-1]  # rebar on val, seed 1
    search = study.search_config(config, trial)
    assert (search.estimator, search.objective, search.seed, search.epochs) == (
        "rebar",
        "val",
        1,
        8,
    )
    assert config.search.objective == "gen" and config.search.seed == 0  # the preset is untouched
    evaluation = study.eval_config(config, trial, "/x/genotype.json")
    assert (evaluation.genotype, evaluation.seed, evaluation.epochs) == ("/x/genotype.json", 1, 15)
    assert config.eval.genotype == "UNAS_CIFAR10"


def test_a_nested_axis_overrides_that_key_in_each_trials_search_config():
    config = _config(
        grids={"pareto": {"latency": {"weight": (0.0, 2.0)}, "estimator": ("rebar",)}},
        seeds=(0,),
    )
    study.validate(config)
    trials = study.trials(config)
    assert [trial.name for trial in trials] == [
        "estimator=rebar,latency.weight=0.0,seed=0",
        "estimator=rebar,latency.weight=2.0,seed=0",
    ]
    assert study.grid_keys(config) == ["estimator", "latency.weight"]
    search = study.search_config(config, trials[1])
    assert (search.latency.weight, search.latency.target_ms) == (2.0, 20.0)
    assert config.search.latency.weight == 5.0  # the preset is untouched
    assert study.trial_keys(config, trials[0]) == {"estimator": "rebar", "latency.weight": 0.0}
    # A grid naming only the other key shows the preset's nested value in that column.
    config.grids.other = {"gap_weight": (0.0,)}
    other = study.find_trial(config, "gap_weight=0.0,seed=0")
    assert study.trial_keys(config, other) == {
        "estimator": "rebar",
        "gap_weight": 0.0,
        "latency.weight": 5.0,
    }


def test_the_random_baseline_searches_nothing_and_retrains_its_seeds_random_cell():
    config = _config()
    random_trials = [trial for trial in study.trials(config) if not trial.searches]
    assert [trial.name for trial in random_trials] == [
        "estimator=random,objective=gen,seed=0",
        "estimator=random,objective=gen,seed=1",
    ]
    assert study.random_genotype(random_trials[1]) == "random:1"
    # Keys its point does not name do not apply to it; a searching trial shows the preset's.
    only_random = _config(grids={"r": {"estimator": ("random",)}, "s": {"objective": ("val",)}})
    first, *_, last = study.trials(only_random)
    assert study.trial_keys(only_random, first) == {"estimator": "random", "objective": None}
    assert study.trial_keys(only_random, last) == {"estimator": "rebar", "objective": "val"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.grids.gen.__setattr__("estimater", ("rebar",)),
            "config.grids.gen.estimater: unknown search key 'estimater'",
        ),
        (
            lambda c: c.grids.gen.__setattr__("latency", {"wieght": (1.0,)}),
            "config.grids.gen.latency.wieght: unknown search key 'latency.wieght'",
        ),
        (
            lambda c: c.grids.gen.__setattr__("epochs", {"weight": (1.0,)}),
            "config.grids.gen.epochs.weight: unknown search key 'epochs.weight'",
        ),
        (
            lambda c: c.grids.gen.__setattr__("latency", {"weight": ("heavy",)}),
            "config.grids.gen.latency.weight: 'heavy' does not fit search key 'latency.weight'",
        ),
        (
            lambda c: c.grids.gen.__setattr__("latency", {}),
            "config.grids.gen.latency: expected a non-empty tuple",
        ),
        (
            lambda c: c.grids.gen.__setattr__("estimator", ()),
            "config.grids.gen.estimator: expected a non-empty tuple",
        ),
        (
            lambda c: c.grids.gen.__setattr__("seed", (1, 2)),
            "config.grids.gen.seed: the seed is not a grid axis",
        ),
        (
            lambda c: c.grids.gen.__setattr__("epochs", ("many",)),
            "config.grids.gen.epochs: 'many' does not fit",
        ),
        (
            lambda c: c.__setattr__("grids", ml_collections.ConfigDict()),
            "config.grids: expected at least one grid",
        ),
        (
            lambda c: c.grids.__setattr__("empty", {}),
            "config.grids.empty: expected at least one axis",
        ),
        (lambda c: c.__setattr__("seeds", ()), "config.seeds: expected a non-empty tuple"),
        (lambda c: c.__setattr__("seeds", (1, 1)), "config.seeds: expected distinct seeds"),
        (lambda c: c.__setattr__("parallel", 0), "config.parallel: expected an integer >= 1"),
        (
            lambda c: c.__setattr__("gpus_per_trial", 0),
            "config.gpus_per_trial: expected an integer >= 1, got 0",
        ),
        (
            lambda c: c.__setattr__("gpus_per_trial", True),
            "config.gpus_per_trial: expected an integer >= 1, got True",
        ),
        (
            lambda c: c.grids.val.__setattr__("estimator", ("rebar", "random")),
            "config.grids: the random baseline (estimator=random) is in 2 grid points",
        ),
    ],
)
def test_a_bad_grid_is_refused_naming_the_key(change, message):
    config = _config()
    study.validate(config)
    change(config)
    with pytest.raises(ValueError) as raised:
        study.validate(config)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_study_config_without_its_keys_is_refused():
    config = _config()
    del config["seeds"]
    with pytest.raises(ValueError, match=r"config: missing keys \['seeds'\]"):
        study.validate(config)


def test_find_trial_names_an_unknown_trial():
    config = _config()
    assert study.find_trial(config, "estimator=rebar,objective=val,seed=1").seed == 1
    with pytest.raises(ValueError, match="--trial=nope: the study has no such trial .8 trials"):
        study.find_trial(config, "nope")


# --- the GPUs of running trials ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cuda_visible_devices", "count", "gpus"),
    [
        (None, 0, []),  # no GPUs
        (None, 3, ["0", "1", "2"]),
        ("", 0, []),  # every GPU hidden
        ("4, 6,7", 3, ["4", "6", "7"]),  # the child gets the parent's ids, not 0, 1, 2
        ("5,9,-1,2", 2, ["5", "9"]),  # CUDA stops at the first invalid entry
        ("GPU-8f2a,GPU-77c1", 2, ["GPU-8f2a", "GPU-77c1"]),
    ],
)
def test_visible_gpus_are_named_by_the_parents_ids(cuda_visible_devices, count, gpus):
    assert study.visible_gpus(cuda_visible_devices, count) == gpus


def test_each_running_trial_gets_its_own_gpus_in_turn():
    gpus = ["0", "1", "2", "3"]
    assert study.gpu_slots(gpus, 4, 1) == [("0",), ("1",), ("2",), ("3",)]
    assert study.gpu_slots(gpus, 2, 2) == [("0", "1"), ("2", "3")]
    assert study.gpu_slots(gpus, 1, 2) == [("0", "1")]  # GPUs to spare stay idle
    parents = study.visible_gpus("4,5,6,7", 4)
    assert study.gpu_slots(parents, 2, 2) == [("4", "5"), ("6", "7")]


def test_too_few_gpus_run_fewer_trials_at_once_never_two_on_one_gpu():
    assert study.gpu_slots(["0", "1", "2"], 4, 1) == [("0",), ("1",), ("2",)]
    assert study.gpu_slots(["0", "1", "2"], 2, 2) == [("0", "1")]
    with pytest.raises(ValueError) as raised:
        study.gpu_slots(["3"], 2, 2)
    assert str(raised.value) == "config.gpus_per_trial=2: only 1 GPU(s) visible (3); lower it"


def test_without_gpus_every_slot_leaves_the_environment_alone():
    assert study.gpu_slots([], 3, 2) == [None, None, None]


# --- the study directory ----------------------------------------------------------------------


def test_a_directory_of_another_study_is_refused_naming_what_differs(tmp_path):
    config = _config()
    study.refuse_another_study(config, tmp_path / "new")  # nothing there: fine
    study.save_study(config, tmp_path)
    saved = (tmp_path / "study.json").read_text()
    assert not {"parallel", "gpus_per_trial"} & set(json.loads(saved)["config"])
    config.parallel, config.gpus_per_trial = 4, 2  # how it runs is not what it is
    study.refuse_another_study(config, tmp_path)
    config.search.epochs = 2
    config.seeds = (0, 1, 2)
    with pytest.raises(ValueError) as raised:
        study.refuse_another_study(config, tmp_path)
    assert str(raised.value) == (
        f"workdir {tmp_path} holds another study (search.epochs: 8 -> 2, seeds: [0, 1] -> "
        "[0, 1, 2]); use a new --workdir, or the same config to resume it"
    )
    assert (tmp_path / "study.json").read_text() == saved


def test_a_directory_with_other_files_is_no_study(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files but no study.json"):
        study.refuse_another_study(_config(), tmp_path)


def test_records_give_each_trial_its_status(tmp_path):
    config = _config(seeds=(0,))
    done, failed, unfinished, _ = study.trials(config)
    for trial, record in (
        (done, {"status": "done", "test_accuracy": 0.9}),
        (failed, {"status": "failed", "error": "ValueError: no"}),
        (unfinished, {"status": "searched", "search_seconds": 3.0}),
    ):
        directory = study.trial_directory(tmp_path, trial)
        (tmp_path / "trials").mkdir(exist_ok=True)
        (tmp_path / "trials" / trial.name).mkdir()
        study.write_record(directory, record)
    records = study.read_records(config, tmp_path)
    assert [records[trial.name]["status"] for trial in study.trials(config)] == [
        "done",
        "failed",
        "unfinished",
        "pending",
    ]
    assert records[done.name]["test_accuracy"] == 0.9


def test_an_unreadable_record_is_named(tmp_path):
    (tmp_path / "trial.json").write_text("{")
    with pytest.raises(ValueError, match="trial.json: cannot be read as a trial record"):
        study.read_record(str(tmp_path))


# --- results ----------------------------------------------------------------------------------


def _done(accuracy, params=1000, variance=None, search_seconds=60.0, latency_ms=None):
    return {
        "status": "done",
        "test_accuracy": accuracy,
        "params": params,
        "macs": 10 * params,
        "search_seconds": search_seconds,
        "train_seconds": 120.0,
        "arch_grad_variance": variance,
        "latency_ms": latency_ms,
    }


def _results():
    config = _config(grids={"g": {"estimator": ("rebar", "reinforce", "random")}}, seeds=(0, 1, 2))
    records = {
        "estimator=rebar,seed=0": _done(0.90, params=1000, variance=1.0),
        "estimator=rebar,seed=1": _done(0.92, params=2000, variance=2.0),
        "estimator=rebar,seed=2": _done(0.94, params=3000, variance=6.0),
        "estimator=reinforce,seed=0": _done(0.85, variance=9.0),
        "estimator=reinforce,seed=1": {"status": "failed", "error": "Diverged: step 3"},
        "estimator=reinforce,seed=2": {"status": "unfinished"},
        "estimator=random,seed=0": _done(0.80, params=500, search_seconds=None),
        "estimator=random,seed=1": _done(0.84, params=700, search_seconds=None),
    }  # estimator=random,seed=2 is pending: no record
    return study.aggregate(config, records)


def test_aggregate_summarises_groups_by_hand():
    results = _results()
    assert results["summary"] == {
        "trials": 9,
        "done": 6,
        "failed": 1,
        "unfinished": 1,
        "pending": 1,
    }
    rebar, reinforce, random = results["groups"]
    assert (rebar["name"], rebar["estimator"], rebar["n"], rebar["failed"]) == (
        "estimator=rebar",
        "rebar",
        3,
        0,
    )
    assert rebar["mean"] == pytest.approx(0.92)
    assert rebar["std"] == pytest.approx(0.02)
    assert rebar["best"] == pytest.approx(0.94)
    assert rebar["params"] == pytest.approx(2000)
    assert rebar["arch_grad_variance"] == pytest.approx(3.0)
    # 0.92 - 0.82, standard error sqrt(0.0004 / 3 + 0.0008 / 2).
    assert rebar["vs_random"]["difference"] == pytest.approx(0.10)
    assert rebar["vs_random"]["standard_error"] == pytest.approx(math.sqrt(0.0004 / 3 + 0.0004))
    assert 0 < rebar["vs_random"]["p_value"] < 0.1
    assert (reinforce["n"], reinforce["failed"], reinforce["std"], reinforce["vs_random"]) == (
        1,
        1,
        None,
        None,
    )
    assert random["random_baseline"] and random["vs_random"] is None
    assert random["search_seconds"] is None and random["arch_grad_variance"] is None
    rows = {row["name"]: row for row in results["trials"]}
    assert rows["estimator=reinforce,seed=1"]["error"] == "Diverged: step 3"
    assert rows["estimator=random,seed=2"]["status"] == "pending"
    assert set(rows["estimator=rebar,seed=0"]) == {
        "name",
        "estimator",
        "seed",
        "status",
        *study.METRICS,
    }
    json.dumps(results)  # JSON-ready


def test_markdown_is_a_table_with_the_baseline_difference_and_the_failures():
    text = study.render_markdown(_results())
    assert "9 trials: 6 done, 1 failed, 1 unfinished, 1 pending." in text
    assert "| estimator | n | test accuracy | best | params |" in text
    lines = text.splitlines()
    rebar = next(line for line in lines if line.startswith("| rebar "))
    assert "| 3 | 0.9200 ± 0.0200 | 0.9400 | 2,000 | 3.0 | 3 | +0.1000 ± 0.0231 |" in rebar
    reinforce = next(line for line in lines if line.startswith("| reinforce "))
    assert "| 1 (1 failed) | 0.8500 | 0.8500 |" in reinforce
    random = next(line for line in lines if line.startswith("| random "))
    assert "| baseline |" in random
    assert "- `estimator=reinforce,seed=1`: Diverged: step 3" in text


def test_latency_is_meaned_per_group_and_shown_only_when_measured():
    config = _config(grids={"g": {"latency": {"weight": (0.0, 1.0)}}}, seeds=(0, 1))
    records = {
        "latency.weight=0.0,seed=0": _done(0.9, latency_ms=30.0),
        "latency.weight=0.0,seed=1": _done(0.8, latency_ms=40.0),
        "latency.weight=1.0,seed=0": _done(0.7, latency_ms=10.0),
    }
    results = study.aggregate(config, records)
    assert [group["latency_ms"] for group in results["groups"]] == [35.0, 10.0]
    rows = {row["name"]: row for row in results["trials"]}
    assert rows["latency.weight=1.0,seed=0"]["latency_ms"] == 10.0
    text = study.render_markdown(results)
    assert "| latency.weight | n | test accuracy | best | params | latency (ms) |" in text
    assert "| 0.0 | 2 | 0.8500 ± 0.0707 | 0.9000 | 1,000 | 35.00 |" in text
    assert "latency" not in study.render_markdown(_results())


def test_results_are_written_as_json_and_markdown(tmp_path):
    results = _results()
    study.write_results(tmp_path, results)
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(results))
    assert (tmp_path / "results.md").read_text() == study.render_markdown(results)
