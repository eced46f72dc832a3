"""``sklearn-genre tag``: zero-shot MusiCNN tags through ``sklearn_genre.cli.main``."""

import io
import json

import numpy as np
import pandas as pd
import soundfile as sf

from sklearn_genre.cli import main
from sklearn_genre.cli.console import EXIT_DATA, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from sklearn_genre.pretrained import predict_tags


def _clips(tmp_path):
    sr = 16000
    t = np.arange(4 * sr) / sr
    a = tmp_path / "tone.wav"
    sf.write(a, 0.3 * np.sin(2 * np.pi * 440 * t), sr)
    b = tmp_path / "sub" / "noise.flac"
    b.parent.mkdir()
    sf.write(b, 0.2 * np.random.default_rng(0).standard_normal(7 * sr), sr)
    return [str(a), str(b)]


def _home(data_home):
    return [] if data_home is None else ["--data-home", str(data_home)]


def test_tag_writes_the_library_table_as_csv_and_json(musicnn_data_home, tmp_path, capsys):
    files = _clips(tmp_path)
    expected = predict_tags(files, top_k=3, data_home=musicnn_data_home, device="cpu",
                            on_error="record")  # the command's default policy: report
    code = main(["tag", files[0], str(tmp_path / "sub"), "--top-k", "3", "--device", "cpu",
                 "-q", *_home(musicnn_data_home)])
    assert code == EXIT_OK
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns) == list(expected.columns)
    assert list(table["path"]) == files  # a folder is searched for audio files
    assert list(table["top1"]) == list(expected["top1"])
    np.testing.assert_allclose(table["p1"], expected["p1"], rtol=1e-5)
    out = tmp_path / "tags.json"
    assert main(["tag", *files, "--format", "json", "-o", str(out), "--top-k", "2", "-q",
                 "--device", "cpu", *_home(musicnn_data_home)]) == EXIT_OK
    records = json.loads(out.read_text())
    assert [r["top1"] for r in records] == list(expected["top1"])
    assert set(records[0]) == {"path", "top1", "p1", "top2", "p2", "error"}


def test_tag_errors_are_clear(tmp_path, capsys):
    files = _clips(tmp_path)
    code = main(["tag", files[0], "--data-home", str(tmp_path / "empty"), "-q"])
    assert code == EXIT_DATA
    assert "fetch-weights musicnn" in capsys.readouterr().err
    assert main(["tag", files[0], "--top-k", "0", "-q"]) == EXIT_USAGE


def test_tag_keeps_going_past_a_bad_file(musicnn_data_home, tmp_path, capsys):
    files = _clips(tmp_path)
    bad = tmp_path / "broken.mp3"
    bad.write_text("not audio")
    home = _home(musicnn_data_home)
    # default: every good file tagged, the bad one listed with its reason, exit code 6
    assert main(["tag", str(bad), files[0], "--device", "cpu", "-q", *home]) == EXIT_PARTIAL
    captured = capsys.readouterr()
    assert "broken.mp3: not audio" in captured.err and "1 of 2 files" in captured.err
    table = pd.read_csv(io.StringIO(captured.out), keep_default_na=False)
    assert table.loc[1, "top1"] != "" and table.loc[1, "error"] == ""
    assert main(["tag", str(bad), files[0], "--on-error", "raise", "--device", "cpu", "-q",
                 *home]) == EXIT_DATA
    assert "broken.mp3" in capsys.readouterr().err
    code = main(["tag", str(bad), files[0], "--skip-errors", "--device", "cpu", "-q", *home])
    assert code == EXIT_OK
    table = pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)
    assert list(table["path"]) == [str(bad), files[0]]
    assert "broken.mp3" in table.loc[0, "error"] and table.loc[1, "error"] == ""
