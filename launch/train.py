r"""Retrains an architecture from scratch and exports it; rerunning on the same workdir resumes.

    python -m launch.train --workdir=/tmp/digits_train                   # embedded digits
    python -m launch.train --config=configs/eval/cifar10.py --workdir=/tmp/c10_train \
        --config.genotype=/tmp/unas_c10/genotype.json

--config.genotype takes a published name (UNAS_CIFAR10, ...), a genotype.json path or random:SEED;
--config.dataset a built-in name or a user's images (folder:PATH, tfds:NAME,
python:MODULE:FUNCTION; README "Your own images"). Writes config.json, genotype.json,
dataset.json, checkpoints/, tensorboard/ and metrics.json (test top-1 and top-5, parameters,
multiply-adds) into the workdir, then the SavedModel into WORKDIR/export
(unless --config.export=False).
"""

import os
import time

from absl import app, flags

from launch import common
from unas_tf import export_lib, retrain_run, runs, strategies

_CONFIG = common.define_config_file(
    "configs/eval/digits.py",
    "Eval preset (configs/eval/*.py); override keys with --config.KEY=VALUE.",
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of the run's outputs.", required=True)


def main(argv):
    del argv
    common.show_progress_lines()
    config, workdir = common.load_config(_CONFIG), _WORKDIR.value
    start = time.perf_counter()
    with common.stop_on_signals(common.resumes_from(workdir)):
        with common.one_line_errors(runs.Diverged):
            # DatasetNotPreparedError is a ValueError whose message says how to prepare the data.
            metrics = retrain_run.run_training(config, workdir)
            exported = None
            if config.export and strategies.is_chief_process():
                exported = export_lib.export_from_workdir(
                    workdir, os.path.join(workdir, retrain_run.EXPORT_DIR)
                )
    print(
        f"{config.genotype} on {config.dataset}: test top-1 {metrics['top1']:.4f}, "
        f"top-5 {metrics['top5']:.4f} ({metrics['test_examples']} examples); "
        f"{metrics['params']:,} params, {metrics['macs']:,} multiply-adds; "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(f"Metrics written to {os.path.join(workdir, retrain_run.METRICS_FILE)}")
    if exported:
        print(f"SavedModel written to {exported}")
    common.end_process()


if __name__ == "__main__":
    app.run(main)
