#!/usr/bin/env bash
# Benchmark (not a test): `image-crawler check` against the local fixture server with an
# added latency per request (default 100 ms), to show the effect of concurrency and of
# conditional requests.
#
# Usage:
#   bench/check.sh                                  # synthetic catalog of $IMAGES checksum-dir images
#   bench/check.sh CATALOG_DIR ROOT_DIR [FROM=SUBPATH ...]
#       serve ROOT_DIR; each FROM upstream prefix is mirrored to http://127.0.0.1:PORT/SUBPATH
#       e.g. bench/check.sh catalog ../shared/upstream-samples \
#              https://cloud-images.ubuntu.com/=ubuntu/ https://repo.almalinux.org/=almalinux/
#   bench/check.sh --shared                         # the shipped catalog over ../shared/upstream-samples
#                                                   # (needs the distros discovery modules)
#
# Environment: LATENCY_MS (100), IMAGES (24, synthetic only), CONCURRENCY (32, the default of check), PAIRS (5),
# PROFILE (debug|release; release builds take long on a shared machine), NO_BUILD=1 (use the
# binaries already built in target/PROFILE).
#
# Prints (issue 15's goals): the median wall time of a cold full-catalog check and of its
# slowest single image, measured as interleaved pairs (A B A B ..., PAIRS pairs) so that a
# drifting machine load hits both alike, and their ratio; and the bytes of a re-check with an
# unchanged upstream as a share of a cold run's.
set -euo pipefail

cd "$(dirname "$0")/.."
LATENCY_MS=${LATENCY_MS:-100}
IMAGES=${IMAGES:-24}
CONCURRENCY=${CONCURRENCY:-32}
PROFILE=${PROFILE:-debug}

work=$(mktemp -d)
server_pid=""
cleanup() {
    # shellcheck disable=SC2086 # the pids of the two servers this script started
    if [[ -n "$server_pid" ]]; then kill $server_pid 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

mirrors=()
if [[ ${1:-} == --shared ]]; then
    # The distributors' hosts, mapped onto the layout of ../shared/upstream-samples.
    set -- catalog ../shared/upstream-samples \
        https://cloud-images.ubuntu.com/=ubuntu/ https://cloud.debian.org/images/cloud/=debian/ \
        https://repo.almalinux.org/=almalinux/ https://download.rockylinux.org/=rocky/ \
        https://cloud.centos.org/=centos-stream/ https://fedoraproject.org/=fedora/ \
        https://dl.fedoraproject.org/=fedora/ https://download.opensuse.org/=opensuse/ \
        https://download.cirros-cloud.net/=cirros/ https://alpinelinux.org/=alpine/ \
        https://dl-cdn.alpinelinux.org/=alpine/ https://geo.mirror.pkgbuild.com/=archlinux/
fi
if [[ $# -ge 2 ]]; then
    catalog=$1
    root=$2
    shift 2
    for m in "$@"; do mirrors+=("$m"); done
else
    # Synthetic: IMAGES directories, each with a SHA256SUMS of 40 builds (about 4 KiB).
    catalog=$work/catalog
    root=$work/tree
    mkdir -p "$catalog" "$root"
    cp tests/fixtures/upstream/catalog/settings.yaml "$catalog/"
    {
        echo "images:"
        for i in $(seq 1 "$IMAGES"); do
            mkdir -p "$root/img$i"
            for b in $(seq 1 40); do
                d=$(printf '2025%02d%02d' $(( (b - 1) / 28 + 1 )) $(( (b - 1) % 28 + 1 )))
                printf '%064x  bench-%d-1.%d-%s.qcow2\n' $(( i * 1000 + b )) "$i" "$b" "$d"
            done > "$root/img$i/SHA256SUMS"
            cat <<YAML
  - id: bench-$i
    name: Bench $i
    source:
      checksum-dir:
        url: https://bench.example.org/img$i/
        checksum_file: SHA256SUMS
        pattern: 'bench-$i-(?P<version>1\.\d+-\d{8})\.qcow2'
    signature:
      policy: off
    glance:
      properties:
        os_distro: bench
        os_version: "$i"
YAML
        done
    } > "$catalog/bench.yaml"
    mirrors+=("https://bench.example.org/=")
fi

if [[ ${NO_BUILD:-0} == 1 ]]; then
    : # measure the binaries already in target/$PROFILE
elif [[ $PROFILE == release ]]; then
    cargo build --quiet --release --bin image-crawler --example fixture-server
else
    cargo build --quiet --bin image-crawler --example fixture-server
fi
bin=target/$PROFILE

# Two servers over the same tree: one without added latency (the baseline: process start,
# catalog loading and CPU time on this machine), one with LATENCY_MS per request.
start_server() { # $1 = name, $2 = latency; sets server_url
    "$bin/examples/fixture-server" --root "$root" --latency-ms "$2" --stats-file "$work/$1.stats" \
        > "$work/$1.out" 2>&1 < /dev/null &
    server_pid="$server_pid $!"
    for _ in $(seq 50); do
        grep -q listening "$work/$1.out" 2>/dev/null && break
        sleep 0.1
    done
    server_url=$(sed -n 's/^listening on //p' "$work/$1.out")
}
start_server base 0
base_url=$server_url
start_server slow "$LATENCY_MS"
url=$server_url

read_stats() { # $1 = server, $2 = counter; waits for the server to flush its counters
    sleep 0.7
    tr ' ' '\n' < "$work/$1.stats" | sed -n "s/^$2=//p"
}

run_check() { # $1 = server url, $2 = run name (own state and cache), rest = image ids
    local args=() server=$1 name=$2
    shift 2
    for m in "${mirrors[@]}"; do args+=(--mirror "${m%%=*}=$server/${m#*=}"); done
    IMAGE_CRAWLER_CACHE_DIR=$work/cache-$name "$bin/image-crawler" check --catalog "$catalog" \
        --state "$work/state-$name" --concurrency "$CONCURRENCY" -q "${args[@]}" "$@" > /dev/null || true
}

now() { date +%s.%N; }

# Every run below is cold (its own fresh state and cache), against the server with latency.
ids_of_full_run() { # the ids a full check locks, from its JSON report
    local args=()
    for m in "${mirrors[@]}"; do args+=(--mirror "${m%%=*}=$url/${m#*=}"); done
    IMAGE_CRAWLER_CACHE_DIR=$work/cache-ids "$bin/image-crawler" --format json check --catalog "$catalog" \
        --state "$work/state-ids" --concurrency "$CONCURRENCY" -q "${args[@]}" 2>/dev/null \
        | python3 -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin)["images"])))' || true
}
timed() { # $1 = run name, rest = ids (none = the whole catalog); prints wall seconds
    local name=$1 t0 t1; shift
    t0=$(now); run_check "$url" "$name" "$@"; t1=$(now)
    echo "$t1 - $t0" | bc
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }

