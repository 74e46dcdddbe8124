"""Architectures as versioned JSON files, and the published architectures by name.

A genotype is the discrete architecture a search produces and an evaluation network consumes.
Keeping it as plain data (frozen dataclasses <-> JSON) lets a search write `genotype.json` at
start, every epoch and at export, and lets evaluation rebuild the exact network from that file or
from a published architecture's name.

This module owns the file's envelope: its format version and its "space" field, which picks the
registered space (`search_spaces.base`) whose codec (`genotype_to_dict` / `genotype_from_dict`)
writes and reads the other fields. The genotype types themselves live in their space's package.
"""

import dataclasses
import functools
import importlib.resources
import json
import os

from unas_tf import run_directory
from unas_tf.search_spaces import base as search_space_base

FORMAT_VERSION = 1

_PUBLISHED_RESOURCE = ("assets", "published.json")


def _to_dict(genotype):
    space = getattr(genotype, "space", None)
    if not isinstance(space, str) or not dataclasses.is_dataclass(genotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a genotype of a "
            f"registered search space. Received: genotype={genotype!r}"
        )
    fields = search_space_base.get(space, "genotype.space").genotype_to_dict(genotype)
    return {"format_version": FORMAT_VERSION, "space": space, **fields}


def to_json(genotype):
    """Serialises a genotype to JSON text, one top-level field per line (diff-friendly).

    Args:
      genotype: a genotype of a registered space.

    Returns:
      The JSON text, ending with a newline.

    Raises:
      ValueError: `genotype` is not a genotype.
    """
    fields = [
        f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in _to_dict(genotype).items()
    ]
    return "{\n" + ",\n".join(fields) + "\n}\n"


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


def from_json(text, expected_space=None, expected_ops=None):
    """Parses and validates a genotype written by `to_json`.

    Args:
      text: JSON text.
      expected_space: if given, a registered space's name; a genotype of another space is
        rejected.
      expected_ops: if given, the op names the caller's network was built for; a genotype over
        another op list (whose indices would mean other ops) is rejected.

    Returns:
      A genotype of a registered space.

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
      genotype: a genotype of a registered space.
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
      A genotype of a registered space.

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
