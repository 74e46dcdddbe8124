"""Checks the spaces' genotype codecs share, each naming the bad field by its JSON path.

A genotype file is read by its space's codec (`SearchSpace.genotype_from_dict`); these checks
give every space the same messages ("normal[2].inputs[1]: ...") for the same mistakes, and the
same check of the choice indices a search's argmax hands to `genotype_from_indices`.
"""

import numpy as np


def check_op_names(ops, standard):
    """Checks `ops` is a non-empty prefix of the `standard` op names, in their order."""
    for i, name in enumerate(ops):
        if name not in standard:
            raise ValueError(f"ops[{i}]: unknown op {name!r}; known ops: {', '.join(standard)}")
    if not ops or tuple(ops) != standard[: len(ops)]:
        raise ValueError(
            f"ops: expected a non-empty prefix of {list(standard)} (the order fixes op indices), "
            f"got {list(ops)}"
        )


def require_keys(data, required, path):
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


def require_list(value, path, what):
    """Returns `value`, checked to be a JSON list (of `what`, for the message)."""
    if not isinstance(value, list):
        raise ValueError(f"{path}: expected a list of {what}, got {value!r}")
    return value


def indices_array(indices, key, shape):
    """Returns `indices[key]` as a NumPy integer array of `shape`, or raises a ValueError."""
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
