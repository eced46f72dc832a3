"""``sklearn-genre tag``: zero-shot MusiCNN tags through ``sklearn_genre.cli.main``."""

import numpy as np
import pandas as pd
import soundfile as sf

from sklearn_genre.cli import main
from sklearn_genre.cli.console import EXIT_DATA, EXIT_OK, EXIT_USAGE
from sklearn_genre.pretrained import predict_tags


def _clips(tmp_path):
    sr = 16000
    t = np.arange(4 * sr) / sr
    a = tmp_path / "tone.wav"
    sf.write(a, 0.3 * np.sin(2 * np.pi * 440 * t), sr)
    b = tmp_path / "noise.flac"
    sf.write(b, 0.2 * np.random.default_rng(0).standard_normal(7 * sr), sr)
    return [str(a), str(b)]


def test_tag_prints_top_tags_and_writes_csv(musicnn_data_home, tmp_path, capsys):
    files = _clips(tmp_path)
    home = [] if musicnn_data_home is None else ["--data-home", str(musicnn_data_home)]
    out_csv = tmp_path / "tags.csv"
    code = main(["tag", *files, "--top-k", "3", "--device", "cpu", "--csv", str(out_csv),
                 "-q", *home])
    assert code == EXIT_OK
    lines = capsys.readouterr().out.strip().splitlines()
    expected = predict_tags(files, top_k=3, data_home=musicnn_data_home, device="cpu")
    assert len(lines) == 2
    for line, (path, rows) in zip(lines, expected.groupby("path", sort=False)):
        assert line == path + ": " + ", ".join(
            f"{t} {p:.2f}" for t, p in zip(rows["tag"], rows["probability"]))
    written = pd.read_csv(out_csv)
    assert list(written.columns) == ["path", "rank", "tag", "probability"]
    np.testing.assert_allclose(written["probability"], expected["probability"], atol=1e-6)


def test_tag_errors_are_clear(tmp_path, capsys):
    files = _clips(tmp_path)
    code = main(["tag", files[0], "--data-home", str(tmp_path / "empty"), "-q"])
    assert code == EXIT_DATA
    assert "fetch-weights musicnn" in capsys.readouterr().err
    assert main(["tag", files[0], "--top-k", "0", "-q"]) == EXIT_USAGE


def test_tag_skip_bad_keeps_going(musicnn_data_home, tmp_path, capsys):
    files = _clips(tmp_path)
    bad = tmp_path / "broken.mp3"
    bad.write_text("not audio")
    home = [] if musicnn_data_home is None else ["--data-home", str(musicnn_data_home)]
    assert main(["tag", str(bad), files[0], "--device", "cpu", "-q", *home]) == EXIT_DATA
    capsys.readouterr()
    code = main(["tag", str(bad), files[0], "--skip-bad", "--device", "cpu", "-q", *home])
    assert code == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.startswith(files[0] + ": ")
    assert "broken.mp3" in captured.err
