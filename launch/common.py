"""What the launchers share: the --config flag, one-line errors, stopping on signals, logging.

A launcher's failure the user can act on (a bad flag, config file, config value or path; a busy
workdir; a diverged run) is one line on standard error naming what is wrong, and exit status 1.
Ctrl-C and SIGTERM stop a run within a few seconds wherever it is, saying where a rerun resumes.
"""

import contextlib
import os
import pathlib
import runpy
import signal
import sys
import threading

from absl import flags
from ml_collections import config_flags

from unas_tf import runtime

# Every launcher imports this module before any module that imports TensorFlow.
runtime.import_tensorflow_quietly()

from unas_tf import checkpoints, progress  # noqa: E402

# configs/ is installed beside launch/, so presets are found from any working directory.
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent
# How long a signalled run may take to stop by itself (an exception raised in Python) before it
# is ended at once: the main thread cannot take the exception while it is inside TensorFlow's
# C++ (a step's first call optimises its graph for a minute), and ending a run at any point is
# safe, since checkpoints and outputs are written atomically.
STOP_GRACE_S = 2.0


def _exit(message):
    """Exits with status 1 after `message`, prefixed with the launcher's name."""
    sys.exit(f"{pathlib.Path(sys.argv[0]).stem}: {message}")


def fail(message):
    """Exits with status 1 after the one-line `message`, prefixed with the launcher's name."""
    _exit(message)


def _config_argument():
    """The value of --config in sys.argv, or None."""
    arguments = sys.argv[1:]
    for index, argument in enumerate(arguments):
        if argument.startswith("--config="):
            return argument.removeprefix("--config=")
        if argument == "--config" and index + 1 < len(arguments):
            return arguments[index + 1]
    return None


def config_arguments(default):
    """This process's --config and --config.KEY[=VALUE] arguments, to give a child process.

    The preset's path is made absolute (`default`, relative to the package root, when --config
    is absent), so the arguments mean the same in any working directory.
    """
    value = _config_argument() or str(PACKAGE_ROOT / default)
    path, colon, argument = value.partition(":")
    arguments = [f"--config={os.path.abspath(path)}{colon}{argument}"]
    given = sys.argv[1:]
    for index, argument in enumerate(given):
        if argument.startswith("--config."):
            arguments.append(argument)
            following = given[index + 1] if index + 1 < len(given) else "--"
            if "=" not in argument and not following.startswith("--"):  # --config.KEY VALUE
                arguments.append(following)
    return arguments


def _load_preset(value):
    """The ConfigDict of --config=VALUE ("path" or "path:argument"); exits with one line if none."""
    path, _, argument = value.partition(":")
    if not os.path.isfile(path):
        _exit(f"--config={value}: no such file")
    try:
        preset = runpy.run_path(path)
        return preset["get_config"](*([argument] if argument else []))
    except SyntaxError as error:
        _exit(f"--config={value}: line {error.lineno}: {error.msg}")
    except KeyError:
        _exit(f"--config={value}: defines no get_config()")
    except Exception as error:  # the preset's own code failed: say how, in one line
        _exit(f"--config={value}: {type(error).__name__}: {error}")


def _keys_summary(config, prefix=""):
    """ "KEY=VALUE" of every leaf key of a preset, nested keys dotted, for --help."""
    items = []
    for key, value in sorted(config.items()):
        if hasattr(value, "items"):
            items.extend(_keys_summary(value, f"{prefix}{key}."))
        else:
            items.append(f"{prefix}{key}={value!r}")
    return items


def define_config_file(default, help_string):
    """Defines --config (a preset file) whose --config.KEY=VALUE overrides are checked at once.

    A missing, unparsable or failing preset file, and a KEY the preset lacks, are one-line errors
    with exit status 1 (ml_collections would raise them deep inside flag parsing). The flag is
    listed by the launcher's --help with every key of the preset and its value.

    Args:
      default: the default preset, relative to the package root (e.g. "configs/search/x.py").
      help_string: the flag's help.

    Returns:
      The flag holder; `load_config(holder)` gives the resolved ConfigDict.
    """
    value = _config_argument()
    preset = _load_preset(value or str(PACKAGE_ROOT / default))
    shown = value or default
    help_string += f" Keys of {shown}: " + ", ".join(_keys_summary(preset)) + "."
    try:
        holder = config_flags.DEFINE_config_file("config", str(PACKAGE_ROOT / default), help_string)
    except (AttributeError, KeyError) as error:
        # The key arrives quoted, and sometimes wrapped in a KeyError inside an AttributeError.
        while error.args and isinstance(error.args[0], BaseException):
            error = error.args[0]
        key = str(error.args[0] if error.args else error).strip("'\"")
        overrides = [arg for arg in sys.argv[1:] if arg.startswith("--config.")]
        named = f"'{key}'" if " " not in key else f"({key})"
        _exit(f"unknown config key {named} in {' '.join(overrides)}")
    # --help lists the key flags of the launcher's own module: make --config one of them.
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS["config"])
    return holder


