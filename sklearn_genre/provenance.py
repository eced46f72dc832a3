"""Provenance of a run: versions, platform, data fingerprint, run directories and their status.

A run directory says what produced it and what happened to it:

- ``run_info.json`` (written by :class:`RunInfo`): status (``"running"``, ``"completed"``,
  ``"interrupted"``, ``"failed"``), the message of a failure, start and end time, command line,
  package versions and platform;
- ``results.json`` (written by :func:`write_results_json`): whatever the run measured.

Both are written atomically (temporary file in the same folder, then :func:`os.replace`), so a
reader never sees half a file, even when the process is killed while writing.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .atomic import write_json

__all__ = [
    "RUN_INFO_FILENAME",
    "RESULTS_FILENAME",
    "RunInfo",
    "data_fingerprint",
    "device_info",
    "hash_file",
    "make_run_dir",
    "package_versions",
    "platform_info",
    "read_run_info",
    "to_jsonable",
    "write_json_atomic",
    "write_results_json",
]

RUN_INFO_FILENAME = "run_info.json"
RESULTS_FILENAME = "results.json"

# (key in the output, distribution name on the package index)
_PACKAGES = (
    ("sklearn_genre", "sklearn_genre"),
    ("numpy", "numpy"),
    ("scipy", "scipy"),
    ("scikit-learn", "scikit-learn"),
    ("skorch", "skorch"),
    ("torch", "torch"),
    ("librosa", "librosa"),
    ("soundfile", "soundfile"),
    ("soxr", "soxr"),
    ("pandas", "pandas"),
    ("joblib", "joblib"),
    ("matplotlib", "matplotlib"),
    ("scikit-optimize", "scikit-optimize"),
)

_CHUNK_SIZE = 1 << 20


# --------------------------------------------------------------------------- versions, platform


def package_versions(names=None):
    """Versions of Python and of the packages a result depends on.

    The one version collector of the package: results, reports and saved models record what
    it returns.

    Versions come from the installed distributions' metadata (:mod:`importlib.metadata`), so
    nothing heavy (torch) is imported. A package that is not installed is reported as ``None``.
    ``sklearn_genre`` is the version of the running code (``sklearn_genre.__version__``).

    Parameters
    ----------
    names : sequence of str or None, default=None
        Only these keys (in this order); None gives all of them.

    Returns
    -------
    versions : dict of str to str or None
        Keys ``"python"``, ``"sklearn_genre"``, ``"numpy"``, ``"scipy"``, ``"scikit-learn"``,
        ``"skorch"``, ``"torch"``, ``"librosa"``, ``"soundfile"``, ``"soxr"``, ``"pandas"``,
        ``"joblib"``, ``"matplotlib"``, ``"scikit-optimize"`` and ``"libsndfile"`` (the C library
        behind soundfile, which decides which audio formats can be read).
    """
    from . import __version__

    versions = {"python": platform.python_version()}
    for key, dist in _PACKAGES:
        if key == "sklearn_genre":  # the running code, installed or not
            versions[key] = __version__
            continue
        try:
            versions[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[key] = None
    try:
        import soundfile

        versions["libsndfile"] = soundfile.__libsndfile_version__
    except (ImportError, OSError, AttributeError):
        versions["libsndfile"] = None
    if names is not None:
        return {name: versions[name] for name in names}
    return versions


def platform_info():
    """The machine a run happened on: operating system, CPU architecture, CPU count.

    Returns
    -------
    info : dict
        Keys ``"system"``, ``"release"``, ``"machine"``, ``"processor"``,
        ``"python_implementation"``, ``"cpu_count"`` and ``"host"`` (the network name,
        :func:`platform.node`; used to tell whether a ``"running"`` status can be checked).
    """
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python_implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "host": platform.node(),
    }


def device_info():
    """The compute devices torch sees (imports torch).

    Returns
    -------
    info : dict
        ``"torch_num_threads"``, ``"cuda_available"``, ``"cuda_version"``, ``"cuda_devices"``
        (names) and ``"mps_available"``; ``{"torch": None}`` when torch is not installed.
    """
    try:
        import torch
    except ImportError:
        return {"torch": None}
    cuda = torch.cuda.is_available()
    mps_backend = getattr(torch.backends, "mps", None)
    return {
        "torch_num_threads": torch.get_num_threads(),
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "cuda_devices": [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count() if cuda else 0)
        ],
        "mps_available": bool(mps_backend is not None and mps_backend.is_available()),
    }


# --------------------------------------------------------------------------- hashing, fingerprints


def hash_file(path, *, algorithm="blake2b", chunk_size=_CHUNK_SIZE):
    """Digest of a file's bytes, read in chunks (constant memory).

    Parameters
    ----------
    path : str or path-like
        The file.
    algorithm : str, default="blake2b"
        Any name :func:`hashlib.new` accepts.
    chunk_size : int, default=1 MiB
        Bytes read at a time.

    Returns
    -------
    digest : str
        Hexadecimal digest.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        When the file cannot be read; the message names the file.
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def _common_root(paths):
    if not paths:
        return None
    absolute = [os.path.abspath(p) for p in paths]
    root = os.path.commonpath(absolute)
    if len(absolute) == 1 or os.path.isfile(root):
        root = os.path.dirname(root)
    return root


