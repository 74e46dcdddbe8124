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

Expected time: 22 minutes for the 8 trials two at a time on a 2-core AMD EPYC (2026-12-04,
bench/README.md): a searching trial 5 to 7.5 minutes (the surrogate's 60 architectures ~1, the
warm-up ~2, the architecture steps, then 34 s of retraining), a random one under a minute; a
slower CPU takes up to three times as long (the search preset's figures). Two trials at a time
share the CPU, which the latency meter's process clock largely hides (each trial resolves its
own target from its own measurements); `--config.parallel=1` measures on a quieter CPU at twice
the wall time.

What it shows: each search's target is the 0.3-quantile of its random architectures (the
search preset's `latency.target_quantile`), so lambda_lat prices latency above that point. In
the run of bench/README.md the term moved the retrained architectures from 20.7 and 23.5 ms
(lambda_lat 0) to 13.6-17.2 ms (lambda_lat 1 and 5), against 24.0 and 24.2 ms for the random
ones; accuracies (0.65 to 0.96 after 12 epochs) do not separate the weights at two seeds.
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
