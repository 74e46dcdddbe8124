"""matplotlib helpers the spaces' pictures share: a figure, its PNG as an image, a heatmap.

Pictures are drawn with matplotlib's Agg canvas into PNG bytes and decoded into the
[1, H, W, 4] tensors `tf.summary.image` takes, so no display and no pyplot state are involved.
matplotlib is imported on the first picture, not with the library: a retraining run or an
export draws nothing.
"""

import io

import numpy as np
import tensorflow as tf


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
