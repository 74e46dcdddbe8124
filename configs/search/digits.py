"""Search on scikit-learn's bundled handwritten digits: the offline default, a few minutes on CPU.

    python -m launch.search --workdir=/tmp/unas_digits

Expected: 2.5 to 7.5 minutes on a 2-core CPU, depending on the CPU (bench/README.md gives each
measurement with its CPU), about a minute of it before the first step; a genotype.json in the
workdir (each epoch and final) and TensorBoard events. The argmax architecture reaches 0.75 to
0.8 accuracy on search-val batches by the last epoch.

The weights' learning rate is 15x the paper's: this search has 240 steps where CIFAR's has
tens of thousands, and at 6e-4 the supernet's weights stay near chance (train loss ~2.4 after
120 steps), which leaves the architecture nothing to choose between.
"""

from configs.search import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.darts_search_config(
        dataset="digits",
        image_size=16,
        epochs=8,
        warmup_epochs=3,
        steps_per_epoch=30,
        batch_size=32,
        layers=3,
        init_channels=8,
        weight_lr=1e-2,
        weight_lr_final=1e-3,
        log_every=10,
    )
