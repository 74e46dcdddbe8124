"""Test session set-up: quiet TensorFlow, two logical CPUs before the runtime starts, and the
search's lighter graph optimisation and threading (tests build many graphs; none depends on the
passes it turns off, nor measures latency against a figure).
"""

from unas_tf import runtime

runtime.import_tensorflow_quietly()  # before anything else imports TensorFlow

from tests import testing  # noqa: E402

testing.split_cpu_devices()
runtime.lighten_graph_optimisation()
runtime.spread_ops_over_cores()
