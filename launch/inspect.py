r"""Prints an evaluation network's size: parameters, multiply-adds and per-cell output shapes.

    python -m launch.inspect --config=configs/eval/cifar10.py --config.genotype=UNAS_CIFAR10
    python -m launch.inspect --config=configs/eval/imagenet.py --json --draw=cells.png
    python -m launch.inspect --config=configs/eval/proxyless_imagenet.py \
        --config.genotype=PROXYLESS_GPU --json

DARTS networks list their cells; ProxylessNAS-space networks list their 21 searchable layers
(a 'mic_zero' layer is absent and keeps its input's shape).

Parameters are trainable weights as the papers count them (no batch-norm moving statistics, no
auxiliary head); multiply-adds are those of convolutions and dense layers for one image at the
config's resolution.
"""

import json
import sys

from absl import app, flags

from launch import common
from unas_tf import eval_networks, genotypes, model_size
from unas_tf.search_spaces import darts_networks, proxyless

_CONFIG = common.define_config_file(
    "configs/eval/cifar10.py",
    "Eval preset (configs/eval/*.py); override keys with "
    "--config.KEY=VALUE, e.g. --config.genotype=path/to/genotype.json.",
)
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object instead of a table.")
_DRAW = flags.DEFINE_string(
    "draw", None, "Also draw the normal and reduction cells to this PNG (DARTS networks only)."
)


def _cells(model):
    cells = [layer for layer in model.layers if isinstance(layer, darts_networks.Cell)]
    return [
        {
            "index": index,
            "type": "reduce" if cell.reduction else "normal",
            "output_shape": list(cell.output.shape[1:]),
        }
        for index, cell in enumerate(cells)
    ]


def _proxyless_layers(model, genotype):
    rows, shape = [], list(model.get_layer("stem_mbconv").output.shape[1:])
    for index, op in enumerate(genotype.layers, start=1):
        if op != proxyless.ZERO_INDEX:
            shape = list(model.get_layer(proxyless.layer_name(index)).output.shape[1:])
        rows.append({"index": index, "op": genotype.ops[op], "output_shape": shape})
    return rows


def describe(config):
    """Returns the JSON-ready description of the network `config` describes."""
    genotype, model = eval_networks.build(config)
    report = {
        "genotype": config.genotype,
        "network": config.network,
        "init_channels": config.init_channels,
        "layers": config.layers,
        "image_size": config.image_size,
        "num_classes": config.num_classes,
        "params": model_size.count_params(model),
        "macs": model_size.count_macs(model, config.image_size),
    }
    if genotype.space == "proxyless":
        report["width_multiplier"] = config.get("width_multiplier", 1.0)
        report["searchable_layers"] = _proxyless_layers(model, genotype)
    else:
        report["cells"] = _cells(model)
    return genotype, report


def _print_table(report):
    if "cells" in report:
        print(
            f"{report['network']} network of {report['genotype']}: C={report['init_channels']}, "
            f"{report['layers']} cells, {report['image_size']}x{report['image_size']} input, "
            f"{report['num_classes']} classes"
        )
    else:
        print(
            f"{report['network']} network of {report['genotype']}: width "
            f"{report['width_multiplier']}, {report['image_size']}x{report['image_size']} input, "
            f"{report['num_classes']} classes"
        )
    print(f"params        {report['params']:>13,}  ({report['params'] / 1e6:.2f}M)")
    print(f"multiply-adds {report['macs']:>13,}  ({report['macs'] / 1e6:.0f}M per image)")
    if "cells" in report:
        print("cell  type    output (H x W x C)")
        for cell in report["cells"]:
            shape = " x ".join(map(str, cell["output_shape"]))
            print(f"{cell['index']:>4}  {cell['type']:<7} {shape}")
    else:
        print("layer  op          output (H x W x C)")
        for layer in report["searchable_layers"]:
            shape = " x ".join(map(str, layer["output_shape"]))
            print(f"{layer['index']:>5}  {layer['op']:<11} {shape}")


def main(argv):
    del argv
    with common.one_line_errors():
        genotype, report = describe(common.load_config(_CONFIG))
    if _DRAW.value:
        if genotype.space != "darts":
            sys.exit(
                f"inspect: --draw: drawing supports DARTS cells only, not the {genotype.space} "
                "space (its layers are listed instead)"
            )
        with common.one_line_errors():
            genotypes.draw_darts(genotype, _DRAW.value)
    if _JSON.value:
        print(json.dumps(report))
        return
    _print_table(report)
    if _DRAW.value:
        print(f"cells drawn to {_DRAW.value}")


if __name__ == "__main__":
    app.run(main)
