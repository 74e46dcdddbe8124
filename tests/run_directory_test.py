"""The workdir: one process at a time, atomic JSON through unique temporary files, clear errors."""

import json
import os
import subprocess
import sys

import ml_collections
import pytest

from unas_tf import run_directory

# Holds the lock of argv[1] until its standard input closes.
HOLD_LOCK = """
import sys
from unas_tf import run_directory

with run_directory.lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_holder_of_a_workdir_is_refused_naming_the_first(tmp_path):
    workdir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(run_directory.WorkdirBusy, match=f"in use by process {holder.pid}"):
            with run_directory.lock(workdir):
                pass
    finally:
        holder.stdin.close()
        holder.wait()
    with run_directory.lock(workdir):  # released when its holder ended
        assert (workdir / run_directory.LOCK_FILE).read_text().strip() == str(os.getpid())


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    with run_directory.lock(tmp_path):
        pass


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda base: (base / "file").write_text("x") and base / "file", "is not a directory"),
        (lambda base: (base / "file").write_text("x") and base / "file" / "sub", "not a directory"),
        (lambda base: "/proc/no_such_dir/run", "No such file or directory"),
    ],
)
def test_a_workdir_that_cannot_be_written_is_one_line_naming_it(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(ValueError, match=reason) as raised:
        with run_directory.lock(path):
            pass
    assert str(raised.value).startswith(f"workdir: cannot write to {path}")


def test_json_is_written_through_a_unique_file_that_follows_no_link(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    # The old fixed temporary name: a link planted there must not be followed.
    (tmp_path / "config.json.tmp").symlink_to(target)
    path = tmp_path / "config.json"
    previous = os.umask(0o022)
    try:
        run_directory.write_json_atomically(path, {"a": 1})
    finally:
        os.umask(previous)
    assert json.loads(path.read_text()) == {"a": 1}
    assert target.read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["config.json", "config.json.tmp", "elsewhere.txt"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_corrupt_config_json_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "config.json").write_text('{"epochs": 3,')
    config = ml_collections.ConfigDict({"epochs": 3})
    with pytest.raises(ValueError, match=str(tmp_path / "config.json")):
        run_directory.refuse_another_config(config, tmp_path, "search")


def test_another_config_is_refused_naming_the_keys(tmp_path):
    run_directory.save_config(ml_collections.ConfigDict({"epochs": 2, "seed": 0}), tmp_path)
    with pytest.raises(ValueError, match="epochs: 2 -> 3"):
        run_directory.refuse_another_config(
            ml_collections.ConfigDict({"epochs": 3, "seed": 0}), tmp_path, "search"
        )


def test_a_run_saved_before_a_key_existed_resumes_only_at_the_value_it_used(tmp_path):
    run_directory.save_config(ml_collections.ConfigDict({"epochs": 2}), tmp_path)
    run_directory.refuse_another_config(
        ml_collections.ConfigDict({"epochs": 2, "weight_sample": "relaxed"}), tmp_path, "search"
    )
    with pytest.raises(ValueError, match="weight_sample: 'relaxed' -> 'discrete'"):
        run_directory.refuse_another_config(
            ml_collections.ConfigDict({"epochs": 2, "weight_sample": "discrete"}),
            tmp_path,
            "search",
        )
    with pytest.raises(ValueError, match="new_key: None -> 1"):
        run_directory.refuse_another_config(
            ml_collections.ConfigDict({"epochs": 2, "new_key": 1}), tmp_path, "search"
        )


def test_a_run_that_fails_before_writing_leaves_no_workdir(tmp_path):
    workdir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="refused late"):
        with run_directory.lock(workdir):
            raise RuntimeError("refused late")
    assert not workdir.exists()
    workdir.mkdir()  # a workdir the user made stays
    with pytest.raises(RuntimeError):
        with run_directory.lock(workdir):
            raise RuntimeError("refused late")
    assert workdir.exists()
