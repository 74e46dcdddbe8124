"""Evaluation networks from an eval config: genotype resolution and network construction.

Shared by `launch.inspect`, `launch.latency` and the training launcher, so all build exactly the
same network. The eval config's `network` kind names the search space that builds it
(`search_spaces.base.for_network`): "cifar" and "imagenet" are DARTS networks, "proxyless" the
ProxylessNAS space's.
"""

import copy

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


def with_num_classes(config, num_classes=None):
    """`config` with its `num_classes` resolved: 0 stands for the data set's class count.

    Args:
      config: an eval config.
      num_classes: the data set's class count if the caller knows it (a run's data, an
        export's record); None looks it up (`datasets.base.of_config`).
    """
    if config.num_classes:
        return config
    if num_classes is None:
        from unas_tf.datasets import base as dataset_base  # reads the data set's metadata

        num_classes = dataset_base.of_config(config).num_classes
    config = copy.deepcopy(config)
    config.num_classes = num_classes
    return config


def build_network(config, genotype, num_classes=None):
    """Builds the network of `config.network` for an already resolved `genotype`.

    Args:
      config: an eval config; `num_classes` 0 is the data set's (`with_num_classes`).
      genotype: the architecture.
      num_classes: the data set's class count, if known.

    Raises:
      ValueError: an unknown network kind.
    """
    config = with_num_classes(config, num_classes)
    return base.for_network(config.network).build_network(genotype, config)


def build(config):
    """Builds the evaluation network an eval preset describes.

    Args:
      config: an eval config (configs/eval/*.py) with `network`, `genotype`, `num_classes` (0:
        the data set's), `image_size`; DARTS networks also read `init_channels`, `layers`,
        `auxiliary` and optionally `drop_path_rate` and `random_ops`; "proxyless" reads the optional
        `width_multiplier` and `dropout_rate`.

    Returns:
      (genotype, keras.Model) where the model maps images to {"logits"[, "aux_logits"]}.

    Raises:
      ValueError: an unknown network kind or an unloadable genotype.
    """
    genotype = config_genotype(config)
    return genotype, build_network(config, genotype)
