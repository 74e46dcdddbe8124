"""UNAS Table 2's comparison at CPU scale on the embedded digits: 5 rows x 4 seeds, two at a time.

    python -m launch.study --config=configs/study/digits.py --workdir=/tmp/study_digits

Rows: REBAR, Gumbel-softmax, REINFORCE and random cells on L_gen, and REBAR on L_val; seeds 0 to
3 (Table 2's protocol: every row end to end four times, mean +- std and best). Each trial is the
digits search preset (configs/search/digits.py: 3 cells, C=8, 7 ops, 16x16) and the digits
retraining preset (configs/eval/digits.py: 5 cells, C=8, 32x32) with shorter budgets:

  search      4 epochs of 20 steps, 2 of them warm-up (the preset: 8 of 30, 3 warm-up):
              40 architecture steps
  retraining  3 epochs of 44 steps (the preset: 15)

Why so short: a trial's cost is mostly TensorFlow building its graphs, not its steps. Measured
on this 2-core machine (Intel Xeon, AVX-512) with two trials at a time and other jobs running
(load average 4 to 6; bench/README.md), a searching trial took 8.8 to 10.1 minutes, 5 to 6 of
them before any step ran (start-up, the warm-up step's graph, the architecture step's graph: 2
to 3 minutes for REBAR's, the retraining network's graph); an architecture step took about 2 s,
a retraining step 0.4 s. A random-cell trial took 3.2 minutes. The 16 searching and 4 random
trials were estimated at about 80 minutes at that load, and about 50 on a machine left to the
study (scaled as the default search: 5.6 minutes quiet, 8.8 at that load; bench/README.md). The
whole study, run end to end on that machine with the test suite running beside it for 43 of its
minutes, took 64 minutes (bench/README.md); a quiet run is not yet measured. Longer budgets
add ~2 s per architecture step and ~0.4 s per retraining step and trial, halved by the two
processes. On a machine with GPUs each running trial gets one to itself (`gpus_per_trial`), so
with a single GPU the trials run one at a time.

Expected at these budgets: test top-1 0.96 to 0.99 after 3 retraining epochs; architecture
gradient variance REINFORCE > REBAR > Gumbel-softmax (1.3, 0.7 and 0.1 on seed 0 of L_gen).
"""

from configs.eval import digits as eval_digits
from configs.search import digits as search_digits
from configs.study import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    search = search_digits.get_config()
    search.update(epochs=4, warmup_epochs=2, steps_per_epoch=20)
    evaluation = eval_digits.get_config()
    # The whole training split, as the paper's retraining and the study of bench/README.md: the
    # digits preset's 10% held out for a per-epoch curve would cut what each trial trains on.
    evaluation.update(epochs=3, validation_fraction=0.0)
    return common.study_config(
        search,
        evaluation,
        grids={
            "gen": {
                "objective": ("gen",),
                "estimator": ("rebar", "gumbel_softmax", "reinforce", "random"),
            },
            "val": {"objective": ("val",), "estimator": ("rebar",)},
        },
        seeds=(0, 1, 2, 3),
        parallel=2,
    )
