"""Pictures of a search for TensorBoard: selector probabilities as heatmaps, the current cells.

Both are drawn with matplotlib's Agg canvas into PNG bytes and decoded into the [1, H, W, 4]
tensors `tf.summary.image` takes, so no display and no pyplot state are involved.
"""

import io
import os
import struct

import numpy as np
import tensorflow as tf
from matplotlib import figure as mpl_figure
from matplotlib.backends import backend_agg
from tensorboard.compat.proto import event_pb2
from tensorboard.util import tensor_util

from unas_tf import genotypes

# The states a node may read: the cell's two inputs and every node but the last.
_STATE_NAMES = ("c_{k-2}", "c_{k-1}", *(f"node {n}" for n in range(genotypes.NUM_NODES - 1)))


def _png_tensor(write_png):
    buffer = io.BytesIO()
    write_png(buffer)
    return tf.image.decode_png(buffer.getvalue(), channels=4)[None]


def cells_image(genotype):
    """Returns the normal and reduction cells of a DARTS genotype as a [1, H, W, 4] image."""
    return _png_tensor(lambda buffer: genotypes.draw_darts(genotype, buffer))


def _selector_matrices(probabilities, cell):
    """Rows "node n, selector a/b": op probabilities [8, K] and input ones [8, 5].

    Node n reads only the n+2 states before it; the inputs it cannot read are NaN (blank).
    """
    ops = np.reshape(probabilities[f"{cell}/ops"], (2 * genotypes.NUM_NODES, -1))
    inputs = np.full((2 * genotypes.NUM_NODES, len(_STATE_NAMES)), np.nan)
    for n in range(genotypes.NUM_NODES):
        inputs[2 * n : 2 * n + 2, : n + 2] = probabilities[f"{cell}/inputs_{n}"]
    return ops, inputs


def selector_heatmap(probabilities, op_names):
    """Returns the selector probabilities of both cell types as a [1, H, W, 4] heatmap image.

    Args:
      probabilities: {selector group: array}, the softmax of the architecture logits, with the
        keys of `genotypes.darts_choice_shapes`.
      op_names: the candidate op names, labelling the op columns.
    """
    rows = [f"node {n} {which}" for n in range(genotypes.NUM_NODES) for which in ("a", "b")]
    fig = mpl_figure.Figure(figsize=(6 + 1.2 * len(op_names), 8))
    backend_agg.FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, width_ratios=[len(op_names), len(_STATE_NAMES)])
    for row_axes, cell in zip(axes, genotypes.DARTS_CELLS, strict=True):
        for ax, matrix, columns, what in zip(
            row_axes,
            _selector_matrices(probabilities, cell),
            (op_names, _STATE_NAMES),
            ("ops", "inputs"),
            strict=True,
        ):
            ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
            for (i, j), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    color = "black" if value > 0.6 else "white"
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=color, size=8)
            ax.set_title(f"{cell} cell: {what}")
            ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", size=8)
            ax.set_yticks(range(len(rows)), rows, size=8)
    fig.tight_layout()
    return _png_tensor(lambda buffer: fig.savefig(buffer, format="png", dpi=72))


def _records(path):
    """The records of a TFRecord file (an events file), read in plain Python.

    TensorFlow's readers are a tf.data pipeline or the deprecated tf_record_iterator, which
    warns; the format is simple: a record is a length (uint64), its CRC, the data and the
    data's CRC. An incomplete last record (a file still being written) ends the reading.
    """
    with open(path, "rb") as file:
        while len(header := file.read(12)) == 12:
            (length,) = struct.unpack("<Q", header[:8])
            data = file.read(length)
            if len(data) < length or len(file.read(4)) < 4:
                return
            yield data


def logged_scalars(directory, tag):
    """{step: value} of a scalar summary in the events files of `directory`; {} if none.

    Files are read in the order TensorBoard reads them, so a resumed run, which rewrites the
    steps after its checkpoint, has its newer values kept.
    """
    values = {}
    if not os.path.isdir(directory):
        return values
    for name in sorted(os.listdir(directory)):
        if not name.startswith("events."):
            continue
        for data in _records(os.path.join(directory, name)):
            event = event_pb2.Event.FromString(data)
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tensor_util.make_ndarray(value.tensor))
    return values
