"""UNAS search on CIFAR10 (App. A.2): 8 cells, C=16, 100 epochs, 15 of them weights-only.

    python -m launch.search --config=configs/search/cifar10.py --workdir=/tmp/unas_cifar10

Expected: the paper reports this setting on 4 V100 GPUs; on one GPU budget about a day.
Prepare the data once with tensorflow-datasets (the launcher says how if it is missing).
"""

from configs.search import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.darts_search_config(dataset="cifar10", image_size=32, batch_size=64)
