"""Where the pretrained MusiCNN weights live, and how they get there.

The weights are the TensorFlow checkpoints that Pons and Serra ship in the ``musicnn`` 0.1.0
wheel on PyPI (ISC licence, Music Technology Group, Universitat Pompeu Fabra). This package
never imports ``musicnn`` or TensorFlow: :func:`fetch_musicnn_weights` downloads the wheel
(29 MB), checks its SHA-256 against :data:`MUSICNN_WHEEL_SHA256`, and unpacks only what the
PyTorch port needs into the data home::

    <data_home>/musicnn/0.1.0/
        LICENSE.md                            the wheel's licence (ISC: keep it with copies)
        MANIFEST.json                         wheel name and SHA-256, file sizes and SHA-256s
        MSD_musicnn/variables.index           the checkpoint (tensor-bundle index; ".index"
        MSD_musicnn/variables.data-00000-of-00001    and ".data-..." in the wheel)
        MSD_musicnn/config.json               the training configuration
        MSD_musicnn/tags.json                 the 50 tag names, in output order
        MTT_musicnn/...                       the same for the MagnaTagATune model

The folder is built under a temporary name and renamed into place when complete, so a
``0.1.0`` folder is always whole; :func:`musicnn_weights_dir` also checks every file's size
against the manifest. The ``vgg`` baselines in the wheel are not unpacked.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from ..atomic import atomic_directory
from ..datasets.download import ChecksumError, DownloadError, download_file
from ..datasets.home import get_data_home
from ..exceptions import MusicnnWeightsNotFoundError

__all__ = [
    "MUSICNN_MODELS",
    "MUSICNN_SOURCE_ENV",
    "MUSICNN_VERSION",
    "MUSICNN_WHEEL",
    "MUSICNN_WHEEL_SHA256",
    "PYPI_SIMPLE_URL",
    "MusicnnWeightsNotFoundError",
    "fetch_musicnn_weights",
    "musicnn_weights_dir",
]

#: The pretrained models this package can load (the wheel's ``musicnn`` architectures).
MUSICNN_MODELS = ("MSD_musicnn", "MTT_musicnn")
MUSICNN_VERSION = "0.1.0"
MUSICNN_WHEEL = f"musicnn-{MUSICNN_VERSION}-py3-none-any.whl"
#: SHA-256 of ``musicnn-0.1.0-py3-none-any.whl`` (as published by PyPI, checked here).
MUSICNN_WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
#: Default package index (PEP 503 / PEP 691 "simple" API).
PYPI_SIMPLE_URL = "https://pypi.org/simple/"
#: Environment variable naming where to get the wheel when ``source`` is not given: an
#: index URL, a wheel URL, a wheel file or a folder holding the wheel.
MUSICNN_SOURCE_ENV = "SKLEARN_GENRE_MUSICNN_SOURCE"

_CHECKPOINT_FILES = {  # name in the wheel's model folder -> name in the data home
    ".index": "variables.index",
    ".data-00000-of-00001": "variables.data-00000-of-00001",
    "config.json": "config.json",
}
_TAG_LISTS = {"MSD_musicnn": "MSD_LABELS", "MTT_musicnn": "MTT_LABELS"}
_MANIFEST = "MANIFEST.json"


def _how_to_fetch(data_home):
    flag = "" if data_home is None else f" --data-home {data_home}"
    arg = "" if data_home is None else f"data_home={str(data_home)!r}"
    return (f"Download them once (29 MB from PyPI) with `sklearn-genre fetch-weights "
            f"musicnn{flag}`, or in Python `from sklearn_genre.pretrained import "
            f"fetch_musicnn_weights; fetch_musicnn_weights({arg})`. Offline: `pip download "
            f"--no-deps musicnn=={MUSICNN_VERSION}` elsewhere, then "
            f"`sklearn-genre fetch-weights musicnn --source {MUSICNN_WHEEL}`.")


def _root(data_home):
    return get_data_home(data_home) / "musicnn" / MUSICNN_VERSION


def musicnn_weights_dir(model="MSD_musicnn", data_home=None):
    """The folder holding one model's unpacked weights, checked against the manifest.

    Parameters
    ----------
    model : {"MSD_musicnn", "MTT_musicnn"}, default="MSD_musicnn"
    data_home : str or path-like, default=None
        See :func:`sklearn_genre.datasets.get_data_home`.

    Returns
    -------
    folder : pathlib.Path
        Holds ``variables.index``, ``variables.data-00000-of-00001`` (the checkpoint prefix
        is ``folder / "variables"``), ``config.json`` and ``tags.json``.

    Raises
    ------
    MusicnnWeightsNotFoundError
        If the weights have not been fetched (the message says how), or a file is missing or
        has the wrong size (then fetching again repairs it).
    """
    if model not in MUSICNN_MODELS:
        raise ValueError(f"model must be one of {MUSICNN_MODELS}, got {model!r}")
    root = _root(data_home)
    manifest = root / _MANIFEST
    if not manifest.is_file():
        raise MusicnnWeightsNotFoundError(
            f"The pretrained MusiCNN weights are not in {root}. " + _how_to_fetch(data_home))
    sizes = json.loads(manifest.read_text())["files"]
    for rel, info in sizes.items():
        if not rel.startswith(model + "/"):
            continue
        path = root / rel
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise MusicnnWeightsNotFoundError(
                f"{path} is missing or does not have the size recorded in {manifest} "
                f"({info['size']} bytes). Fetch the weights again to repair them "
                f"(`sklearn-genre fetch-weights musicnn --force`).")
    return root / model


# --------------------------------------------------------------------------- fetching

def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _get(url, accept, timeout):
    request = urllib.request.Request(url, headers={"User-Agent": "sklearn_genre",
                                                   "Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"The package index answered {url} with HTTP {exc.code} "
                            f"{exc.reason}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"Cannot reach the package index at {url}: "
                            f"{getattr(exc, 'reason', exc)}. Check the network (and a proxy "
                            "through the https_proxy variable), or pass source= a wheel "
                            "obtained by other means.") from exc


def _wheel_url_from_index(index_url, timeout):
    """Find the wheel's URL on a PEP 503 (HTML) or PEP 691 (JSON) simple index."""
    project_url = index_url.rstrip("/") + "/musicnn/"
    body, ctype = _get(project_url, "application/vnd.pypi.simple.v1+json, "
                       "text/html;q=0.1", timeout)
    if ctype.endswith("json") or body.lstrip().startswith(b"{"):  # PEP 691
        links = [(f["filename"], f["url"]) for f in json.loads(body)["files"]]
    else:
        links = [(urllib.parse.unquote(href.rsplit("/", 1)[-1].split("#")[0]), href)
                 for href in re.findall(r'href="([^"]+)"', body.decode("utf-8", "replace"))]
    for filename, url in links:
        if filename == MUSICNN_WHEEL:
            return urllib.parse.urljoin(project_url, url.split("#")[0])
    raise DownloadError(f"{project_url} does not list {MUSICNN_WHEEL}.")


