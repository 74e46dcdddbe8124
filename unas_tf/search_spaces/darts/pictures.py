"""Pictures of the DARTS space: a drawing of a cell pair, and TensorBoard's selector heatmap.

`draw_darts` draws with matplotlib's Agg canvas directly (no display, no pyplot state, no
graphviz); `cells_image` and `selector_heatmap` are the images `DartsSpace.epoch_summaries`
writes each epoch.
"""

import os

import numpy as np

from unas_tf.search_spaces import plotting
from unas_tf.search_spaces.darts import genotype as darts_genotype

# Curvature of drawn edges: an arc spanning s states rises _ARC_RAD * s / 2 off the line.
_ARC_RAD = 0.6
# The states a node may read: the cell's two inputs and every node but the last.
_STATE_NAMES = ("c_{k-2}", "c_{k-1}", *(f"node {n}" for n in range(darts_genotype.NUM_NODES - 1)))


def _draw_cell(axes, genotype, cell, title):
    """Draws one cell as an arc diagram: states on a line, edges as arcs between them.

    Every edge goes from an earlier state to a later one, so arcs never pass through a node.
    Each node's first input arcs above the line and its second below; on one side, labels of
    equal height have equal spans, hence different midpoints, so labels never overlap. An edge
    and its label share the op's colour.
    """
    import matplotlib
    from matplotlib import patches

    names = [r"$c_{k-2}$", r"$c_{k-1}$", *map(str, range(darts_genotype.NUM_NODES)), r"$c_{k}$"]
    fills = ["#cfe2f3"] * 2 + ["#fff2cc"] * darts_genotype.NUM_NODES + ["#d9ead3"]
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
    for n in range(darts_genotype.NUM_NODES):
        arc(n + 2, output, _ARC_RAD, color="darkgray", linewidth=1, linestyle="--")

    height = _ARC_RAD * (darts_genotype.NUM_NODES + 1) / 2 + 0.3
    axes.set_title(title, fontsize=14)
    axes.set_xlim(-0.5, output + 0.5)
    axes.set_ylim(-height, height)
    axes.set_aspect("equal")
    axes.axis("off")


def draw_darts(genotype, path):
    """Saves a PNG of the normal and reduction cells side by side, edges labelled with ops.

    Uses matplotlib's Agg canvas (`plotting.figure`), so it needs no display, leaves pyplot's
    global state alone and needs no graphviz. matplotlib is imported on the first drawing, not
    with the module: loading or saving a genotype draws nothing.

    Args:
      genotype: a `DartsGenotype`.
      path: destination PNG file, or a binary file object (TensorBoard images use a buffer).
    """
    if not isinstance(genotype, darts_genotype.DartsGenotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a DartsGenotype. "
            f"Received: genotype={genotype!r}"
        )
    fig = plotting.figure((18, 5))
    left, right = fig.subplots(1, 2)
    _draw_cell(left, genotype, "normal", "normal cell")
    _draw_cell(right, genotype, "reduce", "reduction cell")
    fig.tight_layout()
    fig.savefig(path if hasattr(path, "write") else os.fspath(path), format="png", dpi=100)


def cells_image(genotype):
    """Returns the normal and reduction cells of a DARTS genotype as a [1, H, W, 4] image."""
    return plotting.png_image(lambda buffer: draw_darts(genotype, buffer))


def _selector_matrices(probabilities, cell):
    """Rows "node n, selector a/b": op probabilities [8, K] and input ones [8, 5].

    Node n reads only the n+2 states before it; the inputs it cannot read are NaN (blank).
    """
    ops = np.reshape(probabilities[f"{cell}/ops"], (2 * darts_genotype.NUM_NODES, -1))
    inputs = np.full((2 * darts_genotype.NUM_NODES, len(_STATE_NAMES)), np.nan)
    for n in range(darts_genotype.NUM_NODES):
        inputs[2 * n : 2 * n + 2, : n + 2] = probabilities[f"{cell}/inputs_{n}"]
    return ops, inputs


def selector_heatmap(probabilities, op_names):
    """Returns the selector probabilities of both cell types as a [1, H, W, 4] heatmap image.

    Args:
      probabilities: {selector group: array}, the softmax of the architecture logits, with the
        keys of `darts_genotype.darts_choice_shapes`.
      op_names: the candidate op names, labelling the op columns.
    """
    rows = [f"node {n} {which}" for n in range(darts_genotype.NUM_NODES) for which in ("a", "b")]
    fig = plotting.figure((6 + 1.2 * len(op_names), 8))
    axes = fig.subplots(2, 2, width_ratios=[len(op_names), len(_STATE_NAMES)])
    for row_axes, cell in zip(axes, darts_genotype.DARTS_CELLS, strict=True):
        for ax, matrix, columns, what in zip(
            row_axes,
            _selector_matrices(probabilities, cell),
            (op_names, _STATE_NAMES),
            ("ops", "inputs"),
            strict=True,
        ):
            plotting.draw_heatmap(ax, matrix, rows, columns, f"{cell} cell: {what}")
    fig.tight_layout()
    return plotting.png_image(lambda buffer: fig.savefig(buffer, format="png", dpi=72))
