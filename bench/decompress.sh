#!/usr/bin/env bash
# Benchmark (not a test): decode throughput of the tool's transfer path (reconcile::decompress:
# artifact sha256 + decoder thread + image sha512, via examples/decompress.rs), and of its codec
# alone (`--decode-only`), against `xz -dc` / `gzip -dc` / `bzip2 -dc` / `zstd -dc` (decode
# only), on the same artifact in the page cache.
#
# Usage: PROFILE=release bench/decompress.sh
# Environment: MIB (256), PAIRS (5), PROFILE (debug|release; the codecs are built with
# opt-level 3 in both, see Cargo.toml; release also optimizes the hashing), NO_BUILD=1,
# KINDS ("xz gz bz2 zst"), DATA (usr | synthetic).
#
# The image: DATA=usr (default) is what a disk image holds: the files under /usr (ELF binaries,
# libraries, text, locale data) concatenated in sorted path order, with every 8th 4 KiB block
# zero (free space); DATA=synthetic is the earlier mix of random, zero and repeated-text blocks.
# Each artifact is made by the command-line tool at its default level (xz -6 single-threaded,
# gzip -6, bzip2 -9, zstd -3), as distributors publish them.
#
# Prints, per format: the median wall time of each side over interleaved rounds (tool, codec,
# cli, tool, codec, cli, ..., so a drifting machine load hits all alike), MiB/s of decompressed
# output, and the ratios to the command-line tool.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${MIB:-256}
PAIRS=${PAIRS:-5}
PROFILE=${PROFILE:-debug}
KINDS=${KINDS:-"xz gz bz2 zst"}
DATA=${DATA:-usr}
flag=(); [ "$PROFILE" = release ] && flag=(--release)
[ -n "${NO_BUILD:-}" ] || nice -n 10 cargo build -q "${flag[@]}" --example decompress
bin=target/$PROFILE/examples/decompress
work=$(mktemp -d /tmp/bench-decompress.XXXXXX); trap 'rm -rf "$work"' EXIT
python3 - "$work/disk.img" "$MIB" "$DATA" <<'PY'
import os, sys
path, mib, data = sys.argv[1], int(sys.argv[2]), sys.argv[3]
total = mib << 20
with open(path, "wb") as f:
    if data == "synthetic":
        for i in range(total // 4096):
            k = i % 4
            f.write(os.urandom(4096) if k == 0 else b"\0" * 4096 if k == 1 else (b"image-crawler %08d\n" % i) * 186 + b"\0" * 4)
    else:
        def files():
            while True:  # wraps around on a small /usr
                for root, dirs, names in os.walk("/usr"):
                    dirs.sort()
                    for n in sorted(names):
                        p = os.path.join(root, n)
                        if os.path.isfile(p) and not os.path.islink(p):
                            yield p
        buf, pos, written, block = bytearray(), 0, 0, 0
        for p in files():
            try:
                with open(p, "rb") as src:
                    del buf[:pos]; pos = 0  # linear: drop what was written, once per file
                    buf += src.read()
            except OSError:
                continue
            while len(buf) - pos >= 4096 and written < total:
                if block % 8 == 7:
                    f.write(b"\0" * 4096)
                else:
                    f.write(buf[pos:pos + 4096]); pos += 4096
                written += 4096; block += 1
            if written >= total:
                break
PY
declare -A cli=([xz]="xz -dc" [gz]="gzip -dc" [bz2]="bzip2 -dc" [zst]="zstd -q -dc")
declare -A pack=([xz]="xz -T1 -c" [gz]="gzip -c" [bz2]="bzip2 -c" [zst]="zstd -q -c")
for kind in $KINDS; do ${pack[$kind]} "$work/disk.img" >"$work/disk.img.$kind"; done
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "date: $(date -u +%FT%TZ)  load: $(cut -d' ' -f1-3 /proc/loadavg)  image: $MIB MiB ($DATA)  profile: $PROFILE  pairs: $PAIRS  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for kind in $KINDS; do
  a=(); c=(); b=()
  for _ in $(seq "$PAIRS"); do
    t=$(now); "$bin" "$kind" "$work/disk.img.$kind" 2>/dev/null; a+=("$(echo "$(now) - $t" | bc)")
    t=$(now); "$bin" "$kind" "$work/disk.img.$kind" --decode-only 2>/dev/null; c+=("$(echo "$(now) - $t" | bc)")
    t=$(now); ${cli[$kind]} "$work/disk.img.$kind" >/dev/null; b+=("$(echo "$(now) - $t" | bc)")
  done
  ma=$(printf '%s\n' "${a[@]}" | median); mc=$(printf '%s\n' "${c[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
  ratio=$(echo "scale=2; $(stat -c %s "$work/disk.img") / $(stat -c %s "$work/disk.img.$kind")" | bc)
  printf '%-4s (%5.2f:1) tool %6.2fs (%5.0f MiB/s, +sha256+sha512)  codec %6.2fs (%5.0f MiB/s)  %-11s %6.2fs (%5.0f MiB/s)  tool/cli %.2f  codec/cli %.2f\n' \
    "$kind" "$ratio" "$ma" "$(echo "$MIB / $ma" | bc -l)" "$mc" "$(echo "$MIB / $mc" | bc -l)" \
    "${cli[$kind]}" "$mb" "$(echo "$MIB / $mb" | bc -l)" "$(echo "$ma / $mb" | bc -l)" "$(echo "$mc / $mb" | bc -l)"
done
