"""Download FMA's archives: checksum verification, resume, progress bar, extraction.

Only the standard library's :mod:`urllib` is used for HTTP. A download goes to
``<archive>.part`` and is resumed from there with an HTTP ``Range`` request; the final
``<archive>`` name only ever holds a file whose SHA1 matched.
"""

import hashlib
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from .._compat import StrOptions, validate_params
from ..exceptions import ChecksumError, DownloadError
from .fma import SUBSETS, load_fma
from .home import get_data_home

__all__ = [
    "FMA_ARCHIVES",
    "FMA_BASE_URL",
    "ChecksumError",
    "DownloadError",
    "download_file",
    "fetch_fma",
]

#: Where FMA publishes its archives (FMA's README).
FMA_BASE_URL = "https://os.unil.cloud.switch.ch/fma/"

#: Archive name -> published SHA1 checksum (FMA's README).
FMA_ARCHIVES = {
    "fma_metadata.zip": "f0df49ffe5f2a6008d7dc83c6915b31835dfe733",
    "fma_small.zip": "ade154f733639d52e35e32f5593efe5be76c6d70",
    "fma_medium.zip": "c67b69ea232021025fca9231fc1c7c1a063ab50b",
    "fma_large.zip": "497109f4dd721066b5ce5e5f250ec604dc78939e",
}

_CHUNK = 1 << 20


