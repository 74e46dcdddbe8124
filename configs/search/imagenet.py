"""UNAS search on ImageNet (App. A.3): 14 cells, C=16, five ops, 20 epochs, 5 weights-only.

    python -m launch.search --config=configs/search/imagenet.py --workdir=/tmp/unas_imagenet \
        --config.data_dir=/path/to/tensorflow_datasets

Expected: the paper used 8 V100 GPUs for about 2 days. The ImageNet tar files must be in
tensorflow-datasets' manual_dir (the launcher says how if the data is missing).
"""

from configs.search import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.darts_search_config(
        dataset="imagenet2012",
        image_size=224,
        stem="imagenet",
        epochs=20,
        warmup_epochs=5,
        batch_size=128,
        layers=14,
        num_ops=5,
        weight_lr=3e-4,
        weight_lr_final=3e-4,
        arch_lr=1e-3,
        arch_lr_final=1e-3,
    )
