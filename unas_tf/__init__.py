"""unas_tf: UNAS architecture search (Vahdat et al., CVPR 2020) in TensorFlow 2 / Keras 3.

The public API, for notebooks and scripts (the launchers in launch/ call the same functions):

    import unas_tf
    from configs.search import digits

    config = digits.get_config()
    genotype = unas_tf.search(config, "/tmp/search")      # writes /tmp/search/genotype.json

Importing the package changes nothing in the caller's process: no environment variables, no
logger levels, no redirected file descriptors; TensorFlow itself is imported by the first call
that needs it. Launchers, tests and benchmarks hide TensorFlow's start-up notices themselves
(`runtime.import_tensorflow_quietly`).

`search`, `retrain` and `export` print the launchers' progress lines on standard error while
they run; `show_progress=False`, or an absl verbosity of the caller's own (e.g.
`absl.logging.set_verbosity(absl.logging.WARNING)`), silences them. They leave TensorFlow's
process-wide settings alone; `launch.search` tunes them for a CPU search at its start-up, and a
notebook opts in the same way before any TensorFlow work: `runtime.spread_ops_over_cores()` and
`runtime.lighten_graph_optimisation()` (from `unas_tf`), for every later graph of the process.

`search`, `retrain` and `export` are what the launchers `launch.search`, `launch.train` and
`launch.export` call. No submodule shares a name with them: importing `unas_tf.NAME` sets the
package attribute NAME to the submodule, replacing a function of that name. Hence the module
names `search_run`, `retrain_run` and `export_lib`.
"""

import importlib


def _module(name):
    """Imports `unas_tf.NAME` on first use, so that importing the package stays cheap."""
    return importlib.import_module(f"{__name__}.{name}")


def search(config, workdir, show_progress=True):
    """Runs (or resumes) a UNAS search; returns the final genotype (`search_run.run_search`).

    Args:
      config: a search preset's ConfigDict (configs/search/*.py `get_config()`), possibly
        overridden.
      workdir: directory of the run's outputs (genotype.json, config.json, checkpoints/,
        tensorboard/); created if missing. Calling again with the same workdir resumes.
      show_progress: print progress lines on standard error (`progress.shown_during`).

    Returns:
      The argmax genotype at the end of the search.
    """
    with _module("progress").shown_during(show_progress):
        return _module("search_run").run_search(config, workdir)


def retrain(config, workdir, show_progress=True):
    """Retrains an evaluation network; returns its metrics (`retrain_run.run_training`).

    Args:
      config: an eval preset's ConfigDict (configs/eval/*.py `get_config()`); its `genotype`
        is a published name, a genotype.json path or "random:SEED".
      workdir: directory of the run's outputs (metrics.json, checkpoints/, tensorboard/);
        created if missing. Calling again with the same workdir resumes.
      show_progress: print progress lines on standard error (`progress.shown_during`).

    Returns:
      The metrics.json dict (test top-1 / top-5, params, multiply-adds).
    """
    with _module("progress").shown_during(show_progress):
        return _module("retrain_run").run_training(config, workdir)


def export(workdir, output, tflite=False, show_progress=True):
    """Exports a retrained network as a SavedModel (`export_lib.export_from_workdir`).

    Args:
      workdir: the workdir of a finished (or stopped) `retrain`.
      output: the export directory: new, empty, or a previous export, which is replaced.
      tflite: also write model.tflite.
      show_progress: print progress lines on standard error (`progress.shown_during`).

    Returns:
      The export directory.
    """
    with _module("progress").shown_during(show_progress):
        return _module("export_lib").export_from_workdir(workdir, output, tflite=tflite)


def load_genotype(name_or_path):
    """A published architecture by name (`published_genotypes()`) or a genotype.json file."""
    return _module("genotypes").load(name_or_path)


def save_genotype(genotype, path):
    """Writes a genotype as JSON, atomically (`genotypes.save`)."""
    _module("genotypes").save(genotype, path)


def published_genotypes():
    """The names `load_genotype` accepts, e.g. "UNAS_CIFAR10" (`genotypes.published_names`)."""
    return _module("genotypes").published_names()
