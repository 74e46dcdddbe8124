"""Texts of runs for TensorBoard, and reading scalars back.

Texts are JSON (the resolved config, the genotype) in Markdown code blocks, which TensorBoard's
text tab shows verbatim. The pictures are each space's (`SearchSpace.epoch_summaries`, drawn
with `search_spaces/plotting.py`).
"""

import math
import os

import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.util import tensor_util

from unas_tf import genotypes


def write_json_text(tag, text):
    """Writes JSON `text` as a TensorBoard text summary, verbatim (call under a writer)."""
    tf.summary.text(tag, f"```json\n{text.strip()}\n```")


def write_run_texts(config, genotype):
    """Writes the resolved config and the genotype as texts "config" and "genotype".

    A run writes them at its start, so that TensorBoard shows what each run was, resumed ones
    included (they write again at the step they resume from).
    """
    write_json_text("config", config.to_json(indent=2))
    write_genotype_text(genotype)


def write_genotype_text(genotype):
    """Writes the genotype's JSON (as genotype.json holds it) as the text "genotype"."""
    write_json_text("genotype", genotypes.to_json(genotype))


def read_events(directory):
    """Yields the `Event` protos of the events files in `directory`, as TensorBoard reads them.

    Files are read in the order they were written, by the wall time of their first event after
    the header: names (and headers) hold the creation second only, and names end with a
    per-process counter that sorts "10" before "9". TensorBoard's own loader reads them:
    records are CRC-checked, and an incomplete last record (a file still being written) ends a
    file's reading.
    """
    if not os.path.isdir(directory):
        return
    paths = [
        os.path.join(directory, name)
        for name in os.listdir(directory)
        if name.startswith("events.")
    ]
    for path in sorted(paths, key=lambda path: (_first_wall_time(path), path)):
        yield from event_file_loader.EventFileLoader(path).Load()


def _first_wall_time(path):
    """The wall time of the first event after an events file's header; inf for none."""
    for event in event_file_loader.EventFileLoader(path).Load():
        if not event.HasField("file_version"):
            return event.wall_time
    return math.inf


def logged_scalars(directory, tag):
    """{step: value} of a scalar summary in the events files of `directory`; {} if none.

    A resumed run, which rewrites the steps after its checkpoint into a newer file, has its
    newer values kept.
    """
    values = {}
    for event in read_events(directory):
        for value in event.summary.value:
            if value.tag == tag:
                values[event.step] = float(tensor_util.make_ndarray(value.tensor))
    return values
