r"""Latency against accuracy in the ProxylessNAS space on digits: lambda_lat x 2 seeds, Pareto plot.

    python -m launch.study --config=configs/study/proxyless_pareto.py --workdir=/tmp/pareto

The latency-aware digits search (configs/search/proxyless_digits.py: L_gen + lambda_lat
max(0, latency - target), RELAX for the latency gradient) run with lambda_lat (`latency.weight`,
a nested grid axis) 0, 1 and 5, on seeds 0 and 1, plus two random architectures of the space
(the random baseline: nothing searched), each retrained from scratch on the digits. After its
retraining every trial re-measures its architecture's latency the way the search measures
(a new measuring process, one thread, process time, batch 32 at 128x128: unas_tf/study_trial.py).
results.md gets a latency column, and pareto.png beside it (also in TensorBoard's images, under
the study directory) sets test accuracy against latency with the non-dominated trials (none
faster and at least as accurate) marked (unas_tf/pareto.py).

Shorter budgets than the search preset, as configs/study/digits.py shortens its own:

  search      16 epochs of 25 steps, 12 of them warm-up (the preset: 30, 24 warm-up): 300
              weight-only steps, then 100 architecture steps; the surrogate g fit on 60 random
              architectures (the preset: 200)
  retraining  the ProxylessNAS network of the searched layers at width 0.25 on 32x32 digits
              (the search's network), 12 epochs of the 1438 training digits at batch 32: the
              random architecture random:0 reached test top-1 0.38 after 3 epochs and 0.91
              after 12 (140 s; 2-core AMD EPYC at load average 13, 2026-12-04)

Expected time, estimated from the search preset's figures (bench/README.md: ~2.8 s per
surrogate architecture, ~0.6 s per warm-up step, ~3.4 s per architecture step on a quiet
2-core CPU), not yet measured for this preset: a searching trial ~15 minutes (~3 for g's
architectures, ~3 of warm-up, ~6 of architecture steps, ~3 of retraining), a random one ~4;
8 trials two at a time ~1 hour on a quiet machine, and far more on a loaded one: a shortened
run (6 epochs, 20 architectures, 1 retraining epoch) took 23 minutes a searching trial at load
average 13 (bench/README.md). Two trials at a time share the CPU, which the latency meter's
process clock largely hides; `--config.parallel=1` measures on a quieter CPU at twice the wall
time.

What it shows: the latency term buys latency with accuracy. On the CPUs of bench/README.md
most architectures are above the 20 ms target (the shortened run's searched ones re-measured
at 29 and 32 ms without the term), so the hinge acts as a plain latency penalty and larger
lambda_lat should give faster architectures; the plot shows which weights stay on the
front, against the random architectures' latency and accuracy.
"""

from configs.eval import proxyless_imagenet as eval_proxyless
from configs.search import proxyless_digits as search_proxyless_digits
from configs.study import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    search = search_proxyless_digits.get_config()
    search.update(epochs=16, warmup_epochs=12)
    search.latency.surrogate_architectures = 60
    evaluation = eval_proxyless.get_config()
    evaluation.update(
        dataset="digits",
        num_classes=10,
        image_size=search.image_size,
        width_multiplier=search.width_multiplier,
        batch_size=32,
        lr=0.1,  # as configs/eval/digits.py
        lr_reference_batch_size=32,
        epochs=12,  # see the docstring
        warmup_epochs=0,
        weight_decay=3e-4,
        log_every=15,
    )
    return common.study_config(
        search,
        evaluation,
        grids={
            "pareto": {"latency": {"weight": (0.0, 1.0, 5.0)}},
            "random": {"estimator": ("random",)},
        },
        seeds=(0, 1),
        parallel=2,
    )
