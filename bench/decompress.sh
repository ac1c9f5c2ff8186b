#!/usr/bin/env bash
# Benchmark (not a test): decode throughput of the tool's transfer path (reconcile::decompress:
# artifact sha256 + decoder thread + image sha512, via examples/decompress.rs) against
# `xz -dc` / `gzip -dc` (decode only, no hashing), on the same artifact in the page cache.
#
# Usage: bench/decompress.sh            # xz and gzip of a $MIB MiB synthetic disk image
# Environment: MIB (256), PAIRS (5), PROFILE (debug|release; the codecs are built with
# opt-level 3 in both, see Cargo.toml; release also optimizes the hashing), NO_BUILD=1.
#
# Prints, per format: the median wall time of each side over interleaved pairs (A B A B ...,
# so a drifting machine load hits both alike), MiB/s of decompressed output, and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${MIB:-256}
PAIRS=${PAIRS:-5}
PROFILE=${PROFILE:-debug}
flag=(); [ "$PROFILE" = release ] && flag=(--release)
[ -n "${NO_BUILD:-}" ] || nice -n 10 cargo build -q "${flag[@]}" --example decompress
bin=target/$PROFILE/examples/decompress
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# A compressible image: 4 KiB blocks of random data, zero blocks and repeated text.
python3 - "$work/disk.img" "$MIB" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
blocks = mib * 256
with open(path, "wb") as f:
    for i in range(blocks):
        k = i % 4
        f.write(os.urandom(4096) if k == 0 else b"\0" * 4096 if k == 1 else (b"image-crawler %08d\n" % i) * 186 + b"\0" * 4)
PY
xz -T1 -1 -kc "$work/disk.img" >"$work/disk.img.xz"
gzip -1 -kc "$work/disk.img" >"$work/disk.img.gz"
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "date: $(date -u +%FT%TZ)  load: $(cut -d' ' -f1-3 /proc/loadavg)  image: $MIB MiB  profile: $PROFILE  pairs: $PAIRS"
for kind in xz gz; do
  a=(); b=()
  for _ in $(seq "$PAIRS"); do
    t=$(now); "$bin" "$kind" "$work/disk.img.$kind" 2>/dev/null; a+=("$(echo "$(now) - $t" | bc)")
    t=$(now); if [ "$kind" = xz ]; then xz -dc "$work/disk.img.xz"; else gzip -dc "$work/disk.img.gz"; fi >/dev/null; b+=("$(echo "$(now) - $t" | bc)")
  done
  ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
  cli=$([ "$kind" = xz ] && echo "xz -dc" || echo "gzip -dc")
  printf '%-4s tool %6.2fs (%6.0f MiB/s, with sha256+sha512)  %-8s %6.2fs (%6.0f MiB/s)  tool/cli time ratio %.2f\n' \
    "$kind" "$ma" "$(echo "$MIB / $ma" | bc -l)" "$cli" "$mb" "$(echo "$MIB / $mb" | bc -l)" "$(echo "$ma / $mb" | bc -l)"
done
