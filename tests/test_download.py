"""fetch_fma / download_file against a local HTTP server (never the real host)."""

import hashlib
import http.server
import io
import socket
import threading
import zipfile

import pytest

from sklearn_genre.datasets import (
    FMA_ARCHIVES,
    ChecksumError,
    DownloadError,
    download_file,
    fetch_fma,
    make_fma_like,
)


class _Server:
    """Serves ``files`` (name -> bytes) with optional HTTP Range support."""

    def __init__(self, files, *, ranges=True):
        self.files, self.ranges, self.requests = files, ranges, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Range")))
                data = outer.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if outer.ranges and rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _sha1(data):
    return hashlib.sha1(data).hexdigest()


PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


def test_download_verifies_checksum_and_renames(tmp_path):
    with _Server({"a.zip": PAYLOAD}) as srv:
        out = download_file(srv.url + "a.zip", tmp_path / "a.zip", sha1=_sha1(PAYLOAD),
                            verbose=True)
    assert out.read_bytes() == PAYLOAD
    assert not (tmp_path / "a.zip.part").exists()


def test_checksum_mismatch_leaves_no_file(tmp_path):
    with _Server({"a.zip": PAYLOAD}) as srv, pytest.raises(ChecksumError, match="SHA1"):
        download_file(srv.url + "a.zip", tmp_path / "a.zip", sha1="0" * 40, verbose=False)
    assert list(tmp_path.iterdir()) == []


def test_resume_partial_download_with_range(tmp_path):
    (tmp_path / "a.zip.part").write_bytes(PAYLOAD[:300_000])
    with _Server({"a.zip": PAYLOAD}) as srv:
        download_file(srv.url + "a.zip", tmp_path / "a.zip", sha1=_sha1(PAYLOAD),
                      verbose=False)
    assert srv.requests == [("/a.zip", "bytes=300000-")]
    assert (tmp_path / "a.zip").read_bytes() == PAYLOAD


def test_resume_complete_part_and_server_without_ranges(tmp_path):
    (tmp_path / "a.zip.part").write_bytes(PAYLOAD)  # server answers 416
    with _Server({"a.zip": PAYLOAD}) as srv:
        download_file(srv.url + "a.zip", tmp_path / "a.zip", sha1=_sha1(PAYLOAD),
                      verbose=False)
    assert (tmp_path / "a.zip").read_bytes() == PAYLOAD
    (tmp_path / "b.zip.part").write_bytes(b"garbage")
    with _Server({"b.zip": PAYLOAD}, ranges=False) as srv:  # ignores Range: start over
        download_file(srv.url + "b.zip", tmp_path / "b.zip", sha1=_sha1(PAYLOAD),
                      verbose=False)
    assert (tmp_path / "b.zip").read_bytes() == PAYLOAD


def test_no_network_is_a_clear_error(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused
    url = f"http://127.0.0.1:{port}/fma_metadata.zip"
    with pytest.raises(DownloadError, match=f"Cannot download {url}") as err:
        download_file(url, tmp_path / "m.zip", verbose=False, timeout=5)
    assert "network" in str(err.value) and str(tmp_path / "m.zip") in str(err.value)
    with pytest.raises(DownloadError, match="127.0.0.1"):
        fetch_fma("small", tmp_path, base_url=f"http://127.0.0.1:{port}/", verbose=False,
                  timeout=5)
    with _Server({}) as srv, pytest.raises(DownloadError, match="HTTP 404"):
        download_file(srv.url + "x.zip", tmp_path / "x.zip", verbose=False)


def _zip(folder, arcname_root):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{arcname_root}/{p.relative_to(folder).as_posix()}")
    return buf.getvalue()


def test_fetch_fma_end_to_end(tmp_path):
    src = tmp_path / "src"
    made = make_fma_like(src, n_per_genre=3, duration=0.2, sr=22050, stereo=False,
                         verbose=False)
    files = {"fma_metadata.zip": _zip(src / "fma_metadata", "fma_metadata"),
             "fma_small.zip": _zip(src / "fma_small", "fma_small")}
    sums = {name: _sha1(data) for name, data in files.items()}
    home = tmp_path / "home"
    with _Server(files) as srv:
        b = fetch_fma("small", home, base_url=srv.url, checksums=sums, verbose=False)
        assert len(srv.requests) == 2
        assert b.frame.drop(columns="path").equals(made.frame.drop(columns="path"))
        assert b.paths[0].startswith(str(home / "fma" / "fma_small"))
        assert not list((home / "fma").glob("*.zip"))  # archives deleted
        again = fetch_fma("small", home, base_url=srv.url, checksums=sums, verbose=False)
        assert len(srv.requests) == 2  # nothing downloaded the second time
        assert list(again.paths) == list(b.paths)
    with pytest.raises(FileNotFoundError, match="download_if_missing"):
        fetch_fma("medium", home, download_if_missing=False)
    bad = tmp_path / "bad"
    with _Server(files) as srv, pytest.raises(ChecksumError):
        fetch_fma("small", bad, base_url=srv.url, verbose=False)  # FMA's real SHA1s
    assert not (bad / "fma" / "fma_metadata").exists()


def test_published_checksums():
    assert FMA_ARCHIVES["fma_small.zip"] == "ade154f733639d52e35e32f5593efe5be76c6d70"
    assert FMA_ARCHIVES["fma_metadata.zip"] == "f0df49ffe5f2a6008d7dc83c6915b31835dfe733"
