"""What the launchers share: the --config flag with one-line errors, and their logging."""

import importlib.util
import os
import sys

from absl import logging
from ml_collections import config_flags

# Found without importing TensorFlow, which must first be imported quietly by unas_tf.
_TENSORFLOW_DIR = importlib.util.find_spec("tensorflow").submodule_search_locations[0]


def define_config_file(default, help_string):
    """Defines --config (a preset file) whose --config.KEY=VALUE overrides are checked at once.

    ml_collections applies the overrides in sys.argv while the flag is defined, and a KEY the
    preset lacks raises deep inside it; this turns that into a one-line error and exit status 1.

    Returns:
      The flag holder; `.value` is the resolved ConfigDict.
    """
    try:
        return config_flags.DEFINE_config_file("config", default, help_string)
    except (AttributeError, KeyError) as error:
        overrides = [arg for arg in sys.argv[1:] if arg.startswith("--config.")]
        sys.exit(f"{sys.argv[0]}: unknown config key {error} in {' '.join(overrides)}")


def show_progress_lines():
    """Shows INFO logging (the launchers' progress lines) without TensorFlow's own INFO lines.

    TensorFlow logs through absl too (e.g. a line per checkpoint save); those are dropped unless
    TF_CPP_MIN_LOG_LEVEL=0 asks for TensorFlow's logging.
    """
    logging.set_verbosity(logging.INFO)
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "0":
        logging.get_absl_handler().addFilter(
            lambda record: not record.pathname.startswith(_TENSORFLOW_DIR)
        )
