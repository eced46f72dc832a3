"""MusiCNN's front-end: the port's matrix products against the layer-by-layer computation.

The front-end (two timbral and three temporal filter banks, each followed by ReLU, batch norm
and a max over frequency) is where the network spends its time. Two ways to compute it, with
the released ``MSD_musicnn`` weights, on the same patches, interleaved in one process:

``layers``
    The original graph's layers as PyTorch runs them: ``Conv2d`` (oneDNN), ReLU, batch norm,
    ``amax`` over frequency, on the whole feature maps (what the port did before).
``port``
    :class:`sklearn_genre.pretrained.MusiCNN`'s front-end: the max (or min, by the sign of
    the batch-norm scale) over frequency first, ReLU and batch norm on the reduced map, each
    filter bank as unfolded windows times a filter matrix.

It also times the port's whole forward pass (front-, mid- and back-end) and reports the max
abs difference of the two front-ends' outputs. Each timing is the best of ``--repeats``
interleaved rounds; the ratio is taken within a round (median and range over rounds).

Where the port's time goes: the share of the forward pass spent in matrix products
(``torch.profiler``), the front-end's FLOPs and the rate they run at, against the rate of a
large square float32 product (4096 x 4096, the machine's practical limit); with ``--audio
FILES``, the per-clip stages of :class:`~sklearn_genre.pretrained.MusicnnTransformer`
(decoding and resampling to 16 kHz, the log-mel and patches, the network), best of the
rounds, averaged over the files.

Usage::

    python benchmarks/bench_musicnn_forward.py [--patches 10] [--repeats 7] [--quick]

Writes ``bench_musicnn_forward.json`` and ``.md`` to ``--out`` (default ``benchmarks/out``).
Needs the weights (``sklearn-genre fetch-weights musicnn``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from sklearn_genre.atomic import atomic_write, write_json
from sklearn_genre.pretrained import load_musicnn
from sklearn_genre.provenance import package_versions, platform_info


def front_layers(net, x):
    """The front-end as the original graph's layers: (B, T, 96) -> (B, 561, T)."""
    x = net.bn_input(x.unsqueeze(1))
    padded = F.pad(x, (0, 0, 3, 3))
    front = [bn(F.relu(conv(padded))).amax(dim=3)
             for conv, bn in zip(net.timbral, net.bn_front[:2])]
    for conv, bn in zip(net.temporal, net.bn_front[2:]):
        k = conv.kernel_size[0]
        front.append(bn(F.relu(conv(F.pad(x, (0, 0, (k - 1) // 2, k // 2))))).amax(dim=3))
    return torch.cat(front, dim=1)


def front_port(net, x):
    """The port's front-end (the same as the first part of ``MusiCNN.forward``)."""
    out = net(x)
    return torch.cat([out["timbral"], out["temporal"]], dim=2).transpose(1, 2)


def _front_flop(net, n_patches, n_frames=187, n_mels=96):
    """Multiply-adds x 2 of the front-end's filter banks on ``n_patches`` patches."""
    macs = 0
    for conv in net.timbral:
        c_out, _, kt, kf = conv.weight.shape
        macs += n_frames * (n_mels - kf + 1) * c_out * kt * kf
    for conv in net.temporal:
        c_out, _, k, _ = conv.weight.shape
        macs += n_frames * n_mels * c_out * k
    return 2 * macs * n_patches


def _best(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _where_the_time_goes(net, x, repeats):
    with torch.inference_mode():
        net(x)
        with torch.profiler.profile() as prof:
            net(x)
        total = sum(e.self_cpu_time_total for e in prof.key_averages())
        mm = sum(e.self_cpu_time_total for e in prof.key_averages()
                 if e.key in ("aten::mm", "aten::addmm"))
        a = torch.randn(4096, 4096)
        square = _best(lambda: a @ a, max(2, repeats // 2))
        forward = _best(lambda: net(x), repeats)
    mm_seconds = forward * mm / total
    flop = _front_flop(net, x.shape[0])
    return {"mm_share": mm / total, "mm_seconds": mm_seconds, "front_gflop": flop / 1e9,
            "front_gflops": flop / mm_seconds / 1e9,
            "square_gflops": 2 * 4096 ** 3 / square / 1e9}


def _stages(net, files, repeats):
    from sklearn_genre.audio import load_audio
    from sklearn_genre.pretrained import musicnn_log_mel, musicnn_patches

    totals = {"decode": 0.0, "log_mel": 0.0, "network": 0.0}
    with torch.inference_mode():
        for path in files:
            y = load_audio(path, sr=16000)
            patches = torch.from_numpy(musicnn_patches(musicnn_log_mel(y)))
            totals["decode"] += _best(partial(load_audio, path, sr=16000), repeats)
            totals["log_mel"] += _best(lambda y=y: musicnn_patches(musicnn_log_mel(y)),
                                       repeats)
            totals["network"] += _best(partial(net, patches), repeats)
    return {k: v / len(files) for k, v in totals.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--patches", type=int, default=10, help="patches per call (10: a 30 s clip)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="2 patches, 2 repeats (the tests)")
    p.add_argument("--data-home", default=None)
    p.add_argument("--audio", nargs="*", default=None, help="audio files for the stage times")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = p.parse_args(argv)
    if args.quick:
        args.patches, args.repeats = 2, 2
    command = "python benchmarks/bench_musicnn_forward.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)

    net = load_musicnn("MSD_musicnn", data_home=args.data_home)
    # log-mel-like input: MusiCNN's log10(10000 x + 1) of a power spectrogram is >= 0
    x = torch.from_numpy(np.random.default_rng(0).gamma(
        2.0, 0.5, size=(args.patches, 187, 96)).astype(np.float32))
    variants = {"layers": lambda: front_layers(net, x),
                "port_front_and_rest": lambda: net(x)}
    seconds = {k: [] for k in variants}
    with torch.inference_mode():
        diff = float((front_port(net, x) - front_layers(net, x)).abs().max())
        scale = float(front_layers(net, x).abs().max())
        for fn in variants.values():
            fn()  # first calls: oneDNN primitives, allocations
        for _ in range(args.repeats):
            for name, fn in variants.items():
                start = time.perf_counter()
                fn()
                seconds[name].append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(seconds["layers"], seconds["port_front_and_rest"])]
    profile = _where_the_time_goes(net, x, args.repeats)
    stages = _stages(net, args.audio, args.repeats) if args.audio else None
    result = {
        "command": command, "machine": platform_info(), "versions": package_versions(),
        "torch_threads": torch.get_num_threads(), "patches": args.patches,
        "repeats": args.repeats,
        "best_seconds": {k: min(v) for k, v in seconds.items()},
        "seconds": seconds,
        "layers_front_over_port_forward": {"median": float(np.median(ratios)),
                                           "min": min(ratios), "max": max(ratios)},
        "front_max_abs_diff": diff, "front_max_abs": scale,
        "profile": profile, "stages_per_clip_seconds": stages,
    }
    result["machine"].pop("host", None)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "bench_musicnn_forward.json", result)
    best = result["best_seconds"]
    r = result["layers_front_over_port_forward"]
    md = "\n".join([
        "# MusiCNN front-end: matrix products against the layers", "",
        f"Command: `{command}`  ",
        f"Machine: {result['machine'].get('machine')}, {result['machine'].get('cpu_count')} "
        f"CPUs, torch {torch.__version__} with {result['torch_threads']} threads; "
        f"{args.patches} patches of 187 x 96 per call, best of {args.repeats} interleaved "
        "rounds.", "",
        "| computation | seconds per call | patches/s |", "|---|---:|---:|",
        f"| front-end as layers (Conv2d, ReLU, batch norm, max) | {best['layers']:.4f} | "
        f"{args.patches / best['layers']:.1f} |",
        f"| the port's whole forward (front-end as products + mid- and back-end) | "
        f"{best['port_front_and_rest']:.4f} | "
        f"{args.patches / best['port_front_and_rest']:.1f} |", "",
        f"The layers' front-end alone takes {r['median']:.2f}x the port's whole forward "
        f"(median over rounds, range {r['min']:.2f}-{r['max']:.2f}). Front-end outputs differ "
        f"by at most {diff:.2e} (largest activation {scale:.1f}).", "",
        f"Matrix products take {profile['mm_share']:.0%} of the port's forward pass "
        f"({profile['mm_seconds']:.3f} s per call, profiled): the front-end's "
        f"{profile['front_gflop']:.1f} GFLOP at {profile['front_gflops']:.0f} GFLOP/s, "
        f"against {profile['square_gflops']:.0f} GFLOP/s for a 4096 x 4096 float32 product "
        "on this machine.", ""]
        + ([f"Per clip ({len(args.audio)} files, best of {args.repeats} rounds): decoding and "
            f"resampling to 16 kHz {stages['decode']:.4f} s, log-mel and patches "
            f"{stages['log_mel']:.4f} s, network {stages['network']:.4f} s.", ""]
           if stages else []))
    with atomic_write(args.out / "bench_musicnn_forward.md", "w", encoding="utf-8") as f:
        f.write(md)
    print(md)
    return result


if __name__ == "__main__":
    main()
