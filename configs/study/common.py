"""What the study presets share: the keys of a study config (unas_tf/study.py)."""

import ml_collections


def study_config(search, evaluation, grids, seeds=(0, 1, 2, 3), parallel=1, gpus_per_trial=1):
    """Returns a study config; every key can be overridden with --config.KEY=VALUE.

    Args:
      search: the search preset's ConfigDict every trial starts from (`--config.search.KEY`).
      evaluation: the eval preset's ConfigDict every trial retrains with; its genotype and seed
        are the trial's (`--config.eval.KEY`).
      grids: {grid name: {search key: tuple of values}}, a nested search key as a nested entry
        ({"latency": {"weight": (...)}}: the axis latency.weight); the study's grid points are
        the union of the grids' products (`--config.grids.NAME.KEY="('a', 'b')"`).
      seeds: every grid point runs once per seed; UNAS Table 2 uses 0, 1, 2, 3.
      parallel: trials `launch.study` runs at once, each in its own process.
      gpus_per_trial: on a machine with GPUs, how many each running trial gets to itself (its
        CUDA_VISIBLE_DEVICES; several make its strategy a MirroredStrategy over them). With
        fewer than parallel x gpus_per_trial GPUs, fewer trials run at once (with a warning),
        never two on one GPU. Without GPUs it changes nothing, and neither with --list, whose
        commands run on the GPUs the scheduler gives them.
    """
    return ml_collections.ConfigDict(
        dict(
            search=search,
            eval=evaluation,
            grids=grids,
            seeds=tuple(seeds),
            parallel=parallel,
            gpus_per_trial=gpus_per_trial,
        )
    )
