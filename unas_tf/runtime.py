"""Process-level TensorFlow set-up for launchers, tests and benchmarks.

Importing `unas_tf` never calls these: they change the whole process (environment, loggers,
grappler options), which only a program's own start-up should decide.
"""

import os
import sys
import tempfile


def import_tensorflow_quietly():
    """Imports TensorFlow with its C++ start-up chatter hidden; call before anything imports it.

    TensorFlow 2.21 prints oneDNN and CUDA notices from C++ before its logging is configured, so
    TF_CPP_MIN_LOG_LEVEL alone does not silence them. Standard error is redirected at the file
    descriptor level while TensorFlow loads and probes its devices; if that fails, what it printed
    is replayed so the real error stays visible. Probing devices does not initialise the runtime,
    so callers may still configure logical devices afterwards. Later C++ notices (such as oneDNN's
    int64 fallback) are hidden by TF_CPP_MIN_LOG_LEVEL=3 unless the user sets another level, and
    so are the Python-side INFO lines (checkpoint sharding, strategy set-up) that would otherwise
    join the launchers' progress lines.

    Returns:
      The `tensorflow` module.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved_stderr, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0":
        tf.get_logger().setLevel("WARNING")
    return tf


def lighten_graph_optimisation():
    """Turns off grappler passes that cost a CPU search step's first call more than they give.

    For the rest of a CPU-only process (with a GPU nothing changes: there the layout optimiser
    converts layouts, the remapper fuses and the memory optimiser swaps to host memory):
    - the layout optimiser and the remapper: NHWC already is the CPU layout, and the remapper
      fuses inference and GPU patterns, not a training step's;
    - the memory optimiser: on a CPU it only reschedules gradient sums to save host memory,
      and its cost model is the slowest pass on a search step's graph;
    - the second round of grappler's optimisers, the MLIR (TFG) passes, constant folding and
      the loop optimiser: they change next to nothing in the step's graph after the first
      round's pruning, deduplication and arithmetic and dependency passes.
    Together they halve the time TensorFlow spends optimising a search step before its first
    run, with no slower steps (bench/search_step.py; figures in bench/README.md).

    The memory optimiser, the second round and the TFG passes are not among
    `tf.config.optimizer`'s options: they are set in the eager context's `ConfigProto` (a
    private attribute in TensorFlow 2.21; if a later version drops it, those passes stay on and
    only speed is lost). Not for processes that measure
    latency: the remapper's fusions are part of what a latency measurement measures.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
    from tensorflow.python.eager import context

    if tf.config.list_physical_devices("GPU"):
        return
    eager = context.context()
    if hasattr(eager, "_config"):
        config = config_pb2.ConfigProto()
        if eager._config is not None:
            config.CopyFrom(eager._config)
        rewrite = config.graph_options.rewrite_options
        rewrite.memory_optimization = rewriter_config_pb2.RewriterConfig.NO_MEM_OPT
        rewrite.meta_optimizer_iterations = rewriter_config_pb2.RewriterConfig.ONE
        rewrite.disable_tfg_optimizer = True
        eager._config = config
    # Also makes the runtime rebuild its function-call options from the context's config.
    tf.config.optimizer.set_experimental_options(
        {
            "layout_optimizer": False,
            "remapping": False,
            "constant_folding": False,
            "loop_optimization": False,
        }
    )


def spread_ops_over_cores():
    """One thread per op and as many ops at once as the process has cores, in a CPU-only process.

    A search step is thousands of small independent ops (every candidate op of every node, in
    several forward passes): running them side by side on one thread each beats splitting each
    op over the cores, which TensorFlow does by default (figures in bench/README.md). With a GPU
    nothing changes.

    Raises:
      RuntimeError: TensorFlow's runtime has started, and its thread pools cannot change.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return
    tf.config.threading.set_intra_op_parallelism_threads(1)
    # The cores this process may run on; macOS has no affinity, only the machine's count.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    tf.config.threading.set_inter_op_parallelism_threads(cores)
