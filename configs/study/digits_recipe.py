"""Does the released code's search recipe find better cells on digits than its earlier form?

    python -m launch.study --config=configs/study/digits_recipe.py --workdir=/tmp/study_recipe

Three rows over seeds 0 to 7, each trial as configs/study/digits.py (its search and retraining
budgets):
  released   REBAR on L_gen as the presets now search: both search splits augmented and a
             fresh Adam for the weights after the warm-up, as the released code does
             (configs/search/digits.py's table);
  earlier    REBAR on L_gen as this library searched before: only search-train augmented, the
             weights' Adam moments carried over from the warm-up;
  random     random cells (the study's baseline, searched by nobody).

Why eight seeds: in configs/study/digits.py's run (bench/README.md), REBAR's test top-1 varied
by 0.002 between seeds and random cells' by 0.014. Welch's test then resolves a one-point
difference between REBAR and random (two standard errors, p about 0.05) at about eight seeds
each, and between the two REBAR rows at two or three; sixteen random seeds would give it 80%
power. Expected: about an hour on a 2-core CPU left to the study (16 searching trials of 5 to
9 minutes and 8 random ones of 1.5, two at a time); bench/README.md has the measured run.
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
        seeds=tuple(range(8)),
        parallel=2,
    )
