"""ImageNet mobile network: 14 cells, C=46, auxiliary head (UNAS App. B.2; 5.07M params,
< 600M multiply-adds at 224x224).

    python -m launch.inspect --config=configs/eval/imagenet.py --config.genotype=UNAS_IMAGENET
"""

from configs.eval import common


def get_config():
    """Returns the preset; override any key with --config.KEY=VALUE."""
    return common.network_config(
        "imagenet",
        "UNAS_IMAGENET",
        num_classes=1000,
        init_channels=46,
        layers=14,
        image_size=224,
        drop_path_rate=0.0,
    )
