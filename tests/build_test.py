"""BUILD stays in sync with the tree: Bazel cannot fetch its rules offline, so this checks it."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTHON_DIRS = ("unas_tf", "launch", "configs", "tests", "bench")
RULES = ("py_library", "py_binary", "py_test")


def _targets():
    """Returns {name: (rule, srcs, data, deps)} for every Python rule in BUILD."""
    tree = ast.parse((ROOT / "BUILD").read_text(), filename="BUILD")
    targets = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in RULES:
            fields = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
            name = fields["name"]
            assert name not in targets, f"BUILD: target {name!r} defined twice"
            targets[name] = (
                node.func.id,
                fields.get("srcs", []),
                fields.get("data", []),
                fields.get("deps", []),
            )
    return targets


TARGETS = _targets()


def _listed(field_index):
    return {path for target in TARGETS.values() for path in target[field_index]}


def test_every_python_file_belongs_to_a_target():
    on_disk = {
        str(path.relative_to(ROOT))
        for directory in PYTHON_DIRS
        for path in (ROOT / directory).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    missing = sorted(on_disk - _listed(1))
    assert not missing, f"BUILD: files in no target's srcs: {missing}"


def test_package_data_belongs_to_a_target():
    data = {str(path.relative_to(ROOT)) for path in (ROOT / "unas_tf" / "assets").glob("*")}
    assert not data - _listed(2), f"BUILD: data in no target: {sorted(data - _listed(2))}"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_listed_source_exists(name):
    _, srcs, data, _ = TARGETS[name]
    absent = [path for path in srcs + data if not (ROOT / path).exists()]
    assert not absent, f"BUILD: target {name!r} lists files that do not exist: {absent}"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_dependencies_are_targets(name):
    unknown = [dep for dep in TARGETS[name][3] if dep.lstrip(":") not in TARGETS]
    assert not unknown, f"BUILD: target {name!r} depends on unknown targets: {unknown}"


def test_every_test_file_has_its_own_py_test():
    test_files = {str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob("*_test.py")}
    tested = {srcs[0] for rule, srcs, _, _ in TARGETS.values() if rule == "py_test" and srcs}
    assert test_files == tested, f"BUILD: py_test targets differ: {sorted(test_files ^ tested)}"
