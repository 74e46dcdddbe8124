r"""Exports the network a launch.train workdir trained as a SavedModel serving uint8 images.

    python -m launch.export --workdir=/tmp/digits_train --output=/tmp/digits_export [--tflite]

The SavedModel's serving_default signature takes `images` (uint8 [N, H, W, 3]: 8x8 digit counts
0..16, 32x32 CIFAR, any-size ImageNet; a user's images at the run's image size, C = 1 for grey
ones) and returns `probabilities` and `logits`, and `classes` where the data set names its
classes (folder names, tfds label names); it loads with tf.saved_model.load alone. OUTPUT also
gets model.keras and genotype.json (and model.tflite). OUTPUT must be new, empty or a previous
export of this tool (which is then replaced whole), and must not be, hold or lie inside WORKDIR
(WORKDIR/export, launch.train's own, excepted). A damaged newest checkpoint is skipped for the
one before; with none that restores, a one-line error, and nothing is written at OUTPUT.
"""

import time

from absl import app, flags

from launch import common
from unas_tf import export_lib

_WORKDIR = flags.DEFINE_string("workdir", None, "A launch.train workdir.", required=True)
_OUTPUT = flags.DEFINE_string("output", None, "Directory to write the export to.", required=True)
_TFLITE = flags.DEFINE_bool("tflite", False, "Also write a TFLite flatbuffer, model.tflite.")


def main(argv):
    del argv
    common.show_progress_lines()
    start = time.perf_counter()
    with common.stop_on_signals(lambda: f"nothing was written to {_OUTPUT.value}"):
        with common.one_line_errors():
            output = export_lib.export_from_workdir(
                _WORKDIR.value, _OUTPUT.value, tflite=_TFLITE.value
            )
    print(f"SavedModel written to {output} in {time.perf_counter() - start:.0f} s")
    common.end_process()


if __name__ == "__main__":
    app.run(main)
