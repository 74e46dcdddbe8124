"""What a search space decides, as one object, and the registry that finds it by name.

The search, the retraining, export, genotype files and launchers ask the space object (found
by `config.space`, a genotype file's "space" field or an eval config's `network`) and never
compare its name. A new space is one module or package: a `SearchSpace` subclass, registered
with `register`, whose genotypes are frozen dataclasses with a `space` class attribute holding
its name and an `ops` tuple of op names. Nothing outside a space's package imports it: callers
reach it through this registry.
"""

import abc
import importlib
from typing import ClassVar

from unas_tf import config_checks

# The modules of the spaces that come with the library, imported on the first look-up so that
# importing this module (as genotypes.py does) imports no network code.
_BUILT_IN = ("unas_tf.search_spaces.darts.space", "unas_tf.search_spaces.proxyless.space")
_REGISTRY = {}


class SearchSpace(abc.ABC):
    """A search space: its choices, supernet, genotypes, evaluation networks and pictures.

    Subclasses set `name` (the config's `space` and the genotype files' "space" field) and
    `networks` (the eval-config `network` kinds its genotypes build).
    """

    name: ClassVar[str]
    networks: ClassVar[tuple[str, ...]]
    # Whether this space implements the optional "measured latency" methods below, so that a
    # search config with a `latency` section may measure architectures and add the term.
    measures_latency: ClassVar[bool] = False
    # {key: config_checks.Rule} of the search-config and eval-config keys the space reads;
    # `validate_search` and `validate_network` check them (subclasses add cross-key checks).
    search_rules: ClassVar[dict] = {}
    network_rules: ClassVar[dict] = {}

    # --- the search ---------------------------------------------------------------------------

    def validate_search(self, config):
        """Raises a ValueError naming the key for a search setting this space cannot take."""
        config_checks.check(config, self.search_rules)

    @abc.abstractmethod
    def choice_shapes(self, config):
        """{group: shape [..., K]} of the architecture distribution's categoricals."""

    def choice_masks(self, config):
        """{group: bool array of the group's shape} of allowed choices, or None for all."""
        del config
        return None

    @abc.abstractmethod
    def build_supernet(self, config, num_classes):
        """The supernet: a Keras layer whose call the search step makes as

            supernet(images, sample, training=False, skip_inactive=True, one_hot=False) -> logits

        Call arguments:
          images: a batch [B, H, W, C].
          sample: {group: [S, ..., K]} choice weights of the distribution's groups, S = 1 (one
            architecture for the batch) or B (one per example); one-hot or relaxed.
          training: the weights' training mode (batch statistics, dropout).
          skip_inactive: candidates whose weight is (near) zero in every sample may be left out
            (the DARTS supernet skips weights of at most 0.05, as the paper's code); False runs
            every candidate without control flow, the form the step differentiates.
          one_hot: the caller's promise that `sample` is one-hot, so that each selected
            candidate may run alone. Both are hints a supernet may ignore (the toy space of
            tests/search_space_test.py runs every candidate).
        """

    @abc.abstractmethod
    def genotype_from_indices(self, indices, config):
        """The genotype of one chosen index per selector ({group: int array [...]}) of a search
        of `config`."""

    def architecture_penalty(self, samples, weight):
        """A per-sample penalty the architecture loss adds, or None (the default) for none.

        Args:
          samples: {group: [S, ...]} architecture samples, one-hot or relaxed.
          weight: the penalty's weight, `config.arch_penalty_weight`.

        Returns:
          [S] penalties, or None when the space has nothing to penalise.
        """
        del samples, weight
        return None

    def epoch_summaries(self, logits, genotype):
        """Writes this space's TensorBoard pictures of phi and the argmax genotype (default)."""
        del logits, genotype

    @abc.abstractmethod
    def describe(self, genotype):
        """Lines that show `genotype` to a user after a search."""

    def search_warnings(self, genotype):
        """One-line warnings about a search's final `genotype` (default: none)."""
        del genotype
        return []

    # --- measured latency (optional; spaces with `measures_latency`) ---------------------------

    def latency_network_settings(self, config, num_classes, image_size):
        """JSON-ready settings of the child networks a search of `config` times.

        JSON so that a measuring child process (`latency.measuring_process`), which finds this
        space by name, builds the very networks this process would.

        Args:
          config: the search config.
          num_classes: the data set's classes, for the networks' heads.
          image_size: the side of the timed images (the deployment resolution).

        Raises:
          ValueError: this space does not measure latency.
        """
        del config, num_classes, image_size
        raise ValueError(f"latency is not measured in the {self.name} space")

    def latency_network(self, genotype, settings):
        """The plain Keras child network of `genotype` whose inference the latency term times.

        Args:
          genotype: a genotype of this space.
          settings: what `latency_network_settings` returned.
        """
        del genotype, settings
        raise ValueError(f"latency is not measured in the {self.name} space")

    def latency_features(self, genotype):
        """{group: one-hot float32 [..., K]} of `genotype`'s choices, shaped as
        `choice_shapes(config)`: what the linear latency surrogate fits (UNAS Sec. 5).

        Raises:
          ValueError: `genotype` is not of this space, or this space does not measure latency.
        """
        del genotype
        raise ValueError(f"latency is not measured in the {self.name} space")

    def random_search_genotype(self, seed, config):
        """A uniformly random genotype of the choices a search of `config` has, from `seed`
        (same seed, same genotype): the random architectures the latency surrogate is fit on
        before a search."""
        del seed, config
        raise ValueError(f"latency is not measured in the {self.name} space")

    # --- genotype files -----------------------------------------------------------------------

    @abc.abstractmethod
    def genotype_to_dict(self, genotype):
        """The JSON-ready fields of `genotype` besides "format_version" and "space"."""

    @abc.abstractmethod
    def genotype_from_dict(self, data):
        """Parses the fields `genotype_to_dict` wrote (with "format_version" and "space").

        Raises:
          ValueError: a bad field; the message starts with its JSON path.
        """

    @abc.abstractmethod
    def random_genotype(self, seed, config):
        """A uniformly random genotype (the paper's random baseline) for an eval config."""

    # --- evaluation networks ------------------------------------------------------------------

    def validate_network(self, config):
        """Raises a ValueError naming the key for an eval-config network setting it cannot take."""
        config_checks.check(config, self.network_rules)

    @abc.abstractmethod
    def build_network(self, genotype, config):
        """The evaluation network of `config.network`: images -> {"logits"[, "aux_logits"]}."""

    def set_drop_path_rate(self, model, rate):
        """Sets the network's drop-path probability, which retraining ramps per epoch."""
        del model, rate

    def network_report(self, model, genotype, config):
        """{key: JSON value} that `launch.inspect` adds about a network's structure."""
        del model, genotype, config
        return {}

    def draw(self, genotype, path):
        """Draws `genotype` to a PNG at `path`.

        Raises:
          ValueError: this space has no drawing.
        """
        del genotype, path
        raise ValueError(f"drawing is not supported in the {self.name} space")


