"""Audio synthesis behind :func:`make_fma_like`: genres as distributions of musical traits.

A *genre* is a distribution over traits a listener would name: tempo and swing, a drum
pattern, the timbre and envelope of a lead instrument (additive harmonics with a
spectral roll-off plus FM), a bass line, chord pads, a scale and chord progression,
distortion, and a noise texture (hiss, vinyl crackle). An *artist* draws its own trait
values around its genre's centre (a sub-cluster: its own pattern, scale, progression,
timbres, drum kit); a *track* varies a little around its artist. ``difficulty`` pulls
the genre centres together, widens the artists' spread and makes artists borrow
patterns and scales from other genres, so genres overlap.

Everything is vectorised numpy: each voice is one monophonic line rendered at once
(per-sample note index -> phase accumulator, ADSR envelope, additive and FM
oscillators), drums are single hits convolved with step patterns. Audio is
synthesised at ``min(sr, 22050)`` Hz and resampled to ``sr`` with soxr, so an
output at 44.1 kHz has no content above 11 kHz (a log-mel front end at 22,050 Hz, the
reference recipe, sees all of it).

This is a stand-in for testing and demos. Its "genres" are caricatures written for
this module; what a model learns or scores on them says nothing about real music.
"""

import numpy as np
import soxr
from scipy.signal import lfilter, oaconvolve

__all__ = ["GENRE_TRAITS", "render_track", "sample_artist", "sample_track"]

# Continuous traits: name -> (low, high) valid range.
_RANGES = {
    "tempo": (50.0, 190.0),        # beats per minute
    "swing": (0.0, 0.35),          # delay of off-beat 16ths, fraction of a 16th
    "drum_level": (0.0, 1.0),
    "hat_density": (0.0, 1.0),     # probability of a hi-hat on a 16th step
    "bass_level": (0.0, 1.0),
    "rolloff": (0.4, 3.0),         # harmonic k has amplitude k ** -rolloff (low = bright)
    "fm_index": (0.0, 7.0),
    "attack": (0.001, 0.4),        # seconds
    "decay": (0.04, 1.5),          # seconds
    "sustain": (0.0, 1.0),
    "note_density": (0.25, 4.0),   # lead notes per beat
    "pad_level": (0.0, 1.0),
    "noise_level": (0.0, 0.6),
    "noise_cutoff": (8.0, 13.5),   # log2 of the hiss low-pass cut-off in Hz
    "crackle": (0.0, 1.0),
    "drive": (0.0, 1.0),           # tanh distortion of lead and pads
    "register": (45.0, 84.0),      # MIDI pitch the melody moves around
}

