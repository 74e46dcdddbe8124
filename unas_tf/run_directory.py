"""What searches and retraining runs share about their working directory.

A run's config is saved in the workdir as config.json; rerunning with the same config resumes,
and a different config is refused before anything is written. JSON outputs are replaced
atomically, so a killed run never leaves half a file.
"""

import json
import os

CONFIG_FILE = "config.json"


def refuse_another_config(config, workdir, what):
    """Raises if `workdir` holds a run of another config, naming the keys that differ.

    Args:
      config: the run's ConfigDict.
      workdir: the run's directory (it need not exist).
      what: the kind of run, for the message ("search", "training run").

    Raises:
      ValueError: config.json in `workdir` differs from `config`.
    """
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        return
    with open(path) as file:
        saved = json.load(file)
    current = json.loads(config.to_json())
    differing = sorted(
        key for key in set(saved) | set(current) if saved.get(key) != current.get(key)
    )
    if differing:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in differing)
        raise ValueError(
            f"workdir {workdir} holds a {what} with another config ({details}); "
            "use a new --workdir or the same config to resume"
        )


def write_json_atomically(path, value):
    """Writes `value` as indented JSON to a temporary sibling that then replaces `path`."""
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(value, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)


def save_config(config, workdir):
    """Writes the resolved config as the workdir's config.json."""
    write_json_atomically(os.path.join(workdir, CONFIG_FILE), json.loads(config.to_json()))
