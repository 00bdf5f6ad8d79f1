"""hf_transformer101/files.py: a file is replaced whole or not at all."""
from hf_transformer101.files import write_atomically


def test_write_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "new" / "run.json"  # the folder is created
    write_atomically(path, "old")
    write_atomically(path, "néw\n")
    assert path.read_text(encoding="utf-8") == "néw\n"
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]