# Genre centres: trait -> (mean, artist sd), and categorical trait probabilities.
GENRE_TRAITS = {
    "Electronic": {
        "tempo": (126, 6), "swing": (0.02, 0.02), "drum_level": (0.8, 0.1),
        "hat_density": (0.7, 0.15), "bass_level": (0.8, 0.1), "rolloff": (1.0, 0.3),
        "fm_index": (2.0, 1.0), "attack": (0.005, 0.005), "decay": (0.15, 0.08),
        "sustain": (0.3, 0.15), "note_density": (2.0, 0.7), "pad_level": (0.4, 0.2),
        "noise_level": (0.05, 0.04), "noise_cutoff": (12.0, 1.0), "crackle": (0.03, 0.03),
        "drive": (0.2, 0.2), "register": (64, 5),
        "pattern": {"four_on_floor": 0.7, "breakbeat": 0.2, "sparse": 0.1},
        "scale": {"minor": 0.5, "pentatonic_minor": 0.2, "dorian": 0.2, "phrygian": 0.1},
        "progression": {"minor_loop": 0.6, "two_chord": 0.3, "pop": 0.1},
    },
    "Experimental": {
        "tempo": (100, 30), "swing": (0.1, 0.1), "drum_level": (0.3, 0.3),
        "hat_density": (0.3, 0.3), "bass_level": (0.3, 0.3), "rolloff": (1.2, 0.6),
        "fm_index": (4.0, 1.5), "attack": (0.05, 0.08), "decay": (0.5, 0.4),
        "sustain": (0.4, 0.3), "note_density": (1.5, 1.2), "pad_level": (0.3, 0.3),
        "noise_level": (0.25, 0.15), "noise_cutoff": (11.0, 2.0), "crackle": (0.2, 0.2),
        "drive": (0.4, 0.4), "register": (66, 12),
        "pattern": {"sparse": 0.5, "none": 0.3, "breakbeat": 0.2},
        "scale": {"whole_tone": 0.35, "chromatic": 0.35, "phrygian": 0.15, "minor": 0.15},
        "progression": {"random": 0.7, "two_chord": 0.3},
    },
    "Folk": {
        "tempo": (96, 12), "swing": (0.05, 0.05), "drum_level": (0.15, 0.15),
        "hat_density": (0.2, 0.15), "bass_level": (0.3, 0.15), "rolloff": (1.8, 0.3),
        "fm_index": (0.3, 0.3), "attack": (0.003, 0.002), "decay": (0.6, 0.2),
        "sustain": (0.05, 0.05), "note_density": (2.0, 0.6), "pad_level": (0.2, 0.15),
        "noise_level": (0.04, 0.03), "noise_cutoff": (11.0, 1.0), "crackle": (0.05, 0.05),
        "drive": (0.0, 0.05), "register": (62, 5),
        "pattern": {"none": 0.5, "waltz": 0.25, "backbeat": 0.25},
        "scale": {"major": 0.5, "pentatonic_major": 0.35, "dorian": 0.15},
        "progression": {"folk": 0.6, "pop": 0.2, "two_chord": 0.2},
    },
    "Hip-Hop": {
        "tempo": (90, 5), "swing": (0.18, 0.06), "drum_level": (0.9, 0.08),
        "hat_density": (0.5, 0.2), "bass_level": (0.9, 0.1), "rolloff": (1.6, 0.4),
        "fm_index": (0.8, 0.6), "attack": (0.01, 0.01), "decay": (0.3, 0.15),
        "sustain": (0.4, 0.2), "note_density": (1.0, 0.5), "pad_level": (0.5, 0.2),
        "noise_level": (0.1, 0.06), "noise_cutoff": (10.0, 0.8), "crackle": (0.5, 0.2),
        "drive": (0.15, 0.15), "register": (60, 5),
        "pattern": {"boom_bap": 0.8, "breakbeat": 0.2},
        "scale": {"minor": 0.4, "pentatonic_minor": 0.3, "dorian": 0.2, "blues": 0.1},
        "progression": {"two_chord": 0.5, "minor_loop": 0.3, "jazz": 0.2},
    },
    "Instrumental": {
        "tempo": (80, 12), "swing": (0.05, 0.05), "drum_level": (0.25, 0.2),
        "hat_density": (0.2, 0.15), "bass_level": (0.4, 0.2), "rolloff": (1.9, 0.4),
        "fm_index": (0.5, 0.5), "attack": (0.15, 0.1), "decay": (0.8, 0.3),
        "sustain": (0.6, 0.2), "note_density": (1.0, 0.5), "pad_level": (0.7, 0.2),
        "noise_level": (0.03, 0.03), "noise_cutoff": (10.5, 1.0), "crackle": (0.03, 0.03),
        "drive": (0.0, 0.05), "register": (67, 6),
        "pattern": {"none": 0.5, "backbeat": 0.25, "waltz": 0.25},
        "scale": {"major": 0.45, "minor": 0.35, "dorian": 0.2},
        "progression": {"jazz": 0.4, "pop": 0.3, "folk": 0.3},
    },
    "International": {
        "tempo": (108, 12), "swing": (0.1, 0.08), "drum_level": (0.6, 0.2),
        "hat_density": (0.6, 0.2), "bass_level": (0.5, 0.2), "rolloff": (1.3, 0.4),
        "fm_index": (1.5, 0.8), "attack": (0.005, 0.005), "decay": (0.4, 0.15),
        "sustain": (0.2, 0.15), "note_density": (2.5, 0.8), "pad_level": (0.3, 0.2),
        "noise_level": (0.05, 0.04), "noise_cutoff": (11.0, 1.0), "crackle": (0.05, 0.05),
        "drive": (0.05, 0.1), "register": (65, 5),
        "pattern": {"clave": 0.6, "four_on_floor": 0.2, "backbeat": 0.2},
        "scale": {"harmonic_minor": 0.45, "phrygian": 0.35, "pentatonic_major": 0.2},
        "progression": {"phrygian": 0.6, "two_chord": 0.4},
    },
    "Pop": {
        "tempo": (112, 8), "swing": (0.04, 0.04), "drum_level": (0.75, 0.12),
        "hat_density": (0.55, 0.15), "bass_level": (0.65, 0.15), "rolloff": (1.4, 0.3),
        "fm_index": (0.8, 0.5), "attack": (0.02, 0.02), "decay": (0.35, 0.15),
        "sustain": (0.5, 0.2), "note_density": (1.5, 0.5), "pad_level": (0.55, 0.2),
        "noise_level": (0.03, 0.03), "noise_cutoff": (11.5, 1.0), "crackle": (0.03, 0.03),
        "drive": (0.1, 0.1), "register": (67, 4),
        "pattern": {"backbeat": 0.8, "four_on_floor": 0.2},
        "scale": {"major": 0.8, "pentatonic_major": 0.1, "minor": 0.1},
        "progression": {"pop": 0.7, "folk": 0.3},
    },
    "Rock": {
        "tempo": (122, 12), "swing": (0.02, 0.02), "drum_level": (0.85, 0.1),
        "hat_density": (0.65, 0.15), "bass_level": (0.7, 0.15), "rolloff": (0.9, 0.3),
        "fm_index": (0.4, 0.3), "attack": (0.005, 0.005), "decay": (0.5, 0.2),
        "sustain": (0.7, 0.15), "note_density": (2.0, 0.6), "pad_level": (0.6, 0.2),
        "noise_level": (0.08, 0.05), "noise_cutoff": (12.0, 1.0), "crackle": (0.05, 0.05),
        "drive": (0.75, 0.15), "register": (60, 5),
        "pattern": {"backbeat": 0.85, "breakbeat": 0.15},
        "scale": {"pentatonic_minor": 0.35, "minor": 0.25, "major": 0.2, "blues": 0.2},
        "progression": {"rock": 0.7, "pop": 0.3},
    },
}

