r"""Exports the network a launch.train workdir trained as a SavedModel serving uint8 images.

    python -m launch.export --workdir=/tmp/digits_train --output=/tmp/digits_export [--tflite]

The SavedModel's serving_default signature takes `images` (uint8 [N, H, W, 3]: 8x8 digit counts
0..16, 32x32 CIFAR, any-size ImageNet) and returns `probabilities` and `logits`; it loads with
tf.saved_model.load alone. OUTPUT also gets model.keras and genotype.json (and model.tflite).
A missing or unreadable checkpoint is a one-line error and leaves nothing at OUTPUT.
"""

import sys
import time

from absl import app, flags

from launch import common
from unas_tf import export

_WORKDIR = flags.DEFINE_string("workdir", None, "A launch.train workdir.", required=True)
_OUTPUT = flags.DEFINE_string("output", None, "Directory to write the export to.", required=True)
_TFLITE = flags.DEFINE_bool("tflite", False, "Also write a TFLite flatbuffer, model.tflite.")


def main(argv):
    del argv
    common.show_progress_lines()
    start = time.perf_counter()
    try:
        output = export.export_from_workdir(_WORKDIR.value, _OUTPUT.value, tflite=_TFLITE.value)
    except ValueError as error:
        sys.exit(f"export: {error}")
    print(f"SavedModel written to {output} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    app.run(main)
