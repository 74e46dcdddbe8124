"""Architectures as versioned, validated JSON data, for the DARTS and ProxylessNAS spaces.

A genotype is the discrete architecture a search produces and an evaluation network consumes.
Keeping it as plain data (frozen dataclasses <-> JSON) lets a search write `genotype.json` at
start, every epoch and at export, and lets evaluation rebuild the exact network from that file or
from a published architecture's name.

DARTS space (UNAS Sec. 4.1, factorized cells): a cell has `NUM_NODES` nodes; node n picks two
inputs among the states before it (0 = output of cell k-2, 1 = output of cell k-1, 2 + m = node
m) and one op for each. The argmax of every selector is the genotype: no post-search pruning.

ProxylessNAS space (UNAS App. E): 21 searchable MBConv layers, each one of `PROXYLESS_OPS`;
layers that change channels cannot be skipped ('mic_zero').
"""

import dataclasses
import functools
import importlib.resources
import json
import operator
import os
from typing import ClassVar

import numpy as np

from unas_tf import run_directory
from unas_tf.search_spaces import base as search_space_base

FORMAT_VERSION = 1

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

_PUBLISHED_RESOURCE = ("assets", "published.json")
# Curvature of drawn edges: an arc spanning s states rises _ARC_RAD * s / 2 off the line.
_ARC_RAD = 0.6


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
        _check_op_names(self.ops, DARTS_OPS)
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
    _check_op_names(ops, PROXYLESS_OPS)
    # Unlike the DARTS space, no search uses a subset of these ops.
    if tuple(ops) != PROXYLESS_OPS:
        raise ValueError(f"ops: expected {list(PROXYLESS_OPS)}, got {list(ops)}")


def _check_op_names(ops, standard):
    for i, name in enumerate(ops):
        if name not in standard:
            raise ValueError(f"ops[{i}]: unknown op {name!r}; known ops: {', '.join(standard)}")
    if not ops or tuple(ops) != standard[: len(ops)]:
        raise ValueError(
            f"ops: expected a non-empty prefix of {list(standard)} (the order fixes op indices), "
            f"got {list(ops)}"
        )


# JSON <-> genotype.


def _to_dict(genotype):
    space = getattr(genotype, "space", None)
    if not isinstance(space, str) or not dataclasses.is_dataclass(genotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a genotype of a "
            f"registered search space. Received: genotype={genotype!r}"
        )
    fields = search_space_base.get(space, "genotype.space").genotype_to_dict(genotype)
    return {"format_version": FORMAT_VERSION, "space": space, **fields}


def darts_to_dict(genotype):
    """The JSON fields of a `DartsGenotype` ("ops" and the cells' nodes)."""
    data = {"ops": list(genotype.ops)}
    for cell in DARTS_CELLS:
        data[cell] = [
            {"inputs": list(node.inputs), "ops": list(node.ops)} for node in getattr(genotype, cell)
        ]
    return data


def proxyless_to_dict(genotype):
    """The JSON fields of a `ProxylessGenotype` ("ops" and each layer's op by name)."""
    return {"ops": list(genotype.ops), "layers": [genotype.ops[op] for op in genotype.layers]}


def to_json(genotype):
    """Serialises a genotype to JSON text, one top-level field per line (diff-friendly).

    Args:
      genotype: a `DartsGenotype` or `ProxylessGenotype`.

    Returns:
      The JSON text, ending with a newline.

    Raises:
      ValueError: `genotype` is not a genotype.
    """
    fields = [
        f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in _to_dict(genotype).items()
    ]
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _require_keys(data, required, path):
    """Checks `data` is an object with exactly the `required` keys."""
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {data!r}")
    for key in data:
        if key not in required:
            raise ValueError(
                f"{_join(path, key)}: unexpected key; expected keys: {', '.join(required)}"
            )
    for key in required:
        if key not in data:
            raise ValueError(f"{_join(path, key)}: missing required key")


def _join(path, key):
    return f"{path}.{key}" if path else key


def _require_list(value, path, what):
    if not isinstance(value, list):
        raise ValueError(f"{path}: expected a list of {what}, got {value!r}")
    return value


def _node_from_json(data, path):
    _require_keys(data, ("inputs", "ops"), path)
    fields = {}
    for key in ("inputs", "ops"):
        value = data[key]
        # bool is an int subclass in Python but never a meaningful index in a genotype file.
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        ):
            raise ValueError(f"{path}.{key}: expected a list of 2 integers, got {value!r}")
        fields[key] = value
    return Node(**fields)


