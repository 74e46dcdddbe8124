"""Pictures, texts and scalars of runs for TensorBoard, and reading scalars back.

Pictures (selector heatmaps, drawings of architectures) are drawn with matplotlib's Agg canvas
into PNG bytes and decoded into the [1, H, W, 4] tensors `tf.summary.image` takes, so no display
and no pyplot state are involved. matplotlib is imported on the first picture, not with the
library: a retraining run or an export draws nothing. Texts are JSON (the resolved config, the
genotype) in Markdown code blocks, which TensorBoard's text tab shows verbatim.
"""

import io
import os

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.util import tensor_util

from unas_tf import genotypes

# The states a node may read: the cell's two inputs and every node but the last.
_STATE_NAMES = ("c_{k-2}", "c_{k-1}", *(f"node {n}" for n in range(genotypes.NUM_NODES - 1)))


def figure(figsize):
    """Returns a matplotlib `Figure` of `figsize` inches on its own Agg canvas.

    The canvas renders without a display and the figure is no pyplot figure: nothing global is
    created, and nothing needs closing.
    """
    from matplotlib import figure as mpl_figure
    from matplotlib.backends import backend_agg

    fig = mpl_figure.Figure(figsize=figsize)
    backend_agg.FigureCanvasAgg(fig)
    return fig


def png_image(write_png):
    """Returns the PNG that `write_png(buffer)` writes as a [1, H, W, 4] uint8 image tensor."""
    buffer = io.BytesIO()
    write_png(buffer)
    return tf.image.decode_png(buffer.getvalue(), channels=4)[None]


def cells_image(genotype):
    """Returns the normal and reduction cells of a DARTS genotype as a [1, H, W, 4] image."""
    return png_image(lambda buffer: genotypes.draw_darts(genotype, buffer))


def draw_heatmap(axes, matrix, rows, columns, title):
    """Draws probabilities in [0, 1] as coloured cells, each with its value; NaN cells blank.

    Args:
      axes: the matplotlib axes to draw on.
      matrix: float array [len(rows), len(columns)]; NaN where there is no choice.
      rows, columns: labels of the rows and columns.
      title: the axes' title.
    """
    axes.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            color = "black" if value > 0.6 else "white"
            axes.text(j, i, f"{value:.2f}", ha="center", va="center", color=color, size=8)
    axes.set_title(title)
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right", size=8)
    axes.set_yticks(range(len(rows)), rows, size=8)


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
    fig = figure((6 + 1.2 * len(op_names), 8))
    axes = fig.subplots(2, 2, width_ratios=[len(op_names), len(_STATE_NAMES)])
    for row_axes, cell in zip(axes, genotypes.DARTS_CELLS, strict=True):
        for ax, matrix, columns, what in zip(
            row_axes,
            _selector_matrices(probabilities, cell),
            (op_names, _STATE_NAMES),
            ("ops", "inputs"),
            strict=True,
        ):
            draw_heatmap(ax, matrix, rows, columns, f"{cell} cell: {what}")
    fig.tight_layout()
    return png_image(lambda buffer: fig.savefig(buffer, format="png", dpi=72))


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

    Files are read in name order (their names start with the time they were created), by
    TensorBoard's own loader: records are CRC-checked, and an incomplete last record (a file
    still being written) ends a file's reading.
    """
    if not os.path.isdir(directory):
        return
    for name in sorted(os.listdir(directory)):
        if name.startswith("events."):
            yield from event_file_loader.EventFileLoader(os.path.join(directory, name)).Load()


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
