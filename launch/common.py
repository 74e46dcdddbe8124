"""What the launchers share: the --config flag, with bad overrides reported in one line."""

import sys

from ml_collections import config_flags


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
