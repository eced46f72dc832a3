"""A synthetic data set in FMA's exact layout: the embedded default.

:func:`make_fma_like` writes ``fma_metadata/tracks.csv`` (FMA's 3-line header and all
52 columns), ``fma_metadata/genres.csv`` and mp3 clips ``fma_small/000/000002.mp3``
(44.1 kHz stereo, 256 kbit/s constant bit rate by default), so :func:`load_fma` and
every command that takes FMA run on it unchanged. :func:`load_default_dataset`
generates one into the data home once and loads it.

What it is: eight "genres" named as FMA small's, each a distribution over musical
traits (tempo, swing, drum pattern and kit, lead timbre and envelope, bass, chord
pads, scale and progression, distortion, hiss and crackle; see
:mod:`sklearn_genre.datasets.synthesis`), with artists as sub-clusters inside each
genre and FMA's kind of artist-filtered 80/10/10 split per genre. Genres overlap (the
``difficulty`` knob), so classifiers neither fail nor reach 100 %, and an artist-filtered
split scores lower than a random one, as on real data.

What it is not: music, or evidence about music. Its genres are caricatures written by
hand; accuracies on it test that a pipeline works and compare models on a controlled
task, they say nothing about how a model does on FMA or any real recording.
"""

import hashlib
import json
import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .._compat import Interval, validate_params
from ..atomic import atomic_directory, atomic_write, write_json
from .fma import FMA_GENRES, KNOWN_BROKEN_TRACKS, TRACKS_COLUMNS, fma_audio_path, load_fma
from .home import get_data_home
from .synthesis import render_track, sample_artist, sample_track

__all__ = ["SYNTHESIS_VERSION", "load_default_dataset", "make_fma_like"]

#: Bumped whenever the generated audio or metadata change, so that
#: :func:`load_default_dataset` regenerates instead of reusing an older set.
SYNTHESIS_VERSION = 1

_MARKER = "make_fma_like.json"
_LICENSE = "Attribution-NonCommercial-ShareAlike 3.0 International"
_BIO = ('<p>Synthetic artist made by sklearn_genre, "not a real one", with commas,\n'
        "quotes and a line break (as FMA's free-text fields have).</p>")


def _track_ids(n, rng):
    """FMA-like sparse, increasing ids from 2, skipping the known-broken ones."""
    ids = 2 + np.cumsum(np.concatenate([[0], rng.integers(1, 5, size=n - 1)]))
    ids = ids[~np.isin(ids, list(KNOWN_BROKEN_TRACKS))]
    while len(ids) < n:
        more = ids[-1] + 1 + np.arange(n - len(ids))
        ids = np.concatenate([ids, more[~np.isin(more, list(KNOWN_BROKEN_TRACKS))]])
    return ids[:n].astype(np.int64)


def _split_counts(n):
    """Exact 80/10/10 track counts of one genre (valid and test at least 1)."""
    n_valid = max(1, int(round(0.1 * n)))
    n_test = max(1, int(round(0.1 * n)))
    return n - n_valid - n_test, n_valid, n_test


def _plan(n_per_genre, n_artists, difficulty, rng):
    """Per-genre artists and their tracks: list of (genre, artist_no, split, artist)."""
    rows = []
    for genre in FMA_GENRES:
        counts = _split_counts(n_per_genre)
        a_valid = min(counts[1], max(1, int(round(n_artists * counts[1] / n_per_genre))))
        a_test = min(counts[2], max(1, int(round(n_artists * counts[2] / n_per_genre))))
        a_train = min(counts[0], max(1, n_artists - a_valid - a_test))
        for split, n_tracks, n_art in zip(("training", "validation", "test"), counts,
                                          (a_train, a_valid, a_test)):
            artists = [sample_artist(genre, rng, difficulty=difficulty)
                       for _ in range(n_art)]
            # every artist has a track, the rest spread unevenly (Dirichlet shares)
            extra = rng.multinomial(n_tracks - n_art, rng.dirichlet(np.ones(n_art)))
            for a, artist in enumerate(artists):
                rows += [(genre, (split, a), split, artist)] * (1 + int(extra[a]))
    return rows


