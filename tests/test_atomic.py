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


# ----------------------------------------------------------------- one home per piece of plumbing
def test_write_json_is_atomic_and_refuses_nan(tmp_path):
    import json as _json

    from sklearn_genre.atomic import write_json

    target = tmp_path / "doc.json"
    write_json(target, {"b": 1, "a": [1, 2]}, indent=1, sort_keys=True)
    assert target.read_text(encoding="utf-8") == _json.dumps(
        {"a": [1, 2], "b": 1}, indent=1, sort_keys=True) + "\n"
    with pytest.raises(ValueError):
        write_json(target, {"x": float("nan")})
    assert _json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "b": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]


def test_atomic_directory(tmp_path):
    from sklearn_genre.atomic import atomic_directory

    final = tmp_path / "out"
    with atomic_directory(final) as tmp:
        (tmp / "a.txt").write_text("1")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "1"
    with pytest.raises(RuntimeError), atomic_directory(final, replace=True) as tmp:
        (tmp / "b.txt").write_text("2")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left
    assert sorted(p.name for p in final.iterdir()) == ["a.txt"]  # untouched
    with atomic_directory(final, replace=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]


def test_only_atomic_py_renames_or_makes_temporary_files():
    """One atomic writer: no other module calls os.replace/os.rename/tempfile.mkstemp/mkdtemp
    or json.dump, except the two resumable partial files (download .part, store .partial)."""
    import ast
    from pathlib import Path

    import sklearn_genre

    package = Path(sklearn_genre.__file__).parent
    allowed = {("datasets/download.py", "os.replace"), ("store.py", "os.replace")}
    found = []
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).as_posix()
        if rel == "atomic.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name):
                name = f"{node.func.value.id}.{node.func.attr}"
                if name in ("os.replace", "os.rename", "tempfile.mkstemp", "tempfile.mkdtemp",
                            "json.dump") and (rel, name) not in allowed:
                    found.append(f"{rel}:{node.lineno} {name}")
    assert not found, f"use sklearn_genre.atomic (atomic_write / write_json): {found}"


def test_one_version_collector():
    from sklearn_genre import persistence
    from sklearn_genre.provenance import package_versions

    every = package_versions()
    saved = package_versions(persistence._PACKAGES)
    assert list(saved) == list(persistence._PACKAGES)
    assert saved == {k: every[k] for k in persistence._PACKAGES}
    assert saved["sklearn_genre"] == sklearn_genre_version()


def sklearn_genre_version():
    import sklearn_genre

    return sklearn_genre.__version__
