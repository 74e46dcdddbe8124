r"""Runs a UNAS architecture search; rerunning the same command on the same workdir resumes it.

    python -m launch.search --workdir=/tmp/unas_digits                   # embedded digits
    python -m launch.search --config=configs/search/cifar10.py --workdir=/tmp/unas_c10
    python -m launch.search --workdir=/tmp/mine --config.dataset=folder:/data/photos  # yours

Writes genotype.json (the argmax architecture, each epoch and at the end), config.json,
dataset.json, checkpoints/ and tensorboard/ into the workdir.
"""

from absl import app, flags

from launch import common
from unas_tf import runs, runtime, search_run
from unas_tf.search_spaces import base as search_space_base

_CONFIG = common.define_config_file(
    "configs/search/digits.py",
    "Search preset (configs/search/*.py); override keys with --config.KEY=VALUE.",
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of the run's outputs.", required=True)


def main(argv):
    del argv
    common.show_progress_lines()
    config, workdir = common.load_config(_CONFIG), _WORKDIR.value
    with common.stop_on_signals(common.resumes_from(workdir)):
        with common.one_line_errors(runs.Diverged):
            # DatasetNotPreparedError is a ValueError whose message says how to prepare the data.
            # Process-wide settings, so the launcher's own: the library leaves them alone. Not
            # where latency is measured, with TF's own threading and graph passes.
            if "latency" not in config:
                runtime.spread_ops_over_cores()
                runtime.lighten_graph_optimisation()
            genotype = search_run.run_search(config, workdir)
    print(f"Searched architecture written to {workdir}/genotype.json")
    print("\n".join(search_space_base.get(genotype.space).describe(genotype)))
    common.end_process()


if __name__ == "__main__":
    app.run(main)