def _render_one(path, artist, *, random_state, track_id, duration, sr, stereo,
                compression_level):
    seed = [random_state, int(track_id)]
    track = sample_track(artist, np.random.default_rng(seed + [1]))
    audio = render_track(track, duration=duration, sr=sr, stereo=stereo, seed=seed)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb", suffix=".mp3") as f:
        sf.write(f, audio if stereo else audio[:, 0], sr, format="MP3",
                 subtype="MPEG_LAYER_III", compression_level=compression_level,
                 bitrate_mode="CONSTANT")
    return track["tempo"], os.path.getsize(path)


# soundfile's compression_level for a constant bit rate (libsndfile 1.2 + LAME, 44.1 kHz)
_BIT_RATES = {320: 0.0, 256: 0.2, 192: 0.4, 128: 0.6}


@validate_params(
    {
        "root": [str, os.PathLike],
        "n_per_genre": [Interval(Integral, 3, None, closed="left")],
        "duration": [Interval(Real, 0.1, None, closed="left")],
        "n_artists_per_genre": [Interval(Integral, 3, None, closed="left"), None],
        "difficulty": [Interval(Real, 0, 1, closed="both")],
        "sr": [Interval(Integral, 8000, None, closed="left")],
        "stereo": ["boolean"],
        "bit_rate": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "verbose": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_fma_like(root, *, n_per_genre=50, duration=30.0, n_artists_per_genre=None,
                  difficulty=0.5, sr=44100, stereo=True, bit_rate=256, random_state=0,
                  n_jobs=None, verbose=True):
    """Write a synthetic data set with FMA small's layout, genres and split, and load it.

    Parameters
    ----------
    root : str or path-like
        Output folder; ``root/fma_metadata/`` and ``root/fma_small/`` are written
        (existing files of the same names are overwritten).
    n_per_genre : int, default=50
        Clips per genre (8 genres).
    duration : float, default=30.0
        Clip length in seconds (FMA's clips: 30 s).
    n_artists_per_genre : int, default=None
        Artists per genre; default ``max(3, n_per_genre // 4)`` (about 4 clips each).
    difficulty : float, default=0.5
        In [0, 1]: how much genres overlap (0: well separated caricatures, 1: genre
        centres pulled 60 % together, wide artist spread, artists often borrowing
        another genre's drum pattern, scale or progression).
    sr : int, default=44100
        Sampling rate of the mp3 files.
    stereo : bool, default=True
    bit_rate : {128, 192, 256, 320}, default=256
        Constant mp3 bit rate in kbit/s at 44.1 kHz (lower sampling rates get lower
        rates from the encoder). ``('track', 'bit_rate')`` records the measured rate of
        each file in bit/s, as FMA does.
    random_state : int, default=0
        Seeds everything. Each clip is seeded from ``(random_state, track_id)``, so
        the output does not depend on ``n_jobs``.
    n_jobs : int, default=None
        Clips rendered and encoded in parallel with :class:`joblib.Parallel`.
    verbose : bool, default=True
        tqdm progress bar.

    Returns
    -------
    bunch : Bunch
        :func:`load_fma` of the written set (``subset="small"``).

    Notes
    -----
    ``tracks.csv`` has FMA's 52 columns; the ones :func:`load_fma` uses are
    ``('set', 'split')``, ``('set', 'subset')`` (all ``"small"``),
    ``('track', 'genre_top')`` and ``('artist', 'id')``; ``('track', 'genres')`` and
    ``genres_all`` hold ``"[21]"``-style lists, the others plausible values. Each genre
    is split 80/10/10 with every artist in one split only (as FMA's official split).
    See the module docstring for what this data set is and is not.
    """
    if bit_rate not in _BIT_RATES:
        raise ValueError(f"bit_rate must be one of {sorted(_BIT_RATES)}, got {bit_rate}.")
    root = Path(root)
    meta_dir = root / "fma_metadata"
    audio_dir = root / "fma_small"
    meta_dir.mkdir(parents=True, exist_ok=True)
    n_artists = n_artists_per_genre or max(3, n_per_genre // 4)
    rng = np.random.default_rng([random_state, 0])
    plan = _plan(n_per_genre, n_artists, difficulty, rng)
    order = rng.permutation(len(plan))  # genres interleaved along the ids, as in FMA
    plan = [plan[i] for i in order]
    track_ids = _track_ids(len(plan), rng)

    # artist ids: global, in order of first appearance
    artist_keys = {}
    for genre, key, _, _ in plan:
        artist_keys.setdefault((genre, key), len(artist_keys) + 1)

    paths = [fma_audio_path(audio_dir, t) for t in track_ids]
    tasks = (
        delayed(_render_one)(path, artist, random_state=random_state, track_id=tid,
                             duration=duration, sr=sr, stereo=stereo,
                             compression_level=_BIT_RATES[bit_rate])
        for path, tid, (_, _, _, artist) in zip(paths, track_ids, plan)
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    done = list(tqdm(results, total=len(plan), desc="make_fma_like", unit="clip",
                     disable=not verbose))
    tempos = [d[0] for d in done]
    # the bit rate actually written (kbit/s rounded, in bit/s as FMA's column)
    bit_rates = [int(round(d[1] * 8 / duration / 1000)) * 1000 for d in done]
    _write_metadata(meta_dir, plan, track_ids, artist_keys, tempos, bit_rates, duration,
                    rng)
    return load_fma(root, subset="small")


def _write_metadata(meta_dir, plan, track_ids, artist_keys, tempos, bit_rates, duration,
                    rng):
    n = len(plan)
    genre = [p[0] for p in plan]
    artist_id = np.array([artist_keys[(p[0], p[1])] for p in plan], dtype=np.int64)
    gid = [FMA_GENRES[g] for g in genre]
    created = pd.Timestamp("2008-11-26 01:44:45") + pd.to_timedelta(
        np.sort(rng.integers(0, 8 * 365 * 86400, n)), unit="s")
    created = created.strftime("%Y-%m-%d %H:%M:%S")
    album_id = artist_id * 10 + rng.integers(0, 3, n)
    nan = np.full(n, np.nan)
    values = {
        ("album", "comments"): np.zeros(n, dtype=np.int64),
        ("album", "date_created"): created,
        ("album", "date_released"): created.str[:10] + " 00:00:00",
        ("album", "engineer"): nan,
        ("album", "favorites"): rng.integers(0, 10, n),
        ("album", "id"): album_id,
        ("album", "information"): ["<p>Synthetic album.</p>"] * n,
        ("album", "listens"): rng.integers(100, 100_000, n),
        ("album", "producer"): nan,
        ("album", "tags"): ["[]"] * n,
        ("album", "title"): [f"Album {a}" for a in album_id],
        ("album", "tracks"): rng.integers(1, 20, n),
        ("album", "type"): ["Album"] * n,
        ("artist", "active_year_begin"): nan,
        ("artist", "active_year_end"): nan,
        ("artist", "associated_labels"): nan,
        ("artist", "bio"): [_BIO] * n,
        ("artist", "comments"): np.zeros(n, dtype=np.int64),
        ("artist", "date_created"): created,
        ("artist", "favorites"): rng.integers(0, 50, n),
        ("artist", "id"): artist_id,
        ("artist", "latitude"): nan,
        ("artist", "location"): nan,
        ("artist", "longitude"): nan,
        ("artist", "members"): nan,
        ("artist", "name"): [f"Synthetic {g} Artist {a}" for g, a in zip(genre, artist_id)],
        ("artist", "related_projects"): nan,
        ("artist", "tags"): ["['synthetic']"] * n,
        ("artist", "website"): nan,
        ("artist", "wikipedia_page"): nan,
        ("set", "split"): [p[2] for p in plan],
        ("set", "subset"): ["small"] * n,
        ("track", "bit_rate"): np.array(bit_rates, dtype=np.int64),
        ("track", "comments"): np.zeros(n, dtype=np.int64),
        ("track", "composer"): nan,
        ("track", "date_created"): created,
        ("track", "date_recorded"): nan,
        ("track", "duration"): np.full(n, int(round(duration)), dtype=np.int64),
        ("track", "favorites"): rng.integers(0, 20, n),
        ("track", "genre_top"): genre,
        ("track", "genres"): [f"[{g}]" for g in gid],
        ("track", "genres_all"): [f"[{g}]" for g in gid],
        ("track", "information"): nan,
        ("track", "interest"): rng.integers(100, 50_000, n),
        ("track", "language_code"): ["en"] * n,
        ("track", "license"): [_LICENSE] * n,
        ("track", "listens"): rng.integers(50, 20_000, n),
        ("track", "lyricist"): nan,
        ("track", "number"): rng.integers(1, 15, n),
        ("track", "publisher"): nan,
        ("track", "tags"): [f"['{g.lower()}', '{t:.0f} bpm']" for g, t in zip(genre, tempos)],
        ("track", "title"): [f"Synthetic track {t}" for t in track_ids],
    }
    tracks = pd.DataFrame({col: values[col] for col in TRACKS_COLUMNS},
                          index=pd.Index(track_ids, name="track_id"))
    tracks.columns = pd.MultiIndex.from_tuples(TRACKS_COLUMNS)
    tracks = tracks.sort_index()
    tracks.to_csv(meta_dir / "tracks.csv")

    counts = pd.Series(genre).value_counts()
    genres = pd.DataFrame(
        {
            "#tracks": [int(counts.get(g, 0)) for g in FMA_GENRES],
            "parent": 0,
            "title": list(FMA_GENRES),
            "top_level": list(FMA_GENRES.values()),
        },
        index=pd.Index(list(FMA_GENRES.values()), name="genre_id"),
    ).sort_index()
    genres.to_csv(meta_dir / "genres.csv")


@validate_params(
    {
        "data_home": [str, os.PathLike, None],
        "n_per_genre": [Interval(Integral, 3, None, closed="left")],
        "duration": [Interval(Real, 0.1, None, closed="left")],
        "difficulty": [Interval(Real, 0, 1, closed="both")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "sr": [Interval(Integral, 8000, None, closed="left")],
        "stereo": ["boolean"],
        "n_jobs": [Integral, None],
        "verbose": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_default_dataset(data_home=None, *, n_per_genre=30, duration=30.0, difficulty=0.5,
                         random_state=0, sr=44100, stereo=True, n_jobs=None, verbose=True,
                         **load_kwargs):
    """Load the embedded default data set, generating it into the data home once.

    The set is :func:`make_fma_like`'s output for the given parameters, kept in
    ``data_home / "synthetic" / <name>`` (the name spells the parameters, e.g.
    ``fma_like-30x30s-d0.5-rs0-44100st-<hash>``) with a ``make_fma_like.json`` marker
    recording the parameters (written last, so an interrupted generation is redone).
    Other parameters give another folder; the same parameters reuse the folder without
    regenerating.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    n_per_genre, duration, difficulty, random_state, sr, stereo
        Passed to :func:`make_fma_like` (``bit_rate=256``). ``sr=22050,
        stereo=False`` generates about twice as fast (mp3 encoding dominates) and
        gives the same log-mel features at 22,050 Hz mono.
    n_jobs : int, default=None
        Parallel generation (does not change the data).
    verbose : bool, default=True
    **load_kwargs
        Passed to :func:`load_fma`.

    Returns
    -------
    bunch : Bunch
        See :func:`load_fma`; also ``generated`` (True when generated by this call).
    """
    params = {"n_per_genre": n_per_genre, "duration": float(duration),
              "difficulty": float(difficulty), "random_state": random_state,
              "sr": sr, "stereo": stereo, "bit_rate": 256, "version": SYNTHESIS_VERSION}
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    name = (f"fma_like-{n_per_genre}x{float(duration):g}s-d{float(difficulty):g}"
            f"-rs{random_state}-{sr}{'st' if stereo else 'mo'}-{digest}")
    folder = get_data_home(data_home) / "synthetic" / name
    marker = folder / _MARKER
    generated = False
    if not (marker.is_file() and json.loads(marker.read_text()) == params):
        # replace=True: an interrupted or outdated generation of ours is replaced.
        with atomic_directory(folder, replace=True) as tmp:
            make_fma_like(tmp, n_per_genre=n_per_genre, duration=duration,
                          difficulty=difficulty, random_state=random_state, sr=sr,
                          stereo=stereo, bit_rate=256, n_jobs=n_jobs, verbose=verbose)
            write_json(tmp / _MARKER, params, indent=1, sort_keys=True, fsync=False)
        generated = True
    bunch = load_fma(folder, subset="small", **load_kwargs)
    if hasattr(bunch, "DESCR"):
        bunch.DESCR = (f"Synthetic FMA-shaped data set ({name}); a stand-in for tests and "
                       "demos, not real music. " + bunch.DESCR)
        bunch.generated = generated
    return bunch
