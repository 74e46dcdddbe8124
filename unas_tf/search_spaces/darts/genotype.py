"""DARTS-space genotypes (UNAS Sec. 4.1, factorized cells): the type, its codec and its choices.

A cell has `NUM_NODES` nodes; node n picks two inputs among the states before it (0 = output of
cell k-2, 1 = output of cell k-1, 2 + m = node m) and one op for each. The argmax of every
selector is the genotype: no post-search pruning. The architecture distribution's selectors
(`darts_choice_shapes`) and a genotype convert both ways (`darts_from_indices`,
`darts_to_one_hot`); `unas_tf/genotypes.py` wraps the codec's fields in the versioned file.
"""

import dataclasses
import operator
from typing import ClassVar

import numpy as np

from unas_tf.search_spaces import fields

# Order fixes the op indices of genotypes and of the architecture logits.
DARTS_OPS = (
    "skip_connect",
    "sep_conv_3x3",
    "max_pool_3x3",
    "dil_conv_3x3",
    "sep_conv_5x5",
    "avg_pool_3x3",
    "sep_conv_7x7",
)
NUM_NODES = 4
DARTS_CELLS = ("normal", "reduce")
# The ops without weights in a normal cell (a reduction cell's skip_connect is a strided
# convolution). A search that picks mostly these has collapsed, DARTS's known failure.
PARAMETER_FREE_OPS = ("skip_connect", "max_pool_3x3", "avg_pool_3x3")


@dataclasses.dataclass(frozen=True)
class Node:
    """One node of a DARTS cell: `ops[0](state[inputs[0]]) + ops[1](state[inputs[1]])`.

    Attributes:
      inputs: the two state indices the node reads (0 = cell k-2, 1 = cell k-1, 2 + m = node m).
      ops: the two op indices, into the genotype's `ops` name list.
    """

    inputs: tuple[int, int]
    ops: tuple[int, int]

    def __post_init__(self):
        # Normalising to tuples of Python ints makes nodes built from lists or NumPy indices
        # compare equal to nodes read from JSON; ranges are checked by the genotype, which knows
        # the node's position.
        for field in ("inputs", "ops"):
            value = getattr(self, field)
            try:
                pair = tuple(operator.index(item) for item in value)
            except TypeError:
                pair = ()
            if len(pair) != 2:
                raise ValueError(
                    f"Invalid value received for argument `{field}`. Expected a pair of "
                    f"integers. Received: {field}={value!r}"
                )
            object.__setattr__(self, field, pair)


@dataclasses.dataclass(frozen=True)
class DartsGenotype:
    """A normal and a reduction cell of the DARTS space.

    Attributes:
      ops: op names that node op indices refer to; a prefix of `DARTS_OPS` (the ImageNet search
        uses the first five).
      normal: `NUM_NODES` nodes of the normal cell.
      reduce: `NUM_NODES` nodes of the reduction cell.

    Raises:
      ValueError: the genotype is invalid; the message names the bad field as a JSON path.
    """

    space: ClassVar[str] = "darts"

    ops: tuple[str, ...]
    normal: tuple[Node, ...]
    reduce: tuple[Node, ...]

    def __post_init__(self):
        object.__setattr__(self, "ops", tuple(self.ops))
        fields.check_op_names(self.ops, DARTS_OPS)
        for cell in DARTS_CELLS:
            nodes = tuple(getattr(self, cell))
            object.__setattr__(self, cell, nodes)
            if len(nodes) != NUM_NODES:
                raise ValueError(f"{cell}: expected {NUM_NODES} nodes, got {len(nodes)}")
            for n, node in enumerate(nodes):
                if not isinstance(node, Node):
                    raise ValueError(f"{cell}[{n}]: expected a Node, got {node!r}")
                for i, state in enumerate(node.inputs):
                    if not 0 <= state < n + 2:
                        raise ValueError(
                            f"{cell}[{n}].inputs[{i}]: input index {state} out of range "
                            f"[0, {n + 2}) for node {n}"
                        )
                for i, op in enumerate(node.ops):
                    if not 0 <= op < len(self.ops):
                        raise ValueError(
                            f"{cell}[{n}].ops[{i}]: op index {op} out of range "
                            f"[0, {len(self.ops)}) of `ops`"
                        )


# JSON fields <-> genotype.


def darts_to_dict(genotype):
    """The JSON fields of a `DartsGenotype` ("ops" and the cells' nodes)."""
    data = {"ops": list(genotype.ops)}
    for cell in DARTS_CELLS:
        data[cell] = [
            {"inputs": list(node.inputs), "ops": list(node.ops)} for node in getattr(genotype, cell)
        ]
    return data