def load_config(holder):
    """The resolved ConfigDict of a `define_config_file` flag; a load failure is one line."""
    try:
        config = holder.value
        config.keys()  # a preset that failed to load raises on first use
    except Exception as error:
        _exit(f"--config: {str(error).strip().splitlines()[0]}")
    return config


def end_process(status=0):
    """Ends the process at once, its output flushed, without the interpreter's teardown.

    With a run's traced functions, tf.data iterators and variables alive, the teardown takes
    tens of seconds after the last line (45 s after the default search on a 2-core CPU) with
    nothing left to write: checkpoints and JSON files are written whole, and `runs.start` has
    flushed the summaries. Launchers call it last, and on a signal.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `signum` says which."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals(after_stop):
    """Makes SIGINT and SIGTERM stop the block within `STOP_GRACE_S` seconds, with a message.

    The signal raises `Interrupted` in the main thread; once the block's clean-up has run, the
    message is printed and the process ends (exit status 128 + the signal's number) without the
    interpreter's teardown. Where the exception cannot be raised in time (the
    thread is inside TensorFlow's C++), a watcher thread, woken through the signal module's
    wake-up file descriptor, prints the same message and ends the process.

    Args:
      after_stop: () -> str, what the user should know after the stop (where a rerun resumes);
        called once the signal has arrived.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    finished = threading.Event()

    def stop(signum):
        """Prints why the run stopped and where a rerun resumes, then ends the process at once."""
        name = signal.Signals(signum).name
        stem = pathlib.Path(sys.argv[0]).stem
        sys.stderr.write(f"{stem}: stopped by {name}; {after_stop()}\n")
        end_process(128 + signum)

    def watch():
        with os.fdopen(read_end, "rb", buffering=0) as wakeups:
            while byte := wakeups.read(1):
                if byte[0] in (signal.SIGINT, signal.SIGTERM) and not finished.wait(STOP_GRACE_S):
                    stop(byte[0])

    def interrupt(signum, frame):
        del frame
        raise Interrupted(signum)

    previous_wakeup = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    previous = {
        signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    threading.Thread(target=watch, name="stop-on-signals", daemon=True).start()
    try:
        yield
    except Interrupted as interrupted:
        finished.set()
        stop(interrupted.signum)  # the block's own clean-up has run
    finally:
        finished.set()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_wakeup)
        os.close(write_end)  # the watcher reads end-of-file and returns


def resumes_from(workdir):
    """An `after_stop` for runs that resume: which checkpoint a rerun starts from."""
    return lambda: f"rerun the same command to resume {checkpoints.describe_resume_point(workdir)}"


@contextlib.contextmanager
def one_line_errors(*errors):
    """Turns ValueError, OSError and `errors` raised in the block into one line and exit 1.

    ValueError is how the library reports bad input (config keys, paths, data sets not prepared,
    busy workdirs); an OSError is named by its path. Running out of memory (TensorFlow's
    ResourceExhaustedError, Python's MemoryError) is the input's size too: one line naming the
    keys that set it. Anything else keeps its traceback: that is a bug to report.
    """
    import tensorflow as tf  # every launcher has imported it by now

    try:
        yield
    except (ValueError, *errors) as error:
        _exit(error)
    except (tf.errors.ResourceExhaustedError, MemoryError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        _exit(f"out of memory ({first_line}); lower config.batch_size or config.image_size")
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        _exit(f"{where}{error.strerror or error}")


def show_progress_lines():
    """Shows the progress lines (absl INFO) for the rest of the process (`progress.show_lines`)."""
    progress.show_lines()
