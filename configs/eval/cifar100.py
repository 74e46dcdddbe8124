"""CIFAR-100 evaluation network: 20 cells, C=36, auxiliary head (UNAS App. B.1; 4.1M params).

    python -m launch.inspect --config=configs/eval/cifar100.py --config.genotype=UNAS_CIFAR100
    python -m launch.train --config=configs/eval/cifar100.py --workdir=/tmp/c100_train

Retraining follows App. B.1 as CIFAR-10 but with drop-path 0.3; about 16.7% test error for
UNAS_CIFAR100 (Table 2), roughly 1.5 GPU-days on a V100.
"""

from configs.eval import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.network_config(
        "cifar",
        "UNAS_CIFAR100",
        num_classes=100,
        init_channels=36,
        layers=20,
        image_size=32,
        **common.training_fields(dataset="cifar100", drop_path_rate=0.3),
    )
