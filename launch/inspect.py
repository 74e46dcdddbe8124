r"""Prints an evaluation network's size: parameters, multiply-adds and per-cell output shapes.

    python -m launch.inspect --config=configs/eval/cifar10.py --config.genotype=UNAS_CIFAR10
    python -m launch.inspect --config=configs/eval/imagenet.py --json --draw=cells.png
    python -m launch.inspect --config=configs/eval/proxyless_imagenet.py \
        --config.genotype=PROXYLESS_GPU --draw=layers.png

DARTS networks list their cells; ProxylessNAS-space networks list their 21 searchable layers
(a 'mic_zero' layer is absent and keeps its input's shape). `--draw` asks the genotype's search
space for its drawing: the normal and reduction cells, or the sequence of layers.

Parameters are trainable weights as the papers count them (no batch-norm moving statistics, no
auxiliary head); multiply-adds are those of convolutions and dense layers for one image at the
config's resolution.
"""

import json

from absl import app, flags

from launch import common
from unas_tf import eval_networks, model_size
from unas_tf.search_spaces import base as search_space_base

_CONFIG = common.define_config_file(
    "configs/eval/cifar10.py",
    "Eval preset (configs/eval/*.py); override keys with "
    "--config.KEY=VALUE, e.g. --config.genotype=path/to/genotype.json.",
)
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object instead of a table.")
_DRAW = flags.DEFINE_string(
    "draw",
    None,
    "Also draw the architecture to this PNG: the DARTS cells, or the ProxylessNAS layers.",
)


def describe(config):
    """Returns the JSON-ready description of the network `config` describes."""
    config = eval_networks.with_num_classes(config)  # 0: the data set's
    genotype, model = eval_networks.build(config)
    report = {
        "genotype": config.genotype,
        "network": config.network,
        "image_size": config.image_size,
        "num_classes": config.num_classes,
        "params": model_size.count_params(model),
        "macs": model_size.count_macs(model, config.image_size),
    }
    report.update(
        search_space_base.for_network(config.network).network_report(model, genotype, config)
    )
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
        with common.one_line_errors():
            try:
                search_space_base.get(genotype.space).draw(genotype, _DRAW.value)
            except ValueError as error:
                raise ValueError(f"--draw: {error}") from None
    if _JSON.value:
        print(json.dumps(report))
        return
    _print_table(report)
    if _DRAW.value:
        print(f"architecture drawn to {_DRAW.value}")


if __name__ == "__main__":
    app.run(main)
