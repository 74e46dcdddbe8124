"""TFLite latency: a network converted to TFLite and timed in the TFLite interpreter (CPU).

This is the form `launch.export --tflite` ships (float32, the converter's default settings);
the export converts the serving SavedModel, this the network's inference function at the timed
batch shape, so that neither times the other's preprocessing. The interpreter runs on the CPU
with XNNPACK, TFLite's default CPU delegate, with `threads` threads. Converting takes seconds
(about 8 s for a 3-cell DARTS network on a 2-core CPU, against under a second to time it), so
each architecture is converted once: measurements are cached by genotype as the graph meter's.

TensorFlow 2.21's `tf.lite.Interpreter` warns that it is deprecated in favour of the
`ai_edge_litert` package's `Interpreter`, which has the same API; it is the interpreter
TensorFlow installs, so this module uses it and silences that warning rather than adding a
dependency.
"""

import warnings

import tensorflow as tf

from unas_tf.latency import measure

DEVICE = "tflite:CPU"
_DEPRECATION = "tf.lite.Interpreter is deprecated"


class TfliteMeter(measure.LatencyMeter):
    """A `measure.LatencyMeter` that times the TFLite form of each network.

    Args:
      build_model: as for `measure.LatencyMeter`.
      threads: the interpreter's threads; 0 for TFLite's default.
      **settings: the other `measure.LatencyMeter` arguments; `jit_compile` must be False and
        `device` None (the interpreter runs on the CPU).

    Raises:
      ValueError: a bad setting.
    """

    def __init__(self, build_model, threads=0, **settings):
        super().__init__(build_model, **settings)
        if self.jit_compile or self.device:
            raise ValueError(
                "Invalid value received for argument `jit_compile` or `device`. Expected False "
                "and None: the TFLite interpreter runs on the CPU. Received: "
                f"jit_compile={self.jit_compile}, device={self.device!r}"
            )
        if isinstance(threads, bool) or not (isinstance(threads, int) and threads >= 0):
            raise ValueError(
                "Invalid value received for argument `threads`. Expected an integer >= 0. "
                f"Received: threads={threads!r}"
            )
        self.threads = threads

    def _inference(self, model, images):
        """Converts `model`'s inference at `images`' shape; returns a call of the interpreter."""

        @tf.function
        def infer(images):
            return model(images, training=False)

        concrete = infer.get_concrete_function(tf.TensorSpec(images.shape, images.dtype))
        flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model).convert()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=f".*{_DEPRECATION}")
            interpreter = tf.lite.Interpreter(
                model_content=flatbuffer, num_threads=self.threads or None
            )
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images.numpy())

        def run():
            interpreter.invoke()
            return DEVICE

        return run
