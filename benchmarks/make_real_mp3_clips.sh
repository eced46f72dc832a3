#!/bin/bash
# 60 real 30 s mp3 clips for `bench_features.py --audio-dir`, cut with ffmpeg from the ogg tracks
# of five Debian game-music packages: 12 tracks of at least 45 s per package, 30 s from 10 s in,
# libmp3lame at ffmpeg's default 128 kbit/s, the source's sample rate and channels.
#
#   bash benchmarks/make_real_mp3_clips.sh ROOT      (needs apt-get, dpkg and ffmpeg)
#
# Downloads the packages into ROOT, unpacks them into ROOT/x and writes ROOT/mp3_30s/*.mp3.
set -eu
root=${1:?usage: make_real_mp3_clips.sh ROOT}
pkgs="drascula-music freedroidrpg-data nexuiz-music supertux-data wesnoth-1.16-music"
mkdir -p "$root/x" "$root/mp3_30s"
cd "$root"
for pkg in $pkgs; do
    ls ${pkg}_*.deb >/dev/null 2>&1 || apt-get download "$pkg"
    [ -d "x/$pkg" ] || dpkg -x ${pkg}_*.deb "x/$pkg"
done
for pkg in $pkgs; do
    n=0
    for f in $(find "x/$pkg" -name '*.ogg' | sort); do
        d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f" 2>/dev/null || true)
        [ -z "$d" ] && continue
        awk "BEGIN{exit !($d >= 45)}" || continue
        ffmpeg -nostdin -v error -y -ss 10 -t 30 -i "$f" -c:a libmp3lame \
            "mp3_30s/${pkg%%-*}_$(basename "$f" .ogg).mp3" || continue
        n=$((n + 1))
        [ $n -ge 12 ] && break
    done
    echo "$pkg: $n clips"
done
