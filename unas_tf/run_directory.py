"""What searches and retraining runs share about their working directory.

A run's config is saved in the workdir as config.json; rerunning with the same config resumes,
and a different config is refused before anything is written. One process at a time works in a
workdir: `lock` holds an advisory lock on WORKDIR/.lock for the run's life, which the operating
system releases when the process ends in any way. JSON outputs are replaced atomically through
uniquely named temporary files, so a killed run never leaves half a file.
"""

import contextlib
import fcntl
import json
import os
import tempfile

import ml_collections

CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"


class WorkdirBusy(ValueError):
    """Another process holds the workdir's lock."""


def current_umask():
    """The process's file-creation mask (reading it means setting it, so it is set back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(directory, what):
    """Creates `directory` if missing and checks that files can be created in it.

    Args:
      directory: the path.
      what: the flag or key it came from, for the message ("workdir", "output").

    Raises:
      ValueError: it is not a directory, or cannot be created or written; the message names
        `what`, the path and the reason.
    """
    try:
        os.makedirs(directory, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError | NotADirectoryError):
            reason = "it, or a directory above it, exists and is not a directory"
        raise ValueError(f"{what}: cannot write to {directory} ({reason})") from error


def read_json_object(path, what):
    """The JSON object in the file at `path`, or None if there is no such file.

    Args:
      path: the file.
      what: what the file holds, for the error, e.g. "a run's config".

    Raises:
      ValueError: the file is unreadable or not a JSON object; the message names it.
    """
    if not os.path.exists(path):
        return None
    try:
        with open(path) as file:
            saved = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as {what} ({error})") from error
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: cannot be read as {what} (not a JSON object)")
    return saved


def read_config(workdir):
    """The ConfigDict saved in `workdir`'s config.json, or None if there is none.

    Raises:
      ValueError: config.json is unreadable or not a JSON object; the message names it.
    """
    saved = read_json_object(os.path.join(workdir, CONFIG_FILE), "a run's config")
    return None if saved is None else ml_collections.ConfigDict(saved)


# Keys that search configs gained after runs were saved without them, with the value those runs
# computed with: a saved config that lacks one resumes if the current config keeps that value.
KEYS_ADDED_LATER = {
    "gap_form": "per_pair",
    "weight_sample": "relaxed",
    "zero_init_residual": False,
}


def refuse_another_config(config, workdir, what):
    """Raises if `workdir` holds a run of another config, naming the keys that differ.

    A key of `KEYS_ADDED_LATER` that the saved config lacks counts as its value there, so runs
    saved before the key existed resume under a config that keeps what they computed.

    Args:
      config: the run's ConfigDict.
      workdir: the run's directory (it need not exist).
      what: the kind of run, for the message ("search", "training run").

    Raises:
      ValueError: config.json in `workdir` differs from `config`, or cannot be read.
    """
    saved = read_config(workdir)
    if saved is None:
        return
    saved, current = json.loads(saved.to_json()), json.loads(config.to_json())
    saved = {**{k: v for k, v in KEYS_ADDED_LATER.items() if k in current}, **saved}
    differing = sorted(
        key for key in set(saved) | set(current) if saved.get(key) != current.get(key)
    )
    if differing:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in differing)
        raise ValueError(
            f"workdir {workdir} holds a {what} with another config ({details}); "
            "use a new --workdir or the same config to resume"
        )


@contextlib.contextmanager
def lock(directory):
    """Holds `directory`/.lock (created with the directory) while the block runs.

    The lock file keeps the holder's pid, for the message a second process gets. A directory
    this call created is removed again if the block fails before writing anything into it, so
    a run refused late (a data set's class count, say) leaves no trace.

    Raises:
      WorkdirBusy: another process holds it; the message names the holder's pid.
      ValueError: `directory` cannot be created or written (`check_writable`).
    """
    created = not os.path.exists(directory)
    check_writable(directory, "workdir")
    path = os.path.join(directory, LOCK_FILE)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            raise WorkdirBusy(
                f"workdir {directory} is in use by process {holder} (it holds {path}); wait "
                "for it to end or use another --workdir"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        except BaseException:
            if created and os.listdir(directory) == [LOCK_FILE]:
                os.remove(path)
                os.rmdir(directory)
            raise
    finally:
        os.close(descriptor)  # releases the lock


def write_text_atomically(path, text):
    """Writes `text` to a new temporary sibling that then replaces `path`.

    A crash mid-write leaves the old file or the new one, never half of one. The temporary file
    has a unique name and is created exclusively, so it never follows a symbolic link planted
    at a predictable name and two writers never share it; it gets the permissions an ordinary
    new file gets (mkstemp's are owner-only), since outputs are read by other tools and users.
    """
    directory, name = os.path.split(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o666 & ~current_umask())
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def write_json_atomically(path, value):
    """Writes `value` as indented JSON, atomically (`write_text_atomically`)."""
    write_text_atomically(path, json.dumps(value, indent=2) + "\n")


def save_config(config, workdir):
    """Writes the resolved config as the workdir's config.json."""
    write_json_atomically(os.path.join(workdir, CONFIG_FILE), json.loads(config.to_json()))
