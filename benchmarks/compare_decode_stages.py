"""Where the feature-extraction time goes, for several folders of mp3 clips side by side.

Runs ``bench_features.stage_times`` (decode, stereo mixdown, resampling, log-mel, output check;
milliseconds per clip, the ``n_jobs=1`` path) on each folder in turn, interleaved over
``--rounds`` rounds in one process, and keeps the best round per folder; also reports each
folder's sample rates, channels, bitrates and reference frame counts. Use it to see what
separates two sets of recordings (bitrate, sample rate, channels).

Usage::

    python benchmarks/compare_decode_stages.py real44=/work/realmusic/mp3_30s \\
        real48=/work/realmusic/i15_mp3_30s_48k --n-files 14 --out stages.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path


def _bench_features():
    spec = importlib.util.spec_from_file_location(
        "bench_features", Path(__file__).with_name("bench_features.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", metavar="NAME=DIR")
    ap.add_argument("--n-files", type=int, default=14, help="first N *.mp3 of each folder")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    bf = _bench_features()
    sets = {}
    for item in args.sets:
        name, _, folder = item.partition("=")
        sets[name] = [str(p) for p in sorted(Path(folder).rglob("*.mp3"))[:args.n_files]]
    best = {}
    for _ in range(args.rounds):
        for name, files in sets.items():
            ms = bf.stage_times(files)
            best[name] = {s: min(v, best.get(name, {}).get(s, v)) for s, v in ms.items()}
    report = {name: {"stage_ms_per_clip": best[name], "total_ms": sum(best[name].values()),
                     "files": bf.summarize_files(bf.describe_files(files))}
              for name, files in sets.items()}
    args.out.write_text(json.dumps(report, indent=1))
    for name, r in report.items():
        print(name, {k: round(v, 1) for k, v in r["stage_ms_per_clip"].items()},
              round(r["total_ms"], 1))


if __name__ == "__main__":
    main()