_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "pentatonic_major": (0, 2, 4, 7, 9),
    "pentatonic_minor": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "whole_tone": (0, 2, 4, 6, 8, 10),
    "chromatic": tuple(range(12)),
}

# Chord roots as scale degrees, one chord per bar.
_PROGRESSIONS = {
    "pop": (0, 4, 5, 3),
    "folk": (0, 3, 0, 4),
    "rock": (0, 6, 3, 0),
    "minor_loop": (0, 5, 2, 6),
    "two_chord": (0, 3),
    "jazz": (1, 4, 0, 0),
    "phrygian": (0, 1, 0, 1),
    "random": None,
}

# Drum patterns: steps per bar and the steps of kick, snare, hi-hat (None: from density).
_PATTERNS = {
    "four_on_floor": (16, (0, 4, 8, 12), (4, 12), (2, 6, 10, 14)),
    "backbeat": (16, (0, 8, 10), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14)),
    "boom_bap": (16, (0, 7, 10), (4, 12), (0, 2, 4, 6, 8, 10, 12, 14)),
    "breakbeat": (16, (0, 6, 10), (4, 12, 15), None),
    "clave": (16, (0, 8), (0, 3, 6, 10, 12), None),
    "waltz": (12, (0,), (4, 8), (0, 2, 4, 6, 8, 10)),
    "sparse": (16, None, None, None),
    "none": (16, (), (), ()),
}

_INTERNAL_SR = 22050


def _choice(rng, probs):
    names = list(probs)
    p = np.array([probs[n] for n in names], dtype=float)
    return names[rng.choice(len(names), p=p / p.sum())]


