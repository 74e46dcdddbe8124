"""Shared fields of the evaluation-network presets (networks per DARTS / UNAS App. B)."""

import ml_collections


def network_config(network, genotype, num_classes, init_channels, layers, image_size, **extra):
    """Returns the keys every eval preset has, plus preset-specific `extra` fields.

    Args:
      network: "cifar" (32x32 stem, two reductions) or "imagenet" (224x224 mobile stems).
      genotype: a published name (e.g. UNAS_CIFAR10), a genotype.json path, or random:SEED.
      num_classes: classifier outputs.
      init_channels: C, the first cells' channel count.
      layers: number of cells.
      image_size: input resolution (square).
      **extra: further fields, e.g. drop_path_rate.
    """
    return ml_collections.ConfigDict(
        dict(
            network=network,
            genotype=genotype,
            num_classes=num_classes,
            init_channels=init_channels,
            layers=layers,
            auxiliary=True,
            image_size=image_size,
            **extra,
        )
    )
