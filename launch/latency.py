r"""Measures the inference latency of an evaluation network, or writes a per-choice latency table.

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

    python -m launch.latency --config=configs/search/digits_latency.py --write_table=table.json
    python -m launch.search --config=configs/search/digits_latency.py --workdir=/tmp/dl \
        --config.latency.backend=table:table.json

With --write_table and a search preset, measures a per-choice latency table for that search's
choices with the preset's latency back end (`--config.latency.backend=tflite` for TFLite) on
this machine (unas_tf/latency/table.py: a base architecture, then each selector's choices with
the other selectors fixed, the base latency estimated again from --table_calibration random
architectures measured whole), writes it to PATH, and reports how well its sums predict the
measured latency of --table_architectures random architectures (MAE in ms and R^2). A table
written on a device (a phone, with its own timing) in the same JSON form serves the same way:
`--config.latency.backend=table:PATH` then sums it and times nothing.
"""

import datetime
import json

from absl import app, flags

from launch import common
from unas_tf import eval_networks, retrain_run, search_run
from unas_tf.datasets import base as dataset_base
from unas_tf.latency import backends, measure, table
from unas_tf.search_spaces import base as search_space_base

_CONFIG = common.define_config_file(
    "configs/eval/proxyless_imagenet.py",
    "Eval preset (configs/eval/*.py) with a `latency` section, or with --write_table a search "
    "preset (configs/search/*.py) with one; override keys with "
    "--config.KEY=VALUE, e.g. --config.latency.batch_size=8.",
)
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object instead of a summary.")
_WRITE_TABLE = flags.DEFINE_string(
    "write_table",
    None,
    "Write a per-choice latency table (JSON) for the search preset given as --config to this "
    "path, measured with its latency back end, and report its prediction error.",
)
_TABLE_ARCHITECTURES = flags.DEFINE_integer(
    "table_architectures",
    20,
    "With --write_table: random architectures measured whole to check the table's sums.",
)
_TABLE_CALIBRATION = flags.DEFINE_integer(
    "table_calibration",
    10,
    "With --write_table: other random architectures measured whole to estimate the base "
    "architecture's latency again (unas_tf/latency/table.py); 0 keeps its own measurement.",
)


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


def write_table(config, path, num_architectures, calibration_architectures=10):
    """Measures and writes the latency table of a search preset's choices; returns the report.

    Args:
      config: a search preset with a `latency` section whose back end times (graph, tflite).
      path: where the table's JSON goes.
      num_architectures: random architectures measured whole to check the table's sums.
      calibration_architectures: other random architectures measured whole to estimate its base.

    Raises:
      ValueError: not a latency search preset, a table back end, or a bad setting; the message
        names the key.
    """
    if "space" not in config or "latency" not in config:
        raise ValueError(
            "--write_table: expected a search preset with a `latency` section (e.g. "
            "configs/search/digits_latency.py) as --config"
        )
    if isinstance(num_architectures, bool) or num_architectures < 2:
        raise ValueError(f"--table_architectures: expected at least 2, got {num_architectures}")
    if isinstance(calibration_architectures, bool) or calibration_architectures < 0:
        raise ValueError(
            f"--table_calibration: expected 0 or more, got {calibration_architectures}"
        )
    search_run.validate(config)
    space = search_space_base.of_config(config)
    num_classes = dataset_base.of_config(config).num_classes
    meter = backends.search_meter(config, space, num_classes)
    if isinstance(meter, table.TableMeter):
        raise ValueError(
            "config.latency.backend: --write_table times architectures: expected graph or "
            f"tflite, got {config.latency.backend!r}"
        )
    latency = config.latency
    measured_with = {
        "backend": latency.backend,
        "batch_size": latency.batch_size,
        "image_size": latency.image_size or config.image_size,
        "clock": latency.clock,
        "cpu": measure.cpu_model(),
        "date": datetime.date.today().isoformat(),
    }
    latency_table = table.measure_table(
        space, config, meter, measured_with, calibration_architectures, seed=config.seed
    )
    # A second meter (a new measuring process with latency.separate_process) measures the same
    # architectures again: how far the timing repeats, to read the table's error against.
    repeat_meter = backends.search_meter(config, space, num_classes)
    error = table.prediction_error(
        latency_table,
        space,
        config,
        meter,
        num_architectures,
        seed=config.seed,
        repeat_meter=repeat_meter,
    )
    latency_table.measured_with["prediction_error"] = {
        key: error[key]
        for key in ("architectures", "mae_ms", "bias_ms", "r2", "repeat_mae_ms", "repeat_r2")
    }
    latency_table.save(path)
    return {
        "table": path,
        **latency_table.measured_with,
        "constant_ms": latency_table.constant_ms,
        **error,
        "measured": meter.num_measured + repeat_meter.num_measured,
    }


def main(argv):
    del argv
    if _WRITE_TABLE.value:
        with common.one_line_errors():
            report = write_table(
                common.load_config(_CONFIG),
                _WRITE_TABLE.value,
                _TABLE_ARCHITECTURES.value,
                _TABLE_CALIBRATION.value,
            )
        if _JSON.value:
            print(json.dumps(report))
            return
        print(
            f"latency table of {report['measured']} measurements written to {report['table']} "
            f"({report['backend']}, batch {report['batch_size']}, {report['image_size']}x"
            f"{report['image_size']}, {report['cpu']})"
        )
        print(
            f"base latency {report['constant_ms']:.3f} ms, estimated from "
            f"{report['calibration_architectures']} architectures measured whole (measured "
            f"alone: {report['base_measured_ms']:.3f} ms)"
        )
        print(
            f"its sums against {report['architectures']} other random architectures measured "
            f"whole: MAE {report['mae_ms']:.3f} ms, mean error {report['bias_ms']:+.3f} ms, R^2 "
            f"{report['r2']:.3f}"
        )
        print(
            f"the same architectures measured again by a new meter: MAE "
            f"{report['repeat_mae_ms']:.3f} ms, R^2 {report['repeat_r2']:.3f} (the timing's own "
            "repeatability)"
        )
        return
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
