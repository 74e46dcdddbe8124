"""Does the released code's search recipe find better cells on digits than its earlier form?

    python -m launch.study --config=configs/study/digits_recipe.py --workdir=/tmp/study_recipe

Three rows over seeds 0 to 15, each trial as configs/study/digits.py (its search and retraining
budgets):
  released   REBAR on L_gen as the presets now search: both search splits augmented and a
             fresh Adam for the weights after the warm-up, as the released code does
             (configs/search/digits.py's table);
  earlier    REBAR on L_gen as this library searched before: only search-train augmented, the
             weights' Adam moments carried over from the warm-up;
  random     random cells (the study's baseline, searched by nobody).

Why sixteen seeds: REBAR's test top-1 varies by 0.002 to 0.008 between seeds and random cells'
by 0.011 to 0.014 (configs/study/digits.py's run and this one, bench/README.md). For Welch's
test to resolve a one-point difference between REBAR and random (p < 0.05) with 80% power takes
about sixteen seeds each; eight give it about even odds (this study's first eight seeds: p 0.07
and 0.22). Measured: 48 trials in about 93 minutes of wall time on a 2-core AMD EPYC shared
with other jobs (searching trials 2 to 6 minutes, random ones 1 to 2, two at a time);
bench/README.md has the results.
"""

from configs.study import common
from configs.study import digits as digits_study


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    base = digits_study.get_config()
    return common.study_config(
        base.search,
        base.eval,
        grids={
            "released": {"objective": ("gen",), "estimator": ("rebar",)},
            "earlier": {
                "objective": ("gen",),
                "estimator": ("rebar",),
                "search_augment": ("train",),
                "reset_weight_optimizer_after_warmup": (False,),
            },
            "random": {"objective": ("gen",), "estimator": ("random",)},
        },
        seeds=tuple(range(16)),
        parallel=2,
    )
