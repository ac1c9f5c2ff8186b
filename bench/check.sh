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
# Environment: LATENCY_MS (100), IMAGES (24, synthetic only), CONCURRENCY (8), RUNS (3),
# PROFILE (debug|release; release builds take long on a shared machine).
#
# Prints: wall time of a cold run vs. the sequential sum of its request latencies
# (requests x LATENCY_MS), and bytes transferred by a second, unchanged run vs. the first.
set -euo pipefail

cd "$(dirname "$0")/.."
LATENCY_MS=${LATENCY_MS:-100}
IMAGES=${IMAGES:-24}
CONCURRENCY=${CONCURRENCY:-8}
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

if [[ $PROFILE == release ]]; then
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

run_check() { # $1 = server url, $2 = run name (own state and cache)
    local args=()
    for m in "${mirrors[@]}"; do args+=(--mirror "${m%%=*}=$1/${m#*=}"); done
    IMAGE_CRAWLER_CACHE_DIR=$work/cache-$2 "$bin/image-crawler" check --catalog "$catalog" \
        --state "$work/state-$2" --concurrency "$CONCURRENCY" -q "${args[@]}" > /dev/null || true
}

now() { date +%s.%N; }

# Cold runs (fresh state and cache each), best of RUNS to damp the noise of a shared machine.
RUNS=${RUNS:-3}
best() { # $1 = server url, $2 = name prefix; prints the shortest wall time
    local min="" t0 t1 d
    for k in $(seq 1 "$RUNS"); do
        t0=$(now); run_check "$1" "$2$k"; t1=$(now)
        d=$(echo "$t1 - $t0" | bc)
        if [[ -z "$min" ]] || (( $(echo "$d < $min" | bc) )); then min=$d; fi
    done
    echo "$min"
}
base=$(best "$base_url" base)
r0=$(read_stats slow requests); b0=$(read_stats slow bytes)
wall=$(best "$url" slow)
r1=$(read_stats slow requests); b1=$(read_stats slow bytes)
# A second run over the first slow run's state and cache: upstream unchanged.
run_check "$url" slow1
r2=$(read_stats slow requests); b2=$(read_stats slow bytes); n2=$(read_stats slow not_modified)

awk -v base="$base" -v wall="$wall" -v runs="$RUNS" -v r0="$r0" -v r1="$r1" \
    -v r2="$r2" -v b0="$b0" -v b1="$b1" -v b2="$b2" -v n2="$n2" -v lat="$LATENCY_MS" \
    -v conc="$CONCURRENCY" -v cat="$catalog" 'BEGIN {
    req = (r1 - r0) / runs; first = (b1 - b0) / runs; seq = req * lat / 1000
    printf "catalog: %s (concurrency %d, %d ms added per request)\n", cat, conc, lat
    printf "cold run (best of %d): %d requests, wall %.2f s vs. sequential latency sum %.2f s\n", runs, req, wall, seq
    printf "            (the same run without added latency: %.2f s: process start, catalog, CPU)\n", base
    printf "bytes:      first run %d B, second (unchanged) run %d B in %d requests (%d x 304)\n", first, b2 - b1, r2 - r1, n2
}'