def data_fingerprint(paths, *, labels=None, splits=None, root=None, identity="stat"):
    """One digest identifying a data set: its files, their labels and their split assignment.

    The digest is the blake2b hash of the rows ``(relative path, size, identity, label, split)``
    sorted by relative path, so it does not depend on the order of ``paths``. It changes when a
    file is added, removed, renamed, resized or (see ``identity``) modified, when a label changes
    or when a file moves to another split.

    Parameters
    ----------
    paths : sequence of str or path-like of length n_files
        The audio files.
    labels : array-like of shape (n_files,), default=None
        Label of each file (genre). ``None``: labels are not part of the fingerprint.
    splits : array-like of shape (n_files,), default=None
        Split assignment of each file (``"training"``, ``"test"``, a fold number...). ``None``:
        not part of the fingerprint.
    root : str or path-like, default=None
        Paths are taken relative to this folder, so the same data set in another location has
        the same fingerprint. ``None``: the files' deepest common folder.
    identity : {"stat", "content"}, default="stat"
        What stands for a file's content besides its size. ``"stat"``: the modification time in
        nanoseconds (fast: no file is read; but copying the files elsewhere without preserving
        times changes the fingerprint). ``"content"``: the blake2b hash of the file's bytes
        (reads every byte; portable across copies). Hashing took 0.83 s of CPU time per GiB
        (:func:`hash_file` on a 1 GiB file already in the page cache, one AMD EPYC core);
        reading files from disk adds the storage's read time.

    Returns
    -------
    fingerprint : dict
        ``"digest"`` (hex), ``"algorithm"`` (``"blake2b"``), ``"identity"`` (``"size+mtime_ns"`` or
        ``"size+blake2b"``), ``"n_files"``, ``"root"``, ``"includes_labels"``,
        ``"includes_splits"`` and, when labels are given, ``"label_counts"``.

    Raises
    ------
    FileNotFoundError
        When a file does not exist (the message names it).
    ValueError
        When ``labels`` or ``splits`` do not have one entry per path, or ``identity`` is unknown.
    """
    if identity not in ("stat", "content"):
        raise ValueError(f"identity must be 'stat' or 'content', got {identity!r}")
    paths = [os.fspath(p) for p in paths]
    n = len(paths)
    for name, values in (("labels", labels), ("splits", splits)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries but there are {n} paths")
    root = os.path.abspath(root) if root is not None else _common_root(paths)
    label_list = [None] * n if labels is None else [_scalar(v) for v in labels]
    split_list = [None] * n if splits is None else [_scalar(v) for v in splits]

    rows = []
    for path, label, split in zip(paths, label_list, split_list):
        st = os.stat(path)
        ident = hash_file(path) if identity == "content" else st.st_mtime_ns
        rel = Path(os.path.relpath(os.path.abspath(path), root)).as_posix() if root else path
        rows.append((rel, st.st_size, ident, label, split))
    rows.sort(key=lambda r: (r[0], repr(r[1:])))

    h = hashlib.blake2b(digest_size=32)
    for row in rows:
        h.update(json.dumps(row, default=str).encode())
        h.update(b"\n")
    out = {
        "digest": h.hexdigest(),
        "algorithm": "blake2b",
        "identity": "size+mtime_ns" if identity == "stat" else "size+blake2b",
        "n_files": n,
        "root": root,
        "includes_labels": labels is not None,
        "includes_splits": splits is not None,
    }
    if labels is not None:
        values, counts = np.unique(np.asarray([str(v) for v in label_list]), return_counts=True)
        out["label_counts"] = {str(v): int(c) for v, c in zip(values, counts)}
    return out


def _scalar(v):
    return v.item() if isinstance(v, np.generic) else v


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj, *, _where="results"):
    """Convert ``obj`` into plain JSON types (dict, list, str, int, float, bool, None).

    numpy scalars and arrays become Python numbers and lists; non-finite floats (NaN, inf)
    become ``None`` (strict JSON has no NaN); paths, dates and enums become strings; dataclasses
    and objects with a ``to_dict()`` method are converted through it; pandas DataFrames become a
    list of records and Series a dict; sets and tuples become lists; mapping keys become strings.

    Raises
    ------
    TypeError
        For anything else, naming where in ``obj`` it was found.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v, _where=f"{_where}[{i}]") for i, v in enumerate(obj.tolist())]
    if isinstance(obj, (os.PathLike,)):
        return os.fspath(obj)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value, _where=_where)
    if hasattr(obj, "to_dict") and callable(obj.to_dict) and not isinstance(obj, type):
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a dependency
            pd = None
        if pd is not None and isinstance(obj, pd.DataFrame):
            return to_jsonable(obj.to_dict(orient="records"), _where=_where)
        return to_jsonable(obj.to_dict(), _where=_where)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj), _where=_where)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v, _where=f"{_where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        seq = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [to_jsonable(v, _where=f"{_where}[{i}]") for i, v in enumerate(seq)]
    raise TypeError(
        f"{_where} holds a {type(obj).__name__} ({obj!r:.80}) that cannot be written as JSON; "
        "convert it to a number, string, list or dict first"
    )


def write_json_atomic(path, obj, *, indent=2):
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + :func:`os.replace`).

    ``obj`` goes through :func:`to_jsonable` first. A reader sees either the old file or the
    complete new one; a failure (unconvertible value, full disk) leaves no partial file behind.

    Returns
    -------
    path : pathlib.Path
    """
    return write_json(path, to_jsonable(obj), indent=indent, fsync=True)


