"""Evaluation networks from an eval config: genotype resolution and network construction.

Shared by `launch.inspect` and the training launcher, so both build exactly the same network.
"""

from unas_tf import genotypes
from unas_tf.search_spaces import darts_networks

RANDOM_PREFIX = "random:"
BUILDERS = {"cifar": darts_networks.cifar_network, "imagenet": darts_networks.imagenet_network}


def resolve_genotype(spec, num_random_ops=None):
    """Returns the DARTS genotype named by `spec`.

    Args:
      spec: a published name (e.g. UNAS_CIFAR10), a genotype.json path, or random:SEED for a
        uniformly random cell (the paper's random baseline).
      num_random_ops: random cells draw from the first this-many DARTS ops (the ImageNet
        search space uses five); None for all of them.

    Raises:
      ValueError: the spec names nothing loadable, or a genotype of another space.
    """
    if spec.startswith(RANDOM_PREFIX):
        seed = spec[len(RANDOM_PREFIX) :]
        if not seed.isdigit():
            raise ValueError(f"genotype: expected random:SEED with an integer SEED, got {spec!r}")
        ops = genotypes.DARTS_OPS[:num_random_ops] if num_random_ops else genotypes.DARTS_OPS
        return genotypes.random_darts(int(seed), ops)
    return genotypes.load(spec, expected_space="darts")


def build(config):
    """Builds the evaluation network an eval preset describes.

    Args:
      config: an eval config (configs/eval/*.py) with `network`, `genotype`, `num_classes`,
        `init_channels`, `layers`, `auxiliary`, `image_size`, and optionally `drop_path_rate`
        and `random_ops`.

    Returns:
      (genotype, keras.Model) where the model maps images to {"logits"[, "aux_logits"]}.

    Raises:
      ValueError: an unknown network kind or an unloadable genotype.
    """
    if config.network not in BUILDERS:
        raise ValueError(f"network: unknown {config.network!r}; expected one of {sorted(BUILDERS)}")
    genotype = resolve_genotype(config.genotype, config.get("random_ops"))
    model = BUILDERS[config.network](
        genotype,
        num_classes=config.num_classes,
        init_channels=config.init_channels,
        layers=config.layers,
        auxiliary=config.auxiliary,
        drop_path_rate=config.get("drop_path_rate", 0.0),
        image_size=config.image_size,
    )
    return genotype, model