def _obtain_wheel(source, workdir, verbose, timeout):
    """Path of a local copy of the wheel, downloading it into ``workdir`` if needed."""
    local = Path(source).expanduser() if "://" not in source else None
    if local is not None:
        path = local / MUSICNN_WHEEL if local.is_dir() else local
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (source={source!r}).")
        return path, False
    if source.split("?")[0].endswith(".whl"):
        url = source
    else:
        url = _wheel_url_from_index(source, timeout)
    target = workdir / MUSICNN_WHEEL
    download_file(url, target, verbose=verbose, timeout=timeout)
    return target, True


def _default_source():
    return (os.environ.get(MUSICNN_SOURCE_ENV) or os.environ.get("PIP_INDEX_URL")
            or PYPI_SIMPLE_URL)


def _pip_download_command(dest):
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--quiet", f"musicnn=={MUSICNN_VERSION}", "-d", os.fspath(dest)]


def _pip_download(workdir, first_error, timeout):
    """The wheel by ``pip download`` (pip's own index, proxy and certificate settings)."""
    dest = Path(workdir) / f".pip-download-{os.getpid()}"  # scratch, removed below
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    command = _pip_download_command(dest)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=10 * timeout)
        failure = proc.stderr.strip()[-500:] if proc.returncode else None
    except (OSError, subprocess.TimeoutExpired) as exc:
        failure = str(exc)
    if failure is None and (dest / MUSICNN_WHEEL).is_file():
        return dest / MUSICNN_WHEEL
    shutil.rmtree(dest, ignore_errors=True)
    raise DownloadError(f"{first_error} Then `{' '.join(command[2:])}` failed too: "
                        f"{failure or 'no wheel written'}. Pass source= a copy of "
                        f"{MUSICNN_WHEEL} obtained by other means.") from first_error