def _sha1(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _manual_hint(url, path):
    return (f"Check the network connection (and a proxy through the https_proxy "
            f"variable), or download {url} by other means (e.g. `curl -C - -o {path} "
            f"{url}`) and put it at {path}; it will then be verified and used.")


def download_file(url, path, *, sha1=None, resume=True, verbose=True, timeout=60.0):
    """Download ``url`` to ``path``, resuming a partial download, verifying SHA1.

    Data goes to ``path + ".part"``. If that file exists and ``resume`` is True, the
    download continues from its end with an HTTP ``Range`` request (a server that
    ignores ranges makes it start over). Only after the SHA1 matches is the file
    renamed to ``path``; on a mismatch the partial file is deleted.

    Parameters
    ----------
    url : str
    path : str or path-like
        Final location.
    sha1 : str, default=None
        Expected hex SHA1; None skips verification.
    resume : bool, default=True
    verbose : bool, default=True
        Show a tqdm progress bar.
    timeout : float, default=60.0
        Socket timeout in seconds.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    DownloadError
        If the server cannot be reached or answers with an HTTP error.
    ChecksumError
        If the SHA1 does not match.
    """
    path = Path(path)
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if (resume and part.exists()) else 0
    request = urllib.request.Request(url, headers={"User-Agent": "sklearn_genre"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # range past the end: the .part is complete
            response = None
        else:
            raise DownloadError(f"Downloading {url} failed: HTTP {exc.code} {exc.reason}. "
                                + _manual_hint(url, path)) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"Cannot download {url}: {reason}. "
                            + _manual_hint(url, path)) from exc
    if response is not None:
        with response:
            if start and response.status != 206:
                start = 0  # the server ignored the Range header: start over
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            mode = "ab" if start else "wb"
            try:
                with open(part, mode) as out, tqdm(
                    total=total, initial=start, unit="B", unit_scale=True,
                    unit_divisor=1024, desc=path.name, disable=not verbose,
                ) as bar:
                    for block in iter(lambda: response.read(_CHUNK), b""):
                        out.write(block)
                        bar.update(len(block))
            except OSError as exc:  # connection dropped mid-way: keep .part for resume
                raise DownloadError(
                    f"Download of {url} interrupted after {part.stat().st_size} bytes "
                    f"({exc}); run again to resume from {part}."
                ) from exc
            if total is not None and part.stat().st_size < total:
                raise DownloadError(
                    f"Download of {url} ended early ({part.stat().st_size} of {total} "
                    f"bytes); run again to resume from {part}."
                )
    if sha1 is not None:
        got = _sha1(part)
        if got != sha1.lower():
            part.unlink()
            raise ChecksumError(
                f"SHA1 of the file downloaded from {url} is {got}, expected {sha1}; the "
                "corrupt download was deleted. Run again to download it afresh."
            )
    os.replace(part, path)
    return path


def _extract(archive, dest):
    """Extract a zip archive into ``dest`` (zipfile refuses paths leaving ``dest``)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise ChecksumError(f"{archive} is not a valid zip archive ({exc}); delete it and "
                            "download it again.") from exc


@validate_params(
    {
        "subset": [StrOptions(set(SUBSETS))],
        "data_home": [str, os.PathLike, None],
        "base_url": [str],
        "checksums": [dict, None],
        "download_if_missing": ["boolean"],
        "keep_archives": ["boolean"],
        "verbose": ["boolean"],
        "timeout": [float, int],
    },
    prefer_skip_nested_validation=True,
)
def fetch_fma(subset="small", data_home=None, *, base_url=FMA_BASE_URL, checksums=None,
              download_if_missing=True, keep_archives=False, verbose=True, timeout=60.0,
              **load_kwargs):
    """Download (once) and load an FMA subset.

    Downloads ``fma_metadata.zip`` and ``fma_{subset}.zip`` from FMA's published
    location into ``data_home / "fma"``, verifies their SHA1 checksums, extracts
    them there (``fma/fma_metadata/``, ``fma/fma_{subset}/``) and returns
    :func:`load_fma`'s Bunch. Interrupted downloads resume; finished steps are skipped
    on later calls (a ``.<archive>.extracted`` marker records each extraction).

    Parameters
    ----------
    subset : {"small", "medium", "large"}, default="small"
        ``small`` is 7.2 GiB, ``medium`` 22 GiB, ``large`` 93 GiB.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    base_url : str, default=FMA_BASE_URL
        Folder URL of the archives (a mirror, or a local server in tests).
    checksums : dict, default=None
        Archive name -> SHA1, overriding :data:`FMA_ARCHIVES` (e.g. for a mirror of
        re-packed archives). A name mapped to None is not verified.
    download_if_missing : bool, default=True
        If False, raise :class:`FileNotFoundError` instead of downloading.
    keep_archives : bool, default=False
        Keep the zip files after extraction (else they are deleted).
    verbose : bool, default=True
        Progress bars.
    timeout : float, default=60.0
        Socket timeout in seconds.
    **load_kwargs
        Passed to :func:`load_fma` (``on_missing``, ``as_frame``, ...).

    Returns
    -------
    bunch : Bunch
        See :func:`load_fma`.

    Raises
    ------
    DownloadError
        Without network or on an HTTP error, naming the URL and how to download by hand.
    ChecksumError
        If an archive's SHA1 does not match (the corrupt file is deleted).
    """
    root = get_data_home(data_home) / "fma"
    root.mkdir(parents=True, exist_ok=True)
    sums = {**FMA_ARCHIVES, **(checksums or {})}
    for name in ("fma_metadata.zip", f"fma_{subset}.zip"):
        marker = root / f".{name}.extracted"
        if marker.exists():
            continue
        archive = root / name
        if not archive.exists():
            if not download_if_missing:
                raise FileNotFoundError(f"{archive} is not there and "
                                        "download_if_missing=False.")
            download_file(base_url.rstrip("/") + "/" + name, archive, sha1=sums.get(name),
                          verbose=verbose, timeout=timeout)
        elif sums.get(name) is not None and _sha1(archive) != sums[name]:
            raise ChecksumError(f"{archive} does not have the SHA1 {sums[name]}; delete it "
                                "and run again to download it afresh.")
        _extract(archive, root)
        marker.write_text(sums.get(name) or "unverified\n")
        if not keep_archives:
            archive.unlink()
    return load_fma(root, subset=subset, **load_kwargs)