def sample_artist(genre, rng, *, difficulty=0.5):
    """Draw one artist of ``genre``: its trait values, drum pattern, scale, kit.

    Parameters
    ----------
    genre : str
        A key of :data:`GENRE_TRAITS`.
    rng : numpy.random.Generator
    difficulty : float, default=0.5
        In [0, 1]. Genre centres move towards the mean of all genres by
        ``0.6 * difficulty``, the artists' spread grows by ``0.5 + difficulty``,
        and each categorical trait is taken from a random other genre with probability
        ``0.6 * difficulty``.

    Returns
    -------
    artist : dict
        Continuous traits, ``pattern``/``scale``/``progression`` names, per-step drum
        hit arrays ``kick``/``snare``/``hat`` (steps per bar in ``steps``), ``kit``
        parameters, ``pan`` and ``odd`` (odd-harmonics-only lead).
    """
    spec = GENRE_TRAITS[genre]
    genres = list(GENRE_TRAITS)
    artist = {}
    shrink = 0.6 * difficulty
    spread = 0.5 + difficulty
    for name, (lo, hi) in _RANGES.items():
        grand = np.mean([GENRE_TRAITS[g][name][0] for g in genres])
        mean, sd = spec[name]
        centre = grand + (1 - shrink) * (mean - grand)
        artist[name] = float(np.clip(centre + rng.normal(0.0, sd * spread), lo, hi))
    for cat in ("pattern", "scale", "progression"):
        source = spec
        if rng.random() < 0.6 * difficulty:
            source = GENRE_TRAITS[genres[rng.integers(len(genres))]]
        artist[cat] = _choice(rng, source[cat])
    steps, kick, snare, hat = _PATTERNS[artist["pattern"]]
    artist["steps"] = steps
    for part, base, prob in (("kick", kick, 0.15), ("snare", snare, 0.12),
                             ("hat", hat, artist["hat_density"])):
        if base is None:  # sparse / density-driven patterns
            hits = rng.random(steps) < (prob if part == "hat" else 0.18)
        else:
            hits = np.zeros(steps, dtype=bool)
            hits[list(base)] = True
            hits ^= rng.random(steps) < 0.06  # the artist's own variation
        artist[part] = hits.astype(np.float32) * rng.uniform(0.6, 1.0, steps).astype(
            np.float32)
    artist["kit"] = {
        "kick_pitch": float(rng.uniform(40, 75)),
        "kick_decay": float(rng.uniform(0.08, 0.35)),
        "snare_tone": float(rng.uniform(150, 260)),
        "snare_decay": float(rng.uniform(0.06, 0.22)),
        "hat_decay": float(rng.uniform(0.015, 0.08)),
    }
    artist["fm_ratio"] = float(rng.choice([1.0, 2.0, 3.0, 0.5, 1.41, 3.5]))
    artist["odd"] = bool(rng.random() < 0.25)
    artist["pan"] = float(rng.uniform(-0.6, 0.6))
    return artist


def sample_track(artist, rng):
    """Draw one track's traits around its artist's.

    Parameters
    ----------
    artist : dict
        From :func:`sample_artist`.
    rng : numpy.random.Generator

    Returns
    -------
    track : dict
        The artist's traits with continuous ones jittered (sd 4 % of the trait's
        range), a random key, level (``gain_db``) and stereo ``width``.
    """
    track = dict(artist)
    for name, (lo, hi) in _RANGES.items():
        track[name] = float(np.clip(artist[name] + rng.normal(0, 0.04 * (hi - lo)), lo, hi))
    track["key"] = int(rng.integers(12))
    track["gain_db"] = float(rng.uniform(-22, -14))
    track["width"] = float(rng.uniform(0.2, 0.8))
    return track


def _adsr(t_on, dur, attack, decay, sustain, release):
    """ADSR envelope at times ``t_on`` (s since onset) for notes lasting ``dur`` s."""
    env = np.minimum(t_on * np.float32(1.0 / attack), np.float32(1.0))
    env *= np.float32(sustain) + np.float32(1.0 - sustain) * np.exp(
        -np.maximum(t_on - np.float32(attack), 0) * np.float32(1.0 / decay))
    env *= np.exp(-np.maximum(t_on - dur, 0) * np.float32(1.0 / release))
    return env


def _voice(n, sr, onsets, midi, durs, vel, *, rolloff, n_harm, fm_index, fm_ratio,
           attack, decay, sustain, release, odd=False):
    """Render one monophonic line: float32 array of shape (n,).

    ``onsets`` (samples, sorted), ``midi`` pitches, ``durs`` (s), ``vel`` per note.
    A note lasts until the next onset (its release tail included).
    """
    out = np.zeros(n, dtype=np.float32)
    keep = onsets < n
    onsets, midi, durs, vel = onsets[keep], midi[keep], durs[keep], vel[keep]
    if len(onsets) == 0:
        return out
    lengths = np.diff(np.append(onsets, n))
    start = int(onsets[0])
    f_note = 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69) / 12.0)
    # phase accumulated in float64 (30 s of phase), wrapped, then float32
    phase = np.cumsum(np.repeat(f_note * (2 * np.pi / sr), lengths))
    phase = np.mod(phase, 2 * np.pi).astype(np.float32)
    t_on = (np.arange(start, n, dtype=np.float32)
            - np.repeat(onsets.astype(np.float32), lengths)) * np.float32(1.0 / sr)
    env = _adsr(t_on, np.repeat(durs.astype(np.float32), lengths), attack, decay, sustain,
                release)
    env *= np.repeat(vel.astype(np.float32), lengths)
    # FM index decays with the note (brighter attack), as in FM pianos and bells
    mod = np.float32(fm_index) * (np.float32(0.3) + np.float32(0.7) * np.exp(
        -t_on * np.float32(1.0 / (0.5 * decay + 0.05))))
    sig = np.sin(phase + mod * np.sin(np.float32(fm_ratio) * phase))
    # additive harmonics sin(k phase) by the Chebyshev recurrence, below Nyquist only
    k_max = np.repeat((sr / 2 / f_note).astype(np.float32), lengths)
    s1 = np.sin(phase)
    two_cos = 2 * np.cos(phase)
    prev, cur = np.zeros_like(s1), s1
    for k in range(2, n_harm + 1):
        prev, cur = cur, two_cos * cur - prev
        if odd and k % 2 == 0:
            continue
        sig += np.float32(k ** -rolloff) * cur * (k_max > k)
    out[start:] = sig * env
    return out


