"""Test session set-up: quiet TensorFlow, and two logical CPUs before the runtime starts."""

import unas_tf  # noqa: F401  (imports TensorFlow quietly before anything else does)
from tests import testing

testing.split_cpu_devices()
