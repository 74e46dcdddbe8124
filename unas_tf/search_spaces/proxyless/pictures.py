"""Pictures of the ProxylessNAS space: a heatmap of the layer choices, a drawing of a genotype.

`layer_heatmap` and `draw_genotype` are the images `ProxylessSpace.epoch_summaries` writes each
epoch; `draw_genotype` also serves `launch.inspect --draw`.
"""

import os

import numpy as np

from unas_tf.search_spaces import plotting
from unas_tf.search_spaces.proxyless import genotype as proxyless_genotype
from unas_tf.search_spaces.proxyless import networks

# Fill of an MBConv box by kernel size; a box's height also grows with the kernel size and its
# width with the expansion ratio, so the figure reads without a legend.
_KERNEL_COLORS = {3: "#9ecae1", 5: "#fdae6b", 7: "#fb6a4a"}
_BOX_HEIGHT_PER_KERNEL = 0.25  # a k x k layer's box is k times this tall
_BOX_WIDTH_PER_EXPANSION = 0.12  # an expansion-e layer's box is e times this wide


def op_label(op_name):
    """A short label of a layer choice: "MB6 k5" (expansion 6, kernel 5) or "zero/skip"."""
    if op_name == proxyless_genotype.PROXYLESS_ZERO:
        return "zero/skip"
    kernel_size, expand_ratio = networks.mbconv_spec(op_name)
    return f"MB{expand_ratio} k{kernel_size}"


def layer_heatmap(probabilities):
    """Returns the layer choices' probabilities as a labelled [1, H, W, 4] heatmap image.

    Args:
      probabilities: [21, 7] array, the softmax of the masked layer logits (rows: layers 1-21,
        columns: `genotype.PROXYLESS_OPS`). The choices the mask rules out ('mic_zero' on a
        channel-changing layer) are left blank rather than shown as a 0.00.
    """
    matrix = np.where(proxyless_genotype.choice_mask(), np.asarray(probabilities, float), np.nan)
    rows = [
        f"layer {plan.index}" + (" (stride 2)" if plan.stride == 2 else "")
        for plan in networks.backbone().layers
    ]
    fig = plotting.figure((7, 9))
    plotting.draw_heatmap(
        fig.subplots(),
        matrix,
        rows,
        [op_label(op) for op in proxyless_genotype.PROXYLESS_OPS],
        "layer choice probabilities (blank: not a choice)",
    )
    fig.tight_layout()
    return plotting.png_image(lambda buffer: fig.savefig(buffer, format="png", dpi=72))


def draw_genotype(genotype, path):
    """Saves a PNG of a ProxylessNAS-space architecture: stem, its 21 layers in order, head.

    Each MBConv layer is a box labelled "MB6 k5", its height growing with the kernel size and
    its width with the expansion ratio; a skipped layer ('mic_zero') is a dashed outline. Layers
    of stride 2 are marked "/2", and a dotted line starts each stage, labelled with the stage's
    output channels at width 1.0 (a width multiplier scales them all). The fixed stem and head
    are grey boxes of one size.

    Args:
      genotype: a `proxyless_genotype.ProxylessGenotype`.
      path: destination PNG file, or a binary file object (TensorBoard images use a buffer).

    Raises:
      ValueError: `genotype` is not a ProxylessNAS genotype.
    """
    from matplotlib import patches

    if not isinstance(genotype, proxyless_genotype.ProxylessGenotype):
        raise ValueError(
            "Invalid value received for argument `genotype`. Expected a ProxylessGenotype. "
            f"Received: genotype={genotype!r}"
        )
    plan = networks.backbone()
    fig = plotting.figure((20, 4.2))
    axes = fig.subplots()
    top = 7 * _BOX_HEIGHT_PER_KERNEL / 2

    def box(x, label, kernel_size, expand_ratio, fill, dashed=False):
        width = expand_ratio * _BOX_WIDTH_PER_EXPANSION
        height = kernel_size * _BOX_HEIGHT_PER_KERNEL
        axes.add_patch(
            patches.FancyBboxPatch(
                (x - width / 2, -height / 2),
                width,
                height,
                boxstyle="round,pad=0.02",
                facecolor=fill,
                edgecolor="gray" if dashed else "black",
                linestyle="--" if dashed else "-",
            )
        )
        axes.text(x, 0, label, ha="center", va="center", rotation=90, fontsize=10)

    fixed = "#e0e0e0"
    box(-2, f"conv k{networks.STEM_KERNEL_SIZE} /2", networks.STEM_KERNEL_SIZE, 6, fixed)
    box(-1, f"MB1 k{networks.STEM_KERNEL_SIZE}", networks.STEM_KERNEL_SIZE, 6, fixed)
    for layer_plan, op in zip(plan.layers, genotype.layers, strict=True):
        x = layer_plan.index
        if op == proxyless_genotype.ZERO_INDEX:
            box(x, "skip", 3, 3, "white", dashed=True)
        else:
            kernel_size, expand_ratio = networks.mbconv_spec(genotype.ops[op])
            label = op_label(genotype.ops[op])
            box(x, label, kernel_size, expand_ratio, _KERNEL_COLORS[kernel_size])
        axes.text(x, -top - 0.25, str(x), ha="center", va="top", fontsize=9)
        if layer_plan.stride == 2:
            axes.text(x, top + 0.1, "/2", ha="center", va="bottom", fontsize=10, weight="bold")
        if layer_plan.channel_change:
            axes.axvline(x - 0.5, color="gray", linestyle=":", linewidth=1)
            axes.text(
                x - 0.4,
                top + 0.55,
                f"{layer_plan.channels} ch",
                ha="left",
                fontsize=9,
                color="dimgray",
            )
    head = proxyless_genotype.NUM_PROXYLESS_LAYERS + 1
    axes.axvline(head - 0.5, color="gray", linestyle=":", linewidth=1)
    box(head, "conv k1", 3, 6, fixed)
    box(head + 1, "pool, FC", 3, 6, fixed)
    skipped = sum(op == proxyless_genotype.ZERO_INDEX for op in genotype.layers)
    axes.set_title(
        f"ProxylessNAS-space architecture: {len(genotype.layers) - skipped} MBConv "
        f"layers, {skipped} skipped (channels at width 1.0)",
        fontsize=12,
    )
    axes.set_xlim(-2.6, head + 1.6)
    axes.set_ylim(-top - 0.7, top + 1.0)
    axes.axis("off")
    fig.tight_layout()
    fig.savefig(path if hasattr(path, "write") else os.fspath(path), format="png", dpi=100)
