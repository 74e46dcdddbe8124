"""CIFAR-10 evaluation network: 20 cells, C=36, auxiliary head (UNAS App. B.1; 3.3M params).

    python -m launch.inspect --config=configs/eval/cifar10.py --config.genotype=UNAS_CIFAR10
    python -m launch.train --config=configs/eval/cifar10.py --workdir=/tmp/c10_train

Retraining follows App. B.1: batch 128, 600 epochs of SGD (momentum 0.9, lr 0.05 cosine to 0,
weight decay 3e-4, gradient clipping 5), drop-path 0.2, cutout 16, auxiliary weight 0.4; about
2.65% test error for UNAS_CIFAR10 (Table 2), roughly 1.5 GPU-days on a V100. CIFAR-10 must be
prepared with tensorflow-datasets first (the error message gives the command).
"""

from configs.eval import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.network_config(
        "cifar",
        "UNAS_CIFAR10",
        num_classes=10,
        init_channels=36,
        layers=20,
        image_size=32,
        **common.training_fields(dataset="cifar10", drop_path_rate=0.2),
    )
