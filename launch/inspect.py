r"""Prints an evaluation network's size: parameters, multiply-adds and per-cell output shapes.

    python -m launch.inspect --config=configs/eval/cifar10.py --config.genotype=UNAS_CIFAR10
    python -m launch.inspect --config=configs/eval/imagenet.py --json --draw=cells.png

Parameters are trainable weights as the papers count them (no batch-norm moving statistics, no
auxiliary head); multiply-adds are those of convolutions and dense layers for one image at the
config's resolution.
"""

import json
import sys

from absl import app, flags

from launch import common
from unas_tf import eval_networks, genotypes, model_size
from unas_tf.search_spaces import darts_networks

_CONFIG = common.define_config_file(
    "configs/eval/cifar10.py",
    "Eval preset (configs/eval/*.py); override keys with "
    "--config.KEY=VALUE, e.g. --config.genotype=path/to/genotype.json.",
)
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object instead of a table.")
_DRAW = flags.DEFINE_string("draw", None, "Also draw the normal and reduction cells to this PNG.")


def describe(config):
    """Returns the JSON-ready description of the network `config` describes."""
    genotype, model = eval_networks.build(config)
    cells = [layer for layer in model.layers if isinstance(layer, darts_networks.Cell)]
    return genotype, {
        "genotype": config.genotype,
        "network": config.network,
        "init_channels": config.init_channels,
        "layers": config.layers,
        "image_size": config.image_size,
        "num_classes": config.num_classes,
        "params": model_size.count_params(model),
        "macs": model_size.count_macs(model, config.image_size),
        "cells": [
            {
                "index": index,
                "type": "reduce" if cell.reduction else "normal",
                "output_shape": list(cell.output.shape[1:]),
            }
            for index, cell in enumerate(cells)
        ],
    }


def main(argv):
    del argv
    try:
        genotype, report = describe(_CONFIG.value)
    except ValueError as error:
        sys.exit(f"inspect: {error}")
    if _DRAW.value:
        genotypes.draw_darts(genotype, _DRAW.value)
    if _JSON.value:
        print(json.dumps(report))
        return
    print(
        f"{report['network']} network of {report['genotype']}: C={report['init_channels']}, "
        f"{report['layers']} cells, {report['image_size']}x{report['image_size']} input, "
        f"{report['num_classes']} classes"
    )
    print(f"params        {report['params']:>13,}  ({report['params'] / 1e6:.2f}M)")
    print(f"multiply-adds {report['macs']:>13,}  ({report['macs'] / 1e6:.0f}M per image)")
    print("cell  type    output (H x W x C)")
    for cell in report["cells"]:
        print(f"{cell['index']:>4}  {cell['type']:<7} {' x '.join(map(str, cell['output_shape']))}")
    if _DRAW.value:
        print(f"cells drawn to {_DRAW.value}")


if __name__ == "__main__":
    app.run(main)
