"""Test session set-up: quiet TensorFlow, and two logical CPUs before the runtime starts."""

from unas_tf import runtime

runtime.import_tensorflow_quietly()  # before anything else imports TensorFlow

from tests import testing  # noqa: E402

testing.split_cpu_devices()
