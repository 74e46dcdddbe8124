"""Evaluation networks from an eval config: genotype resolution and network construction.

Shared by `launch.inspect`, `launch.latency` and the training launcher, so all build exactly the
same network.
"""

import functools

from unas_tf import genotypes
from unas_tf.search_spaces import darts_networks, proxyless

RANDOM_PREFIX = "random:"


def _darts_network(builder, genotype, config):
    return builder(
        genotype,
        num_classes=config.num_classes,
        init_channels=config.init_channels,
        layers=config.layers,
        auxiliary=config.auxiliary,
        drop_path_rate=config.get("drop_path_rate", 0.0),
        image_size=config.image_size,
    )


def _proxyless_network(genotype, config):
    return proxyless.proxyless_network(
        genotype,
        num_classes=config.num_classes,
        width_multiplier=config.get("width_multiplier", 1.0),
        image_size=config.image_size,
        dropout_rate=config.get("dropout_rate", 0.0),
    )


# Per network kind: the builder, called with (genotype, config), and the genotype's space.
BUILDERS = {
    "cifar": functools.partial(_darts_network, darts_networks.cifar_network),
    "imagenet": functools.partial(_darts_network, darts_networks.imagenet_network),
    "proxyless": _proxyless_network,
}
SPACES = {"cifar": "darts", "imagenet": "darts", "proxyless": "proxyless"}


def resolve_genotype(spec, num_random_ops=None, space="darts"):
    """Returns the genotype of `space` named by `spec`.

    Args:
      spec: a published name (e.g. UNAS_CIFAR10, PROXYLESS_GPU), a genotype.json path, or
        random:SEED for a uniformly random architecture (the paper's random baseline).
      num_random_ops: DARTS only: random cells draw from the first this-many ops (the ImageNet
        search space uses five); None for all of them.
      space: "darts" or "proxyless".

    Raises:
      ValueError: the spec names nothing loadable, or a genotype of another space.
    """
    if spec.startswith(RANDOM_PREFIX):
        seed = spec[len(RANDOM_PREFIX) :]
        if not seed.isdigit():
            raise ValueError(f"genotype: expected random:SEED with an integer SEED, got {spec!r}")
        if space == "proxyless":
            return genotypes.random_proxyless(int(seed))
        ops = genotypes.DARTS_OPS[:num_random_ops] if num_random_ops else genotypes.DARTS_OPS
        return genotypes.random_darts(int(seed), ops)
    return genotypes.load(spec, expected_space=space)


def _check_network(config):
    if config.network not in BUILDERS:
        raise ValueError(f"network: unknown {config.network!r}; expected one of {sorted(BUILDERS)}")


def config_genotype(config):
    """Resolves the config's `genotype` in the space of its `network`.

    Raises:
      ValueError: an unknown network kind or an unloadable genotype.
    """
    _check_network(config)
    return resolve_genotype(config.genotype, config.get("random_ops"), SPACES[config.network])


def build_network(config, genotype):
    """Builds the network of `config.network` for an already resolved `genotype`.

    Raises:
      ValueError: an unknown network kind.
    """
    _check_network(config)
    return BUILDERS[config.network](genotype, config)


def build(config):
    """Builds the evaluation network an eval preset describes.

    Args:
      config: an eval config (configs/eval/*.py) with `network`, `genotype`, `num_classes`,
        `image_size`; DARTS networks also read `init_channels`, `layers`, `auxiliary` and
        optionally `drop_path_rate` and `random_ops`; "proxyless" reads the optional
        `width_multiplier` and `dropout_rate`.

    Returns:
      (genotype, keras.Model) where the model maps images to {"logits"[, "aux_logits"]}.

    Raises:
      ValueError: an unknown network kind or an unloadable genotype.
    """
    genotype = config_genotype(config)
    return genotype, build_network(config, genotype)
