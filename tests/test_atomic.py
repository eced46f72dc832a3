"""atomic_write: all or nothing, never a partial file, no temporary file left behind."""

import pytest

from sklearn_genre.atomic import atomic_write, new_file_mode


def test_writes_text_and_bytes(tmp_path):
    with atomic_write(tmp_path / "a.txt", "w", encoding="utf-8") as f:
        f.write("héllo")
    with atomic_write(tmp_path / "b.bin", fsync=True) as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_keeps_the_previous_file_and_removes_the_temporary(tmp_path, error):
    target = tmp_path / "results.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(error):
        with atomic_write(target, "w", encoding="utf-8") as f:
            f.write("half of the new cont")
            raise error
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_missing_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "no" / "such.txt", "w") as f:
            f.write("x")


def test_new_files_get_ordinary_permissions(tmp_path):
    # mkstemp makes 0600 files; a finished file must be as readable as one open() creates.
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with atomic_write(tmp_path / "atomic.txt", "w") as f:
        f.write("x")
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert new_file_mode() == plain.stat().st_mode & 0o777
