"""One module of exceptions and warnings under two base classes (sklearn_genre.exceptions)."""

import ast
import importlib
import inspect
import pickle
import warnings
from pathlib import Path

import pytest

import sklearn_genre
from sklearn_genre import exceptions
from sklearn_genre.exceptions import SklearnGenreError, SklearnGenreWarning

PACKAGE = Path(sklearn_genre.__file__).parent

ERRORS = [c for c in vars(exceptions).values()
          if inspect.isclass(c) and issubclass(c, Exception) and not issubclass(c, Warning)
          and c.__module__ == exceptions.__name__]
WARNINGS = [c for c in vars(exceptions).values()
            if inspect.isclass(c) and issubclass(c, Warning)
            and c.__module__ == exceptions.__name__]

#: The builtin each class has always subclassed: existing ``except`` clauses keep working.
BUILTINS = {
    "AudioDecodeError": ValueError,
    "FeatureCacheError": OSError,
    "IncompleteStoreError": RuntimeError,
    "CheckpointError": OSError,
    "ModelLoadError": ValueError,
    "LeakageError": ValueError,
    "DownloadError": OSError,
    "ChecksumError": OSError,
}

#: Their old import locations (still working: the same class object).
OLD_HOMES = {
    "AudioDecodeError": "sklearn_genre.audio",
    "FeatureCacheError": "sklearn_genre.cache",
    "CacheCorruptionWarning": "sklearn_genre.cache",
    "IncompleteStoreError": "sklearn_genre.store",
    "CheckpointError": "sklearn_genre.checkpointing",
    "ModelLoadError": "sklearn_genre.persistence",
    "LeakageError": "sklearn_genre.leakage",
    "LeakageWarning": "sklearn_genre.leakage",
    "DatasetWarning": "sklearn_genre.datasets",
    "DownloadError": "sklearn_genre.datasets",
    "ChecksumError": "sklearn_genre.datasets",
    "ExtractionWarning": "sklearn_genre.features",
}


def _instance(cls):
    """An instance built as the package builds it."""
    name = cls.__name__
    if name in ("AudioDecodeError", "IncompleteStoreError"):
        return cls("clip.mp3", "truncated")
    if name == "FeatureCacheError":
        return cls("entry.feat", "disk full", 28)
    if name == "ModelLoadError":
        return cls("model.joblib is corrupt", path="model.joblib", reason="corrupt")
    if name == "LeakageError":
        return cls("3 files shared", report={"n_shared": 3})
    if name == "ExtractionWarning":
        return cls("1 of 2 clips failed", [])
    return cls("message")


def test_the_module_holds_errors_and_warnings():
    names = {c.__name__ for c in ERRORS + WARNINGS}
    assert set(BUILTINS) | {"SklearnGenreError"} <= names
    assert {"CacheCorruptionWarning", "ExtractionWarning", "LeakageWarning",
            "DatasetWarning", "SklearnGenreWarning"} <= names
    assert names == set(exceptions.__all__)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_is_caught_by_the_base(cls):
    err = _instance(cls)
    with pytest.raises(SklearnGenreError):
        raise err
    if cls.__name__ in BUILTINS:
        assert isinstance(err, BUILTINS[cls.__name__])
    clone = pickle.loads(pickle.dumps(err))  # travels back from joblib/Dask workers
    assert type(clone) is cls and str(clone) == str(err)
    assert vars(clone) == vars(err)


@pytest.mark.parametrize("cls", WARNINGS, ids=lambda c: c.__name__)
def test_every_warning_is_filtered_by_the_base(cls):
    assert issubclass(cls, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SklearnGenreWarning)
        with pytest.raises(SklearnGenreWarning):
            warnings.warn(_instance(cls), stacklevel=1)


@pytest.mark.parametrize("name", sorted(OLD_HOMES))
def test_old_import_locations_and_top_level_export(name):
    cls = getattr(exceptions, name)
    assert getattr(importlib.import_module(OLD_HOMES[name]), name) is cls
    assert getattr(sklearn_genre, name) is cls and name in sklearn_genre.__all__


def test_an_application_catches_a_real_failure_with_the_base(tmp_path):
    from sklearn_genre.audio import load_audio

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really")
    with pytest.raises(SklearnGenreError, match="broken.wav"):
        load_audio(broken)


def test_no_exception_class_is_defined_outside_the_module():
    """Every Exception/Warning subclass of the library lives in exceptions.py (the CLI's
    own usage error, cli.console.CLIError, is the command line's, not the library's)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "exceptions.py" or rel.startswith("cli/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception", "Warning")) for b in bases):
                    found.append(f"{rel}:{node.lineno} {node.name}")
    assert not found, f"define these in sklearn_genre/exceptions.py: {found}"
