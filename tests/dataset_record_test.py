"""WORKDIR/dataset.json: written once, restored by a resumed run and by the export."""

import json

from configs.search import digits as search_digits
from tests import testing
from unas_tf.datasets import record


def test_the_record_is_written_once_and_restored(tmp_path):
    folder = testing.write_image_folder(tmp_path / "images")
    config = search_digits.get_config()
    config.dataset, config.image_size = f"folder:{folder}", 8
    workdir = tmp_path / "run"
    workdir.mkdir()
    assert record.read(workdir) is None
    dataset = record.for_run(config, workdir)
    record.write(dataset, 8, workdir)
    saved = json.loads((workdir / record.RECORD_FILE).read_text())
    assert saved["class_names"] == ["ant", "bee", "cat"] and saved["num_classes"] == 3
    saved["mean"] = [0.5, 0.5, 0.5]  # as if the images had changed since the run started
    (workdir / record.RECORD_FILE).write_text(json.dumps(saved))
    record.write(dataset, 8, workdir)  # never rewritten
    assert record.read(workdir)["mean"] == [0.5, 0.5, 0.5]
    assert record.for_run(config, workdir).statistics(8)[0] == [0.5, 0.5, 0.5]