def _drums(n, sr, track, step_times, rng):
    """Drum stem: float32 array of shape (n,)."""
    kit = track["kit"]
    steps = track["steps"]
    out = np.zeros(n, dtype=np.float32)
    n_steps = len(step_times)
    t = np.arange(int(0.4 * sr)) / sr
    sweep = kit["kick_pitch"] * (1 + 3 * np.exp(-t / 0.03))
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / sr) * np.exp(-t / kit["kick_decay"])
    ts = t[: int(0.3 * sr)]
    noise = rng.standard_normal(len(ts))
    snare = (0.6 * lfilter([1, -0.7], [1], noise) + 0.5 * np.sin(
        2 * np.pi * kit["snare_tone"] * ts)) * np.exp(-ts / kit["snare_decay"])
    th = t[: int(0.15 * sr)]
    hat = np.diff(rng.standard_normal(len(th) + 1)) * np.exp(-th / kit["hat_decay"]) * 0.4
    for pattern, hit in ((track["kick"], kick), (track["snare"], snare),
                         (track["hat"], hat)):
        vel = np.tile(pattern, n_steps // steps + 1)[:n_steps]
        vel = vel * rng.uniform(0.8, 1.0, n_steps)
        pulses = np.zeros(n, dtype=np.float32)
        pos = step_times[vel > 0]
        pulses[pos[pos < n]] = vel[vel > 0][pos < n]
        out += oaconvolve(pulses, hit.astype(np.float32))[:n]
    return out


def render_track(track, *, duration, sr=44100, stereo=True, seed=0):
    """Synthesise one clip from its traits.

    Parameters
    ----------
    track : dict
        From :func:`sample_track`.
    duration : float
        Seconds.
    sr : int, default=44100
        Output sampling rate.
    stereo : bool, default=True
    seed : int or sequence of int, default=0
        Seeds the note-level randomness (melody, velocities, noise).

    Returns
    -------
    audio : ndarray of shape (n_samples, n_channels) of float32
        ``n_samples = round(duration * sr)``; 2 channels if ``stereo`` else 1. Peak
        at most 0.98.
    """
    rng = np.random.default_rng(seed)
    isr = min(sr, _INTERNAL_SR)
    n = int(round(duration * isr))
    tempo = track["tempo"]
    steps_per_beat = 3 if track["steps"] == 12 else 4
    step = 60.0 / tempo / steps_per_beat
    n_steps = int(np.ceil(duration / step)) + 1
    step_s = np.arange(n_steps) * step
    step_s[1::2] += track["swing"] * step  # swing the off-beat steps
    step_times = np.round(step_s * isr).astype(np.int64)
    steps_per_bar = track["steps"]

    # harmony: chord per bar from the progression, triads within the scale
    scale = np.array(_SCALES[track["scale"]])
    n_bars = n_steps // steps_per_bar + 1
    prog = _PROGRESSIONS[track["progression"]]
    if prog is None:
        prog = tuple(int(d) for d in rng.integers(len(scale), size=4))
    roots = np.array([prog[b % len(prog)] for b in range(n_bars)])
    base = 12 * (track["register"] // 12) + track["key"] - 12

    def degree_to_midi(deg, octave_base):
        deg = np.asarray(deg)
        return octave_base + scale[deg % len(scale)] + 12 * (deg // len(scale))

    # lead melody: onsets on the step grid, random walk over scale degrees
    p_note = min(track["note_density"] / steps_per_beat, 1.0)
    hit = rng.random(n_steps) < p_note
    hit[::steps_per_bar] = True
    lead_steps = np.flatnonzero(hit)
    walk = np.cumsum(rng.choice([-2, -1, -1, 0, 1, 1, 2], size=len(lead_steps)))
    walk = np.clip(walk, -len(scale), 2 * len(scale))
    bar_of = lead_steps // steps_per_bar
    chord_tone = roots[bar_of] + 2 * rng.integers(0, 3, size=len(lead_steps))
    strong = (lead_steps % steps_per_beat) == 0
    deg = np.where(strong & (rng.random(len(lead_steps)) < 0.6), chord_tone, walk)
    lead_midi = degree_to_midi(deg, base + 12).astype(float)
    onsets = step_times[lead_steps]
    durs = np.diff(np.append(onsets, n)) / isr * rng.uniform(0.5, 1.0, len(onsets))
    vel = rng.uniform(0.6, 1.0, len(onsets))
    lead = _voice(n, isr, onsets, lead_midi, durs, vel, rolloff=track["rolloff"],
                  n_harm=8, fm_index=track["fm_index"], fm_ratio=track["fm_ratio"],
                  attack=track["attack"], decay=track["decay"], sustain=track["sustain"],
                  release=0.05 + 0.3 * track["decay"], odd=track["odd"])

    # chord pads: three voices changing every bar
    bar_steps = np.arange(0, n_steps, steps_per_bar)
    bar_onsets = step_times[bar_steps]
    bar_durs = np.full(len(bar_onsets), steps_per_bar * step)
    pads = np.zeros(n, dtype=np.float32)
    for j in range(3):
        midi = degree_to_midi(roots[: len(bar_onsets)] + 2 * j, base).astype(float)
        pads += _voice(n, isr, bar_onsets, midi, bar_durs, np.full(len(midi), 0.5),
                       rolloff=track["rolloff"] + 0.6, n_harm=4, fm_index=0.3 * track[
                           "fm_index"], fm_ratio=1.0, attack=0.02 + 2 * track["attack"],
                       decay=1.0, sustain=0.7, release=0.3)

    # bass: chord root on each beat
    beat_steps = np.arange(0, n_steps, steps_per_beat)
    b_on = step_times[beat_steps]
    b_midi = degree_to_midi(roots[beat_steps // steps_per_bar], base - 12).astype(float)
    bass = _voice(n, isr, b_on, b_midi, np.full(len(b_on), 0.8 * steps_per_beat * step),
                  rng.uniform(0.7, 1.0, len(b_on)), rolloff=2.0, n_harm=3, fm_index=0.0,
                  fm_ratio=1.0, attack=0.005, decay=0.25, sustain=0.5, release=0.05)

    drive = track["drive"]
    tonal = lead + track["pad_level"] * pads
    if drive > 0.02:
        g = 1.0 + 10.0 * drive
        peak = np.max(np.abs(tonal)) + 1e-9
        tonal = np.tanh(g * tonal / peak) / np.tanh(g) * peak
    drums = track["drum_level"] * _drums(n, isr, track, step_times, rng)

    # noise texture: low-passed hiss (decorrelated in the two channels) and crackle
    def hiss():
        a = np.exp(-2 * np.pi * 2.0 ** track["noise_cutoff"] / isr)
        h = lfilter([1 - a], [1, -a], rng.standard_normal(n))
        return (h / (np.std(h) + 1e-12)).astype(np.float32)

    crackle = np.zeros(n, dtype=np.float32)
    n_clicks = rng.poisson(track["crackle"] * 8 * duration)
    crackle[rng.integers(0, n, n_clicks)] = rng.uniform(-1, 1, n_clicks)

    centre = tonal * 0.5 + track["bass_level"] * 0.6 * bass + drums + 0.8 * crackle
    pan = track["pan"]
    noise_scale = track["noise_level"] * (np.std(centre) + 1e-3)
    if stereo:
        left = centre + track["width"] * 0.3 * tonal * -pan + noise_scale * hiss()
        right = centre + track["width"] * 0.3 * tonal * pan + noise_scale * hiss()
        audio = np.stack([left, right], axis=1)
    else:
        audio = (centre + noise_scale * hiss())[:, None]
    rms = np.sqrt(np.mean(audio**2)) + 1e-9
    audio *= 10 ** (track["gain_db"] / 20) / rms
    peak = np.max(np.abs(audio))
    if peak > 0.98:
        audio *= 0.98 / peak
    if sr != isr:
        audio = soxr.resample(audio, isr, sr)
        peak = np.max(np.abs(audio))
        if peak > 0.98:
            audio *= 0.98 / peak
    return np.ascontiguousarray(audio, dtype=np.float32)
