"""The README's first screen stays true: CI runs its test command verbatim."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _first_screen_commands():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_first_screen_has_exactly_two_commands():
    install_and_run, run_tests = _first_screen_commands()
    assert install_and_run.startswith("pip install -e . && python -m launch.")
    assert "pytest" in run_tests


def test_ci_runs_the_readme_test_command_verbatim():
    _, run_tests = _first_screen_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert run_tests in ci_lines