mapfile -t ids < <(ids_of_full_run)
[[ ${#ids[@]} -gt 0 ]] || { echo "bench: the full check locked no image" >&2; exit 1; }
# The slowest single image: each alone once, then the slowest is confirmed in the pairs below.
slowest="" slowest_t=0
for id in "${ids[@]}"; do
    t=$(timed "single-$id" "$id")
    if (( $(echo "$t > $slowest_t" | bc) )); then slowest=$id slowest_t=$t; fi
done

# A B A B: the full catalog (A) and the slowest image alone (B), PAIRS times, medians.
PAIRS=${PAIRS:-${RUNS:-5}}
full=() single=()
r0=$(read_stats slow requests); b0=$(read_stats slow bytes)
for k in $(seq 1 "$PAIRS"); do
    full+=("$(timed "full$k")")
    single+=("$(timed "one$k" "$slowest")")
done
r1=$(read_stats slow requests); b1=$(read_stats slow bytes)
base=$(t0=$(now); run_check "$base_url" base; t1=$(now); echo "$t1 - $t0" | bc)
# A second run over the first full run's state and cache: upstream unchanged.
rs=$(read_stats slow requests); bs=$(read_stats slow bytes)
run_check "$url" full1
r2=$(read_stats slow requests); b2=$(read_stats slow bytes); n2=$(read_stats slow not_modified)
full_m=$(median "${full[@]}"); single_m=$(median "${single[@]}")

awk -v base="$base" -v fm="$full_m" -v sm="$single_m" -v slowest="$slowest" -v n="${#ids[@]}" \
    -v pairs="$PAIRS" -v r0="$r0" -v r1="$r1" -v rs="$rs" -v r2="$r2" -v b0="$b0" -v b1="$b1" \
    -v bs="$bs" -v b2="$b2" -v n2="$n2" -v lat="$LATENCY_MS" -v conc="$CONCURRENCY" -v cat="$catalog" \
    -v load="$(cut -d' ' -f1-3 /proc/loadavg)" -v date="$(date -u +%Y-%m-%dT%H:%MZ)" 'BEGIN {
    # Requests and bytes of one pair split by the share of images (approximate for the single).
    first = (b1 - b0) / pairs
    printf "date: %s, load average: %s\n", date, load
    printf "catalog: %s, %d images (concurrency %d, %d ms added per request)\n", cat, n, conc, lat
    printf "full catalog:   median %.2f s over %d cold runs\n", fm, pairs
    printf "slowest image:  median %.2f s (%s alone, interleaved with the full runs)\n", sm, slowest
    printf "ratio full / slowest: %.2fx (goal <= 1.30x)\n", fm / sm
    printf "requests per pair: %d; without added latency the full run takes %.2f s (start, CPU)\n", (r1 - r0) / pairs, base
    printf "re-check, upstream unchanged: %d B in %d requests (%d x 304) vs. %d B of a cold pair: %.2f%% (goal <= 2%%)\n", b2 - bs, r2 - rs, n2, first, 100 * (b2 - bs) / first
}'
