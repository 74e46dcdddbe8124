"""CIFAR-10 evaluation network: 20 cells, C=36, auxiliary head (UNAS App. B.1; 3.3M params).

python -m launch.inspect --config=configs/eval/cifar10.py --config.genotype=UNAS_CIFAR10
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
        drop_path_rate=0.2,
    )