def write_results_json(run_dir, results, *, filename=RESULTS_FILENAME):
    """Write a run's results to ``run_dir/results.json`` atomically; numpy types are converted.

    Parameters
    ----------
    run_dir : str or path-like
        An existing run directory (see :func:`make_run_dir`).
    results : mapping
        Anything :func:`to_jsonable` converts.
    filename : str, default="results.json"

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist; create it first")
    return write_json_atomic(run_dir / filename, results)


# --------------------------------------------------------------------------- run directories


def _timestamp():
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def make_run_dir(base, name=None, *, exist_ok=False, overwrite=False):
    """Create a new run directory under ``base``; never reuses or replaces one silently.

    Parameters
    ----------
    base : str or path-like
        Parent folder (created if missing).
    name : str, default=None
        ``None``: a new folder ``run-YYYYmmdd-HHMMSS`` is created; if that exists (two runs in
        the same second) ``-1``, ``-2``, ... is appended. Creation is atomic (:func:`os.mkdir`),
        so two processes never get the same folder.
        A name: ``base/name``. If it exists, :class:`FileExistsError` is raised unless
        ``exist_ok`` or ``overwrite`` says what to do.
    exist_ok : bool, default=False
        Reuse an existing ``base/name`` as it is (to resume a run); nothing is deleted.
    overwrite : bool, default=False
        Delete an existing ``base/name`` and start empty. Only a folder that is a run directory
        (holds ``run_info.json``) or is empty is deleted; anything else is refused with
        :class:`FileExistsError`, so a mistyped name cannot wipe unrelated data.

    Returns
    -------
    run_dir : pathlib.Path

    Raises
    ------
    FileExistsError
        When ``base/name`` exists and neither ``exist_ok`` nor ``overwrite`` is set (the message
        gives its recorded status), or ``overwrite`` targets a folder that is not a run directory.
    """
    if exist_ok and overwrite:
        raise ValueError("exist_ok=True (reuse) and overwrite=True (delete) exclude each other")
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    if name is None:
        stem = f"run-{_timestamp()}"
        for i in range(10_000):
            candidate = base / (stem if i == 0 else f"{stem}-{i}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return candidate
        raise FileExistsError(f"could not find a free run directory name {stem}-N in {base}")

    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"run name must be a plain folder name, got {name!r}")
    run_dir = base / name
    try:
        run_dir.mkdir()
        return run_dir
    except FileExistsError:
        pass
    if not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} exists and is not a directory")
    if exist_ok:
        return run_dir
    is_run_dir = (run_dir / RUN_INFO_FILENAME).is_file()
    if overwrite:
        if not is_run_dir and any(run_dir.iterdir()):
            raise FileExistsError(
                f"{run_dir} is not empty and is not a run directory (no {RUN_INFO_FILENAME}); "
                "refusing to delete it. Choose another name or remove it yourself."
            )
        shutil.rmtree(run_dir)
        run_dir.mkdir()
        return run_dir
    status = ""
    if is_run_dir:
        try:
            status = f" (recorded status: {read_run_info(run_dir)['status']})"
        except (OSError, ValueError, KeyError):
            status = " (its run_info.json is unreadable)"
    raise FileExistsError(
        f"run directory {run_dir} already exists{status}. Choose another name, omit the name to "
        "get a new timestamped directory, pass exist_ok=True to reuse it (resume) or "
        "overwrite=True to delete and replace it."
    )


# --------------------------------------------------------------------------- run status


def _now():
    return _dt.datetime.now(_dt.timezone.utc).astimezone()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return None
    return True


def read_run_info(run_dir):
    """Read ``run_dir/run_info.json``.

    A run killed without a chance to record its end (SIGKILL, power loss) still says
    ``"running"``. When it was recorded on this host and its process no longer exists, the
    returned dict has ``"stale": True`` and a ``"note"`` saying so; the file is not changed.

    Returns
    -------
    info : dict

    Raises
    ------
    FileNotFoundError
        When ``run_dir`` holds no ``run_info.json`` (not a run directory).
    ValueError
        When the file is not valid JSON.
    """
    path = Path(run_dir) / RUN_INFO_FILENAME
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{run_dir} is not a run directory: no {RUN_INFO_FILENAME}"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if info.get("status") == "running" and info.get("host") == platform.node():
        pid = info.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid) is False:
            info["stale"] = True
            info["note"] = (
                f"recorded as running, but process {pid} no longer exists: the run was killed "
                "without recording its end"
            )
    return info


class RunInfo:
    """Records in ``run_dir/run_info.json`` what happened to a run.

    Use it as a context manager around the work: the status is ``"running"`` inside, then
    ``"completed"`` on normal exit, ``"interrupted"`` on :class:`KeyboardInterrupt` (Ctrl-C) and
    ``"failed"`` with the exception's type, message and traceback on any other exception. The
    exception is never swallowed. Every change is written atomically.

    Parameters
    ----------
    run_dir : str or path-like
        An existing run directory (see :func:`make_run_dir`).
    command : list of str, default=None
        The command line; ``None``: ``sys.argv``.
    config : mapping, default=None
        Parameters of the run, recorded as given (through :func:`to_jsonable`).

    Attributes
    ----------
    info : dict
        The current content of ``run_info.json``.

    Notes
    -----
    skorch's ``fit`` catches :class:`KeyboardInterrupt` itself and returns normally (the model
    keeps the epochs done so far), so Ctrl-C during ``fit`` does not reach ``__exit__``. Code
    that wants such a run recorded as interrupted calls :meth:`mark_interrupted` after ``fit``
    when it knows training stopped early (for example the history is shorter than
    ``max_epochs`` and no early stopping fired); :meth:`mark_interrupted` makes the normal exit
    keep the ``"interrupted"`` status.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_genre.provenance import RunInfo, make_run_dir, read_run_info
    >>> run_dir = make_run_dir(tempfile.mkdtemp(), "example")
    >>> with RunInfo(run_dir, command=["train"], config={"lr": 1e-3}) as run:
    ...     run.update(n_epochs=3)
    >>> read_run_info(run_dir)["status"]
    'completed'
    """

    def __init__(self, run_dir, *, command=None, config=None):
        self.run_dir = Path(run_dir)
        self.command = command
        self.config = config
        self.info = {}
        self._finished = False

    @property
    def path(self):
        """Path of the ``run_info.json`` file."""
        return self.run_dir / RUN_INFO_FILENAME

    def _write(self):
        write_json_atomic(self.path, self.info)

    def start(self):
        """Record the run as ``"running"`` with start time, command, versions and platform."""
        if not self.run_dir.is_dir():
            raise FileNotFoundError(f"run directory {self.run_dir} does not exist")
        pinfo = platform_info()
        self.info = {
            "status": "running",
            "message": None,
            "started_at": _now().isoformat(),
            "finished_at": None,
            "duration_s": None,
            "command": list(sys.argv if self.command is None else self.command),
            "cwd": os.getcwd(),
            "pid": os.getpid(),
            "host": pinfo["host"],
            "config": self.config,
            "versions": package_versions(),
            "platform": pinfo,
        }
        self._started = _now()
        self._finished = False
        self._write()
        return self

    def update(self, **fields):
        """Add or replace fields (e.g. ``n_epochs=12``, ``best_epoch=9``) and write the file.

        Parameters
        ----------
        **fields
            JSON-serialisable values to record.

        Raises
        ------
        ValueError
            If a field is ``status``, ``started_at`` or ``finished_at`` (set by RunInfo).
        """
        reserved = {"status", "started_at", "finished_at"} & fields.keys()
        if reserved:
            raise ValueError(f"{sorted(reserved)} are set by RunInfo itself")
        self.info.update(fields)
        self._write()

    def _finish(self, status, message=None, **fields):
        end = _now()
        self.info.update(fields)
        self.info["status"] = status
        self.info["message"] = message
        self.info["finished_at"] = end.isoformat()
        started = getattr(self, "_started", None)
        self.info["duration_s"] = (end - started).total_seconds() if started else None
        self._finished = True
        self._write()

    def complete(self, **fields):
        """Record the run as ``"completed"``.

        Parameters
        ----------
        **fields
            JSON-serialisable values to record with the final status.
        """
        self._finish("completed", **fields)

    def mark_interrupted(self, message="interrupted by the user (KeyboardInterrupt)", **fields):
        """Record the run as ``"interrupted"`` (what was finished is kept in the directory).

        Parameters
        ----------
        message : str, default="interrupted by the user (KeyboardInterrupt)"
            Recorded as ``message``.
        **fields
            JSON-serialisable values to record with the final status.
        """
        self._finish("interrupted", message, **fields)

    def fail(self, exc, **fields):
        """Record the run as ``"failed"`` with ``exc``'s type, message and traceback.

        Parameters
        ----------
        exc : BaseException
            The error; ``message`` becomes ``"Type: text"`` and ``traceback`` its last
            20 000 characters of traceback.
        **fields
            JSON-serialisable values to record with the final status.
        """
        message = f"{type(exc).__name__}: {exc}"
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._finish("failed", message, traceback=tb[-20_000:], **fields)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if not self._finished:
                self.complete()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.mark_interrupted()
        else:
            self.fail(exc)
        return False