def _from_dict(data, expected_space, expected_ops):
    known = search_space_base.names()
    if expected_space is not None and expected_space not in known:
        raise ValueError(
            "Invalid value received for argument `expected_space`. Expected one of "
            f"{known}. Received: expected_space={expected_space!r}"
        )
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object at the top level, got {data!r}")
    for key in ("format_version", "space"):
        if key not in data:
            raise ValueError(f"{key}: missing required key")
    version = data["format_version"]
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(f"format_version: unsupported {version!r}; supported: {FORMAT_VERSION}")
    space = data["space"]
    if space not in known:
        raise ValueError(f"space: unknown {space!r}; known spaces: {', '.join(known)}")
    if expected_space is not None and space != expected_space:
        raise ValueError(f"space: expected {expected_space!r}, got {space!r}")
    genotype = search_space_base.get(space).genotype_from_dict(data)
    if expected_ops is not None and genotype.ops != tuple(expected_ops):
        raise ValueError(
            f"ops: expected {list(expected_ops)} (the op list the caller was built for), "
            f"got {list(genotype.ops)}"
        )
    return genotype


def darts_from_dict(data):
    """Parses the fields `darts_to_dict` wrote into a `DartsGenotype`."""
    _require_keys(data, ("format_version", "space", "ops", *DARTS_CELLS), "")
    ops = _require_list(data["ops"], "ops", "op names")
    cells = {
        cell: tuple(
            _node_from_json(node, f"{cell}[{n}]")
            for n, node in enumerate(_require_list(data[cell], cell, "nodes"))
        )
        for cell in DARTS_CELLS
    }
    return DartsGenotype(ops=ops, **cells)


def proxyless_from_dict(data):
    """Parses the fields `proxyless_to_dict` wrote into a `ProxylessGenotype`."""
    _require_keys(data, ("format_version", "space", "ops", "layers"), "")
    ops = _require_list(data["ops"], "ops", "op names")
    # Layers name ops of this list, so it is checked before they are looked up in it.
    _check_proxyless_ops(ops)
    layers = _require_list(data["layers"], "layers", "op names")
    indices = []
    for i, name in enumerate(layers):
        if not isinstance(name, str) or name not in ops:
            raise ValueError(f"layers[{i}]: unknown op {name!r}; known ops: {', '.join(ops)}")
        indices.append(ops.index(name))
    return ProxylessGenotype(ops=ops, layers=indices)