def _node_from_json(data, path):
    fields.require_keys(data, ("inputs", "ops"), path)
    values = {}
    for key in ("inputs", "ops"):
        value = data[key]
        # bool is an int subclass in Python but never a meaningful index in a genotype file.
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        ):
            raise ValueError(f"{path}.{key}: expected a list of 2 integers, got {value!r}")
        values[key] = value
    return Node(**values)


def darts_from_dict(data):
    """Parses the fields `darts_to_dict` wrote into a `DartsGenotype`."""
    fields.require_keys(data, ("format_version", "space", "ops", *DARTS_CELLS), "")
    ops = fields.require_list(data["ops"], "ops", "op names")
    cells = {
        cell: tuple(
            _node_from_json(node, f"{cell}[{n}]")
            for n, node in enumerate(fields.require_list(data[cell], cell, "nodes"))
        )
        for cell in DARTS_CELLS
    }
    return DartsGenotype(ops=ops, **cells)


# Genotypes <-> architecture-distribution choices.


def darts_choice_shapes(num_ops):
    """Returns the selector shapes [..., K] of a factorized DARTS cell pair (UNAS Sec. 4.1).

    "{cell}/ops" has shape [NUM_NODES, 2, num_ops] (node, selector, op) and "{cell}/inputs_{n}"
    has shape [2, n + 2]: node n chooses each of its two inputs among the n + 2 states before it.

    Args:
      num_ops: number of candidate ops, the length of a prefix of `DARTS_OPS`.

    Returns:
      A dict from group name to shape, in the order normal/ops, normal/inputs_0..3, reduce/ops,
      reduce/inputs_0..3.
    """
    if not 1 <= num_ops <= len(DARTS_OPS):
        raise ValueError(
            "Invalid value received for argument `num_ops`. Expected an integer in "
            f"[1, {len(DARTS_OPS)}]. Received: num_ops={num_ops!r}"
        )
    shapes = {}
    for cell in DARTS_CELLS:
        shapes[f"{cell}/ops"] = (NUM_NODES, 2, num_ops)
        for n in range(NUM_NODES):
            shapes[f"{cell}/inputs_{n}"] = (2, n + 2)
    return shapes


def darts_from_indices(indices, ops=DARTS_OPS):
    """Builds a DARTS genotype from one chosen index per selector, e.g. the argmax of the logits.

    Args:
      indices: dict with the keys of `darts_choice_shapes`; "{cell}/ops" holds [NUM_NODES, 2]
        op indices and "{cell}/inputs_{n}" holds [2] state indices. NumPy arrays or eager
        tensors.
      ops: the op names the indices refer to.

    Returns:
      A `DartsGenotype`.

    Raises:
      ValueError: a key is missing, a shape or dtype is wrong, or an index is out of range.
    """
    cells = {}
    for cell in DARTS_CELLS:
        op_indices = fields.indices_array(indices, f"{cell}/ops", (NUM_NODES, 2))
        cells[cell] = tuple(
            Node(
                inputs=tuple(fields.indices_array(indices, f"{cell}/inputs_{n}", (2,)).tolist()),
                ops=tuple(op_indices[n].tolist()),
            )
            for n in range(NUM_NODES)
        )
    return DartsGenotype(ops=ops, **cells)


def darts_to_one_hot(genotype):
    """Returns a DARTS genotype as one-hot float32 arrays with `darts_choice_shapes` shapes."""
    one_hot = {}
    for cell in DARTS_CELLS:
        nodes = getattr(genotype, cell)
        one_hot[f"{cell}/ops"] = np.eye(len(genotype.ops), dtype=np.float32)[
            [node.ops for node in nodes]
        ]
        for n, node in enumerate(nodes):
            one_hot[f"{cell}/inputs_{n}"] = np.eye(n + 2, dtype=np.float32)[list(node.inputs)]
    return one_hot


def random_darts(seed, ops=DARTS_OPS):
    """Returns a uniformly random DARTS genotype: the random-cell baseline (UNAS Table 6).

    Every selector of the factorized cell is drawn uniformly, so all valid genotypes over `ops`
    are equally likely.

    Args:
      seed: seed of the `numpy.random.Generator`; the same seed gives the same genotype.
      ops: the op names to choose from.
    """
    rng = np.random.default_rng(seed)
    shapes = darts_choice_shapes(len(ops))
    return darts_from_indices(
        {key: rng.integers(shape[-1], size=shape[:-1]) for key, shape in shapes.items()}, ops
    )


def parameter_free_ops(genotype):
    """How many of the normal cell's 2 * NUM_NODES ops are in `PARAMETER_FREE_OPS`."""
    return sum(
        genotype.ops[op] in PARAMETER_FREE_OPS for node in genotype.normal for op in node.ops
    )