def _unpack(wheel, dest):
    """Write the checkpoint files, tags, config and licence of ``wheel`` under ``dest``."""
    files = {}
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        config_src = zf.read("musicnn/configuration.py").decode("utf-8")
        assignments = {
            node.targets[0].id: node.value
            for node in ast.parse(config_src).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        }
        for model in MUSICNN_MODELS:
            (dest / model).mkdir(parents=True)
            for src, dst in _CHECKPOINT_FILES.items():
                member = f"musicnn/{model}/{src}"
                if member not in names:
                    raise ChecksumError(f"{wheel} has no {member}.")
                with zf.open(member) as fin, open(dest / model / dst, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
            tags = ast.literal_eval(assignments[_TAG_LISTS[model]])  # a plain list literal
            (dest / model / "tags.json").write_text(json.dumps(tags, indent=0) + "\n")
        licence = f"musicnn-{MUSICNN_VERSION}.dist-info/LICENSE.md"
        (dest / "LICENSE.md").write_bytes(zf.read(licence))
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        rel = path.relative_to(dest).as_posix()
        files[rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {"source": MUSICNN_WHEEL, "sha256": MUSICNN_WHEEL_SHA256, "files": files}
    (dest / _MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def fetch_musicnn_weights(data_home=None, *, source=None, force=False, verbose=True,
                          timeout=60.0):
    """Download the ``musicnn`` 0.1.0 wheel once and unpack the MusiCNN weights.

    Idempotent: when the data home already holds the weights, nothing is downloaded. The
    wheel is downloaded next to the weights folder (resuming an interrupted download, see
    :func:`sklearn_genre.datasets.download_file`), its SHA-256 must equal
    :data:`MUSICNN_WHEEL_SHA256`, and it is deleted after unpacking.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`sklearn_genre.datasets.get_data_home`.
    source : str or path-like, default=None
        Where the wheel comes from: a package index URL (PEP 503/691 "simple" API, e.g. a
        company mirror), the wheel's URL, the wheel file, or a folder holding it (what
        ``pip download --no-deps musicnn==0.1.0 -d DIR`` leaves). None: the
        ``SKLEARN_GENRE_MUSICNN_SOURCE`` environment variable, else ``PIP_INDEX_URL``, else
        :data:`PYPI_SIMPLE_URL`; when neither ``source`` nor
        ``SKLEARN_GENRE_MUSICNN_SOURCE`` is given and that index cannot be used, the wheel
        is fetched with ``python -m pip download --no-deps musicnn==0.1.0`` instead (pip's
        own configuration: ``index-url`` in pip.conf, proxies, certificates); the error then
        reports both failures.
    force : bool, default=False
        Fetch and unpack again even if the weights are present (repairs a damaged copy).
    verbose : bool, default=True
        Progress bar for the download.
    timeout : float, default=60.0
        Socket timeout in seconds.

    Returns
    -------
    root : pathlib.Path
        ``<data_home>/musicnn/0.1.0``, holding one folder per model of
        :data:`MUSICNN_MODELS`.

    Raises
    ------
    DownloadError
        The index or the wheel cannot be downloaded.
    ChecksumError
        The wheel's SHA-256 is not :data:`MUSICNN_WHEEL_SHA256` (a downloaded copy is
        deleted) or the wheel lacks a needed file.
    FileNotFoundError
        ``source`` names a local file or folder without the wheel.

    Examples
    --------
    >>> from sklearn_genre.pretrained import fetch_musicnn_weights
    >>> root = fetch_musicnn_weights()  # doctest: +SKIP
    """
    root = _root(data_home)
    if (root / _MANIFEST).is_file() and not force:
        return root
    pip_fallback = source is None and not os.environ.get(MUSICNN_SOURCE_ENV)
    source = os.fspath(source) if source is not None else _default_source()
    parent = root.parent
    parent.mkdir(parents=True, exist_ok=True)
    try:
        wheel, downloaded = _obtain_wheel(source, parent, verbose, timeout)
    except DownloadError as exc:
        if not pip_fallback:
            raise
        wheel, downloaded = _pip_download(parent, exc, timeout), True
    try:
        got = _sha256(wheel)
        if got != MUSICNN_WHEEL_SHA256:
            raise ChecksumError(
                f"SHA-256 of {wheel} (from {source}) is {got}, expected "
                f"{MUSICNN_WHEEL_SHA256} for {MUSICNN_WHEEL}"
                + ("; the download was deleted, run again to download it afresh."
                   if downloaded else "; nothing was unpacked."))
        # force=True, or a folder without manifest: the finished folder replaces it
        with atomic_directory(root, prefix=f".{MUSICNN_VERSION}-", replace=True) as tmp:
            _unpack(wheel, tmp)
    finally:
        if downloaded:
            wheel.unlink(missing_ok=True)
            if wheel.parent != parent:  # pip's download folder
                shutil.rmtree(wheel.parent, ignore_errors=True)
    return root
