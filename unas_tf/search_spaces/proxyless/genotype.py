"""ProxylessNAS-space genotypes (UNAS App. E): the type, its codec and its choices.

21 searchable MBConv layers, each one of `PROXYLESS_OPS`; layers that change channels cannot be
skipped ('mic_zero'), which `choice_mask` tells the architecture distribution.
`unas_tf/genotypes.py` wraps the codec's fields in the versioned file.
"""

import dataclasses
import operator
from typing import ClassVar

import numpy as np

from unas_tf.search_spaces import fields

PROXYLESS_OPS = (
    "mic_zero",
    "mic_3x3_e3",
    "mic_3x3_e6",
    "mic_5x5_e3",
    "mic_5x5_e6",
    "mic_7x7_e3",
    "mic_7x7_e6",
)
PROXYLESS_ZERO = "mic_zero"
NUM_PROXYLESS_LAYERS = 21
# 1-based, as in published.json: the first layer of every stage changes the channel count, so
# there is no identity to fall back to when the layer is skipped.
PROXYLESS_CHANNEL_CHANGE_LAYERS = (1, 5, 9, 13, 17, 21)
ZERO_INDEX = PROXYLESS_OPS.index(PROXYLESS_ZERO)


@dataclasses.dataclass(frozen=True)
class ProxylessGenotype:
    """One op per searchable layer of the ProxylessNAS-GPU backbone.

    Attributes:
      ops: op names that layer indices refer to; exactly `PROXYLESS_OPS`.
      layers: `NUM_PROXYLESS_LAYERS` op indices, layer 1 first.

    Raises:
      ValueError: the genotype is invalid; the message names the bad field as a JSON path.
    """

    space: ClassVar[str] = "proxyless"

    ops: tuple[str, ...]
    layers: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(self.ops))
        _check_proxyless_ops(self.ops)
        try:
            layers = tuple(operator.index(op) for op in self.layers)
        except TypeError as error:
            raise ValueError(
                f"layers: expected {NUM_PROXYLESS_LAYERS} op indices, got {self.layers!r}"
            ) from error
        object.__setattr__(self, "layers", layers)
        if len(layers) != NUM_PROXYLESS_LAYERS:
            raise ValueError(f"layers: expected {NUM_PROXYLESS_LAYERS} layers, got {len(layers)}")
        zero = self.ops.index(PROXYLESS_ZERO)
        for i, op in enumerate(layers):
            if not 0 <= op < len(self.ops):
                raise ValueError(
                    f"layers[{i}]: op index {op} out of range [0, {len(self.ops)}) of `ops`"
                )
            if op == zero and i + 1 in PROXYLESS_CHANNEL_CHANGE_LAYERS:
                raise ValueError(
                    f"layers[{i}]: layer {i + 1} changes channels and cannot be "
                    f"{PROXYLESS_ZERO!r}; such layers are {list(PROXYLESS_CHANNEL_CHANGE_LAYERS)} "
                    "(1-based)"
                )


def _check_proxyless_ops(ops):
    fields.check_op_names(ops, PROXYLESS_OPS)
    # Unlike the DARTS space, no search uses a subset of these ops.
    if tuple(ops) != PROXYLESS_OPS:
        raise ValueError(f"ops: expected {list(PROXYLESS_OPS)}, got {list(ops)}")


# JSON fields <-> genotype.


def proxyless_to_dict(genotype):
    """The JSON fields of a `ProxylessGenotype` ("ops" and each layer's op by name)."""
    return {"ops": list(genotype.ops), "layers": [genotype.ops[op] for op in genotype.layers]}


def proxyless_from_dict(data):
    """Parses the fields `proxyless_to_dict` wrote into a `ProxylessGenotype`."""
    fields.require_keys(data, ("format_version", "space", "ops", "layers"), "")
    ops = fields.require_list(data["ops"], "ops", "op names")
    # Layers name ops of this list, so it is checked before they are looked up in it.
    _check_proxyless_ops(ops)
    layers = fields.require_list(data["layers"], "layers", "op names")
    indices = []
    for i, name in enumerate(layers):
        if not isinstance(name, str) or name not in ops:
            raise ValueError(f"layers[{i}]: unknown op {name!r}; known ops: {', '.join(ops)}")
        indices.append(ops.index(name))
    return ProxylessGenotype(ops=ops, layers=indices)


# Genotypes <-> architecture-distribution choices.


def proxyless_choice_shapes():
    """Returns the selector shapes of the ProxylessNAS space: one op choice per layer."""
    return {"layers": (NUM_PROXYLESS_LAYERS, len(PROXYLESS_OPS))}


def proxyless_from_indices(indices):
    """Builds a ProxylessNAS genotype from {"layers": [NUM_PROXYLESS_LAYERS] op indices}.

    Raises:
      ValueError: the key is missing, the shape or dtype is wrong, or a channel-changing layer
        is 'mic_zero'.
    """
    layers = fields.indices_array(indices, "layers", (NUM_PROXYLESS_LAYERS,))
    return ProxylessGenotype(ops=PROXYLESS_OPS, layers=tuple(layers.tolist()))


def proxyless_to_one_hot(genotype):
    """Returns a ProxylessNAS genotype as {"layers": one-hot float32 [21, 7]}."""
    return {"layers": np.eye(len(genotype.ops), dtype=np.float32)[list(genotype.layers)]}


def choice_mask():
    """Returns a [21, 7] bool array: True where a layer may take an op.

    'mic_zero' is not a choice of channel-changing layers; a search should mask those logits,
    and the supernet ignores any weight a sample puts there.
    """
    mask = np.ones(proxyless_choice_shapes()["layers"], bool)
    for index in PROXYLESS_CHANNEL_CHANGE_LAYERS:
        mask[index - 1, ZERO_INDEX] = False
    return mask


def random_proxyless(seed):
    """Returns a uniformly random valid ProxylessNAS genotype.

    Channel-changing layers draw among the non-zero ops only, so every valid genotype is
    equally likely and no draw is rejected.

    Args:
      seed: seed of the `numpy.random.Generator`; the same seed gives the same genotype.
    """
    rng = np.random.default_rng(seed)
    channel_change = np.isin(
        np.arange(1, NUM_PROXYLESS_LAYERS + 1), PROXYLESS_CHANNEL_CHANGE_LAYERS
    )
    # mic_zero is op 0, so a lower bound of 1 excludes exactly that op.
    low = np.where(channel_change, 1, 0)
    return proxyless_from_indices({"layers": rng.integers(low, len(PROXYLESS_OPS))})
