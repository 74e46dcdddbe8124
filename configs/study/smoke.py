"""The smallest study: two trials of a few steps, end to end in a few minutes on a 2-core CPU.

    python -m launch.study --config=configs/study/smoke.py --workdir=/tmp/study_smoke

One REBAR search and one random cell (seed 0), each retrained for a few steps, two at a time;
tests/study_launch_test.py runs it. It checks the machinery (processes, records, results,
TensorBoard HParams), not architectures: 8x8 digits, one cell of 2 ops, 4 search steps and
2 retraining steps, so its accuracies are near chance.
"""

from configs.eval import digits as eval_digits
from configs.search import digits as search_digits
from configs.study import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    search = search_digits.get_config()
    search.update(
        num_ops=2,
        layers=1,
        init_channels=4,
        image_size=8,
        batch_size=8,
        epochs=2,
        warmup_epochs=1,
        steps_per_epoch=2,
        log_every=1,
        eval_batches=1,
    )
    evaluation = eval_digits.get_config()
    evaluation.update(
        image_size=8,
        init_channels=4,
        layers=3,
        auxiliary=False,  # the auxiliary head needs 32x32 images (8x8 after two reductions)
        random_ops=2,  # the random cell from the searched ops
        batch_size=8,
        epochs=1,
        steps_per_epoch=2,
        log_every=1,
    )
    return common.study_config(
        search,
        evaluation,
        grids={"smoke": {"estimator": ("rebar", "random")}},
        seeds=(0,),
        parallel=2,
    )