def from_json(text, expected_space=None, expected_ops=None):
    """Parses and validates a genotype written by `to_json`.

    Args:
      text: JSON text.
      expected_space: if given, a registered space's name; a genotype of another space is
        rejected.
      expected_ops: if given, the op names the caller's network was built for; a genotype over
        another op list (whose indices would mean other ops) is rejected.

    Returns:
      A `DartsGenotype` or `ProxylessGenotype`.

    Raises:
      ValueError: the text is not JSON or not a valid genotype; the message starts with the bad
        field as a JSON path, e.g. "normal[2].inputs[1]: ...".
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON: {error}") from error
    return _from_dict(data, expected_space, expected_ops)


def save(genotype, path):
    """Writes a genotype as JSON, atomically.

    A crash mid-write (e.g. a preempted search saving every epoch) leaves either the old file or
    the new one, never half of one (`run_directory.write_text_atomically`).

    Args:
      genotype: a `DartsGenotype` or `ProxylessGenotype`.
      path: destination file; its directory must exist.
    """
    run_directory.write_text_atomically(os.fspath(path), to_json(genotype))


@functools.cache
def _published():
    """Returns {name: genotype dict in the `to_json` format} for the packaged architectures."""
    resource = importlib.resources.files("unas_tf").joinpath(*_PUBLISHED_RESOURCE)
    data = json.loads(resource.read_text())
    return {
        name: {
            "format_version": FORMAT_VERSION,
            "space": space,
            "ops": data[f"{space}_ops"],
            **entry,
        }
        for space in data
        if f"{space}_ops" in data  # each space's entries come with its op list
        for name, entry in data[space].items()
    }


def published_names():
    """Returns the names `load` accepts for published architectures, DARTS space first."""
    return tuple(_published())


def load(name_or_path, expected_space=None, expected_ops=None):
    """Returns a published genotype by name, or the genotype saved in a JSON file.

    Args:
      name_or_path: a name from `published_names()` (e.g. "UNAS_CIFAR10"), or a file path.
      expected_space: as in `from_json`.
      expected_ops: as in `from_json`.

    Returns:
      A `DartsGenotype` or `ProxylessGenotype`.

    Raises:
      ValueError: `name_or_path` is neither a known name nor an existing file, or the file is
        not a valid genotype (the message names the file and the bad field).
    """
    published = _published()
    if name_or_path in published:
        return _from_dict(published[name_or_path], expected_space, expected_ops)
    path = os.fspath(name_or_path)
    if not os.path.isfile(path):
        raise ValueError(
            "Invalid value received for argument `name_or_path`. Expected a published "
            f"architecture ({', '.join(published)}) or an existing genotype file; no file exists "
            f"at {os.path.abspath(path)!r}. Received: name_or_path={name_or_path!r}"
        )
    try:
        with open(path) as file:
            return from_json(file.read(), expected_space, expected_ops)
    except ValueError as error:
        raise ValueError(f"Invalid genotype file {path!r}: {error}") from error


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


def _indices_array(indices, key, shape):
    if key not in indices:
        raise ValueError(
            f"Invalid value received for argument `indices`. Expected a key {key!r}. "
            f"Received: indices with keys {sorted(indices)}"
        )
    array = np.asarray(indices[key])
    if array.shape != shape or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"Invalid value received for argument `indices`. Expected integers of shape {shape} "
            f"for {key!r}. Received: indices[{key!r}] of dtype {array.dtype} and shape "
            f"{array.shape}"
        )
    return array


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
        op_indices = _indices_array(indices, f"{cell}/ops", (NUM_NODES, 2))
        cells[cell] = tuple(
            Node(
                inputs=tuple(_indices_array(indices, f"{cell}/inputs_{n}", (2,)).tolist()),
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


def proxyless_choice_shapes():
    """Returns the selector shapes of the ProxylessNAS space: one op choice per layer."""
    return {"layers": (NUM_PROXYLESS_LAYERS, len(PROXYLESS_OPS))}


def proxyless_from_indices(indices):
    """Builds a ProxylessNAS genotype from {"layers": [NUM_PROXYLESS_LAYERS] op indices}.

    Raises:
      ValueError: the key is missing, the shape or dtype is wrong, or a channel-changing layer
        is 'mic_zero'.
    """
    layers = _indices_array(indices, "layers", (NUM_PROXYLESS_LAYERS,))
    return ProxylessGenotype(ops=PROXYLESS_OPS, layers=tuple(layers.tolist()))


def proxyless_to_one_hot(genotype):
    """Returns a ProxylessNAS genotype as {"layers": one-hot float32 [21, 7]}."""
    return {"layers": np.eye(len(genotype.ops), dtype=np.float32)[list(genotype.layers)]}


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


# Drawing.


def _draw_cell(axes, genotype, cell, title):
    """Draws one cell as an arc diagram: states on a line, edges as arcs between them.

    Every edge goes from an earlier state to a later one, so arcs never pass through a node.
    Each node's first input arcs above the line and its second below; on one side, labels of
    equal height have equal spans, hence different midpoints, so labels never overlap. An edge
    and its label share the op's colour.
    """
    import matplotlib
    from matplotlib import patches

    names = [r"$c_{k-2}$", r"$c_{k-1}$", *map(str, range(NUM_NODES)), r"$c_{k}$"]
    fills = ["#cfe2f3"] * 2 + ["#fff2cc"] * NUM_NODES + ["#d9ead3"]
    for x, (name, fill) in enumerate(zip(names, fills, strict=True)):
        axes.text(
            x,
            0,
            name,
            ha="center",
            va="center",
            fontsize=13,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": fill, "edgecolor": "black"},
        )

    def arc(start, end, rad, **style):
        # arc3 with rad < 0 bends a left-to-right edge upwards.
        axes.add_patch(
            patches.FancyArrowPatch(
                (start, 0),
                (end, 0),
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=14,
                shrinkA=14,
                shrinkB=14,
                zorder=1,
                **style,
            )
        )

    # A qualitative map: neighbouring op indices get clearly different colours.
    palette = matplotlib.colormaps["Dark2"]
    colors = palette(np.arange(len(genotype.ops)) % palette.N)
    for n, node in enumerate(getattr(genotype, cell)):
        for rad, state, op in zip((-_ARC_RAD, _ARC_RAD), node.inputs, node.ops, strict=True):
            arc(state, n + 2, rad, color=colors[op], linewidth=1.5)
            # The arc's midpoint lies rad * span / 2 off the line (equal aspect: data units).
            axes.text(
                (state + n + 2) / 2,
                -rad * (n + 2 - state) / 2,
                genotype.ops[op],
                ha="center",
                va="center",
                fontsize=9,
                color=colors[op],
                zorder=2,
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            )
    output = len(names) - 1
    for n in range(NUM_NODES):
        arc(n + 2, output, _ARC_RAD, color="darkgray", linewidth=1, linestyle="--")

    height = _ARC_RAD * (NUM_NODES + 1) / 2 + 0.3
    axes.set_title(title, fontsize=14)
    axes.set_xlim(-0.5, output + 0.5)
    axes.set_ylim(-height, height)
    axes.set_aspect("equal")
    axes.axis("off")


def draw_darts(genotype, path):
    """Saves a PNG of the normal and reduction cells side by side, edges labelled with ops.

    Uses matplotlib's Agg canvas directly, so it needs no display, leaves pyplot's global state
    alone and needs no graphviz. matplotlib is imported here, not with the module: loading or
    saving a genotype draws nothing.

    Args:
      genotype: a `DartsGenotype`.
      path: destination PNG file, or a binary file object (TensorBoard images use a buffer).
    """
    if not isinstance(genotype, DartsGenotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a DartsGenotype. "
            f"Received: genotype={genotype!r}"
        )
    from matplotlib import figure as mpl_figure
    from matplotlib.backends import backend_agg

    fig = mpl_figure.Figure(figsize=(18, 5))
    backend_agg.FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    _draw_cell(left, genotype, "normal", "normal cell")
    _draw_cell(right, genotype, "reduce", "reduction cell")
    fig.tight_layout()
    fig.savefig(path if hasattr(path, "write") else os.fspath(path), format="png", dpi=100)
