r"""Measures the inference latency of an evaluation network on this machine's default device.

    python -m launch.latency --config=configs/eval/proxyless_imagenet.py \
        --config.genotype=UNAS_PROXYLESS --json
    python -m launch.latency --config=configs/eval/proxyless_imagenet.py \
        --config.genotype=random:3 --config.width_multiplier=0.25 --config.image_size=64 \
        --config.latency.batch_size=8 --config.latency.repeats=30

The network is the plain Keras model of the genotype (as `launch.inspect` builds it), its
inference compiled with `tf.function` (`--config.latency.jit_compile=True` for XLA); after
`latency.warmup_runs` untimed calls, `latency.repeats` calls on a batch of
`latency.batch_size` images are timed. Prints the median (the latency) and the interquartile
range (the noise), in milliseconds per batch. UNAS Sec. 5 uses batch 32 on a V100.
"""

import json

from absl import app, flags

from launch import common
from unas_tf import eval_networks, retrain_run
from unas_tf.latency import measure

_CONFIG = common.define_config_file(
    "configs/eval/proxyless_imagenet.py",
    "Eval preset (configs/eval/*.py) with a `latency` section; override keys with "
    "--config.KEY=VALUE, e.g. --config.latency.batch_size=8.",
)
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object instead of a summary.")


def run(config):
    """Measures the network `config` describes; returns the JSON-ready report.

    Raises:
      ValueError: a bad setting or genotype; the message names the config key.
    """
    if "latency" not in config:
        raise ValueError(
            "config.latency: missing; the preset needs a `latency` section (see "
            "configs/eval/proxyless_imagenet.py)"
        )
    retrain_run.validate(config)  # every key of the eval preset, the genotype among them
    genotype = eval_networks.config_genotype(config)
    network_config = config.copy_and_resolve_references()
    # Latency is that of inference: without a training-only auxiliary head (DARTS networks).
    with network_config.unlocked():
        network_config.auxiliary = False
    meter = measure.meter_from_config(
        config, lambda g: eval_networks.build_network(network_config, g)
    )
    measurement = meter.measure(genotype)
    return {
        "genotype": config.genotype,
        "network": config.network,
        "image_size": config.image_size,
        "width_multiplier": config.width_multiplier,
        "warmup_runs": meter.warmup_runs,
        "repeats": meter.repeats,
        "runs_per_repeat": meter.runs_per_repeat,
        **measurement.as_dict(),
    }


def main(argv):
    del argv
    with common.one_line_errors():
        report = run(common.load_config(_CONFIG))
    if _JSON.value:
        print(json.dumps(report))
        return
    print(
        f"{report['network']} network of {report['genotype']} on {report['device']}: batch "
        f"{report['batch_size']}, {report['image_size']}x{report['image_size']} input, "
        f"jit_compile={report['jit_compile']}"
    )
    print(
        f"latency {report['median_ms']:.3f} ms per batch (median of {report['repeats']}), "
        f"interquartile range {report['iqr_ms']:.3f} ms ({100 * report['relative_iqr']:.1f}%)"
    )


if __name__ == "__main__":
    app.run(main)
