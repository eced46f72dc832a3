#!/bin/bash
# Real music for the benchmarks, cut with ffmpeg from the ogg tracks of five Debian game-music
# packages (drascula-music, freedroidrpg-data, nexuiz-music, supertux-data,
# wesnoth-1.16-music), libmp3lame at ffmpeg's default 128 kbit/s, the source's sample rate and
# channels:
#
# - ROOT/mp3_30s/*.mp3, for `bench_features.py --audio-dir`: 12 tracks of at least 45 s per
#   package, one 30 s clip from 10 s in;
# - ROOT/clips/*.mp3 and ROOT/clips.csv, for `bench_transfer.py --real-csv`: 12 tracks of at
#   least 60 s per package, two 30 s clips per track (from 0 s and from 30 s); columns
#   path,label,group with label = the package (the soundtrack), group = the track.
#
#   bash benchmarks/make_real_mp3_clips.sh ROOT      (needs apt-get, dpkg, unzip and ffmpeg)
#
# Downloads the packages into ROOT and unpacks them into ROOT/x.
set -eu
root=${1:?usage: make_real_mp3_clips.sh ROOT}
pkgs="drascula-music freedroidrpg-data nexuiz-music supertux-data wesnoth-1.16-music"
mkdir -p "$root/x" "$root/mp3_30s" "$root/clips"
cd "$root"
for pkg in $pkgs; do
    ls ${pkg}_*.deb >/dev/null 2>&1 || apt-get download "$pkg"
    [ -d "x/$pkg" ] || dpkg -x ${pkg}_*.deb "x/$pkg"
    # nexuiz-music keeps its tracks in a zip archive (music.pk3)
    for pk3 in $(find "x/$pkg" -name '*.pk3'); do unzip -q -o "$pk3" -d "${pk3%.pk3}"; done
done

# tracks of package $1 lasting at least $2 seconds, the first 12 in sorted order
long_tracks() {
    local n=0 f d
    for f in $(find "x/$1" -name '*.ogg' | sort); do
        d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f" 2>/dev/null || true)
        [ -z "$d" ] && continue
        awk "BEGIN{exit !($d >= $2)}" || continue
        echo "$f"
        n=$((n + 1))
        [ $n -ge 12 ] && break
    done
}

cut30() {  # cut30 SOURCE START OUT
    ffmpeg -nostdin -v error -y -ss "$2" -t 30 -i "$1" -c:a libmp3lame "$3"
}

echo "path,label,group" > clips.csv
for pkg in $pkgs; do
    label=${pkg%%-*}
    n=0
    for f in $(long_tracks "$pkg" 45); do
        cut30 "$f" 10 "mp3_30s/${label}_$(basename "$f" .ogg).mp3" && n=$((n + 1))
    done
    echo "$pkg: $n clips in mp3_30s"
    n=0
    for f in $(long_tracks "$pkg" 60); do
        track="${label}_$(basename "$f" .ogg)"
        for start in 0 30; do
            cut30 "$f" $start "$root/clips/${track}_${start}.mp3"
            echo "$root/clips/${track}_${start}.mp3,$label,$track" >> clips.csv
        done
        n=$((n + 1))
    done
    echo "$pkg: $n tracks in clips.csv"
done
