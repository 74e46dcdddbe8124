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


def skip_idle_graph_passes():
    """Turns off grappler's layout optimiser and remapper for the rest of a CPU-only process.

    On a CPU search step's training graph they rewrite nothing (NHWC already is the CPU layout;
    the remapper fuses inference and GPU patterns) yet take a sizeable part of the time
    TensorFlow spends optimising the step before its first run (bench/search_step.py; figures in
    bench/README.md). With a GPU they stay on:
    there they convert layouts and fuse. Not for processes that measure latency: the
    remapper's fusions are part of what a latency measurement measures.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return
    tf.config.optimizer.set_experimental_options({"layout_optimizer": False, "remapping": False})