def register(space_class):
    """Class decorator: registers an instance of a `SearchSpace` subclass under its name."""
    if space_class.name in _REGISTRY:
        raise ValueError(f"search space {space_class.name!r} is registered already")
    _REGISTRY[space_class.name] = space_class()
    return space_class


def unregister(name):
    """Removes a registered space (for tests that define their own)."""
    _REGISTRY.pop(name, None)


def _load_built_in():
    for module in _BUILT_IN:
        importlib.import_module(module)


def names():
    """The names of the registered spaces, sorted."""
    _load_built_in()
    return tuple(sorted(_REGISTRY))


def get(name, what="config.space"):
    """The registered space called `name`.

    Raises:
      ValueError: no such space; the message starts with `what`.
    """
    _load_built_in()
    if name not in _REGISTRY:
        raise ValueError(f"{what}: unknown search space {name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def for_network(network):
    """The space whose genotypes build eval networks of kind `network`.

    Raises:
      ValueError: no space builds it; the message names config.network.
    """
    _load_built_in()
    for space in _REGISTRY.values():
        if network in space.networks:
            return space
    known = sorted(kind for space in _REGISTRY.values() for kind in space.networks)
    raise ValueError(f"config.network: unknown {network!r}; expected one of {known}")


def of_config(config):
    """The space of a search config, `config.space`."""
    return get(config.space)
