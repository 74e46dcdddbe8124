"""Evaluation networks from an eval config: genotype resolution and network construction.

Shared by `launch.inspect`, `launch.latency` and the training launcher, so all build exactly the
same network. The eval config's `network` kind names the search space that builds it
(`search_spaces.base.for_network`): "cifar" and "imagenet" are DARTS networks, "proxyless" the
ProxylessNAS space's.
"""

from unas_tf import genotypes
from unas_tf.search_spaces import base

RANDOM_PREFIX = "random:"


def resolve_genotype(spec, space, config):
    """Returns the genotype of `space` named by `spec`.

    Args:
      spec: a published name (e.g. UNAS_CIFAR10, PROXYLESS_GPU), a genotype.json path, or
        random:SEED for a uniformly random architecture (the paper's random baseline).
      space: the `SearchSpace` the genotype must belong to.
      config: the eval config, which may shape a random genotype (DARTS's `random_ops`).

    Raises:
      ValueError: the spec names nothing loadable, or a genotype of another space.
    """
    if spec.startswith(RANDOM_PREFIX):
        seed = spec[len(RANDOM_PREFIX) :]
        if not seed.isdigit():
            raise ValueError(f"genotype: expected random:SEED with an integer SEED, got {spec!r}")
        return space.random_genotype(int(seed), config)
    return genotypes.load(spec, expected_space=space.name)


def config_genotype(config):
    """Resolves the config's `genotype` in the space of its `network`.

    Raises:
      ValueError: an unknown network kind or an unloadable genotype.
    """
    return resolve_genotype(config.genotype, base.for_network(config.network), config)


def build_network(config, genotype):
    """Builds the network of `config.network` for an already resolved `genotype`.

    Raises:
      ValueError: an unknown network kind.
    """
    return base.for_network(config.network).build_network(genotype, config)


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
