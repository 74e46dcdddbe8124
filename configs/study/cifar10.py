"""UNAS Table 2 on CIFAR-10, for GPUs: L_val / L_gen x Gumbel-softmax / REBAR, 4 seeds each.

    python -m launch.study --config=configs/study/cifar10.py --workdir=/shared/study_c10 --list
    python -m launch.study --config=configs/study/cifar10.py --workdir=/data/study_c10 \
        --config.parallel=8                   # one machine of 8 GPUs: 8 trials, one GPU each
    python -m launch.study --config=configs/study/cifar10.py --workdir=/shared/study_c10 \
        --aggregate                           # once the trials have run, or while they do

Table 2's UNAS rows: (L_val, Gumbel-softmax), (L_gen, Gumbel-softmax) and (L_gen, REBAR), each
run "end-to-end four times with different initialization seeds" (Table 2's caption; seeds 0 to
3 here) and reported as mean +- std and best test error: 2.79 +- 0.10 (best 2.68),
2.81 +- 0.01 (2.74) and 2.65 +- 0.07 (2.53) % on CIFAR-10. Added to Table 2's rows: the random
baseline, 4 uniformly random cells of the same space retrained alike (DARTS's random cell has
3.29 %, Table 4), which results.md compares every row against.

Each trial is the CIFAR-10 search preset (configs/search/cifar10.py, App. A.2: 100 epochs, 15
of them warm-up) and the CIFAR-10 retraining (configs/eval/cifar10.py, App. B.1: 600 epochs).
The retraining takes about 1.5 V100-days; a search about one GPU-day by the search preset's
estimate, 4.3 GPU-days by Table 2's search cost. 12 searches and 16 retrainings are therefore
36 to 76 GPU-days. --list prints a command per trial for a cluster's scheduler (ask it for one
GPU per command, `gpus_per_trial`); the trials share the study directory (a shared file system)
and resume after a preemption when their command runs again. On one machine, every running
trial gets `gpus_per_trial` GPUs to itself (CUDA_VISIBLE_DEVICES), so `parallel` x
`gpus_per_trial` should not exceed its GPUs (fewer trials run at once otherwise). Prepare
CIFAR-10 with tensorflow-datasets first.
"""

from configs.eval import cifar10 as eval_cifar10
from configs.search import cifar10 as search_cifar10
from configs.study import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.study_config(
        search_cifar10.get_config(),
        eval_cifar10.get_config(),
        grids={
            "val": {"objective": ("val",), "estimator": ("gumbel_softmax",)},
            "gen": {"objective": ("gen",), "estimator": ("gumbel_softmax", "rebar")},
            "random": {"estimator": ("random",)},
        },
        seeds=(0, 1, 2, 3),
        parallel=1,
        gpus_per_trial=1,  # the paper retrained on one V100 (App. B.1); it searched on 4
    )
