"""The README's first screen stays true: CI runs its test command verbatim."""

import os
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


def _python_example():
    section = (ROOT / "README.md").read_text().split("\n## From Python\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_python_example_builds_valid_configs_and_chains_its_paths(tmp_path, monkeypatch):
    """Runs the README's Python example, its three long calls replaced by checks.

    The real calls take minutes (the example's search alone ~1.5); tests/search_test.py,
    tests/retrain_test.py and tests/export_test.py run them on tiny configs, and
    tests/package_test.py checks that the API calls them. Here the example runs verbatim but for
    its directory: each config it builds is valid, the search's genotype.json is what it
    retrains, and the retraining workdir is what it exports.
    """
    import unas_tf
    from unas_tf import genotypes, retrain_run, search_run
    from unas_tf.search_spaces.darts import genotype as darts_genotype

    calls = {}

    def search(config, workdir):
        search_run.validate(config)
        genotype = darts_genotype.random_darts(0, darts_genotype.DARTS_OPS[: config.num_ops])
        os.makedirs(workdir)
        genotypes.save(genotype, os.path.join(workdir, "genotype.json"))
        calls["search"] = genotype
        return genotype

    def retrain(config, workdir):
        retrain_run.validate(config)
        calls["train"] = (genotypes.load(config.genotype), workdir)
        return {"top1": 1.0}

    def export(workdir, output):
        calls["export"] = (workdir, output)

    for name, fake in (("search", search), ("retrain", retrain), ("export", export)):
        monkeypatch.setattr(unas_tf, name, fake)
    exec(_python_example().replace("/tmp/unas_nb", str(tmp_path)), {})
    assert calls["train"] == (calls["search"], str(tmp_path / "train"))
    assert calls["export"] == (str(tmp_path / "train"), str(tmp_path / "export"))


def test_serving_example_runs_on_an_export(tmp_path):
    """The README's snippet that serves a SavedModel without this library, on a tiny export."""
    from configs.eval import digits
    from unas_tf import eval_networks, export_lib

    config = digits.get_config()
    config.update(dict(image_size=8, init_channels=4, layers=3, auxiliary=False))
    genotype, model = eval_networks.build(config)
    export_lib.export_model(model, genotype, config, tmp_path / "export")
    section = (ROOT / "README.md").read_text().split("alone serves it, without this library:", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert '"/tmp/digits_export"' in snippet
    namespace = {}
    exec(snippet.replace("/tmp/digits_export", str(tmp_path / "export")), namespace)
    assert namespace["outputs"]["probabilities"].shape == (2, 10)
    assert namespace["outputs"]["logits"].shape == (2, 10)
