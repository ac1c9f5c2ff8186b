#!/usr/bin/env bash
# Benchmark: `image-crawler apply` importing one large image from a local HTTP upstream into a
# real Glance, in the same run as two baselines:
#   ceiling   curl UPSTREAM | curl -T - GLANCE/v2/images/ID/file   (chunked stream, no checks)
#   operator  curl -o FILE UPSTREAM, then `openstack image create --file FILE` (python-openstackclient)
#   tool      image-crawler apply (stream: hashes what is needed on the way, verifies, promotes)
# The ceiling and the tool run as interleaved pairs (A B A B ..., BENCH_PAIRS pairs, default 5)
# so that a drifting machine load hits both alike; it prints the medians of wall time and CPU
# time (user + sys of the client processes, Glance's own CPU is outside both) and their ratios,
# peak RSS, and the sha256/sha512 backends the sha2 crate picks on this CPU. The operator
# baseline runs once (BENCH_OSC=0 skips it). BENCH_LOAD=N adds N busy loops for the whole run, to
# measure with the CPU shared as on a CI node next to Glance. The tool's RSS must not grow with
# the image size. BENCH_ALGO=sha512 locks the image with its sha512 instead of its sha256.
# A small seed image (uploaded by curl, deleted at the end) shows the tool which algorithm the
# Glance hashes with, as the images of a cloud in service do. When the lock's algorithm is the
# Glance's (BENCH_ALGO=sha512 against Glance's default; BENCH_ALGO=sha256 against a Glance
# started with GK_HASHING_ALGORITHM=sha256), the tool hashes nothing and compares Glance's hash
# with the lockfile's; otherwise it computes both on the way.
# BENCH_BASE=BINARY adds a third run to every round: that build of the tool (e.g. main's), so a
# change is measured against the build before it in the same interleaved rounds (C A B, ...),
# and its ratios to the ceiling and the tool's ratio to it are printed.
#
# Not a test: run it by hand.
#   tests/openstack/glance-keystone.sh start /tmp/gk-bench          # a real Glance + Keystone
#   cargo build --release
#   BENCH_CLOUDS=/tmp/gk-bench/clouds.yaml bench/apply.sh 1 4       # sizes in GiB (default: 1 4)
#
# Knobs: BENCH_CLOUDS (clouds.yaml; default /tmp/gk-reconcile/clouds.yaml), BENCH_CLOUD
# (default gk-admin), BENCH_DIR (scratch space, needs 2x the largest size free; default
# /tmp/ic-bench), BENCH_BIN (default target/release/image-crawler), BENCH_PORT (upstream port,
# default 8799), BENCH_VENV (python-openstackclient venv; default $BENCH_DIR/venv), BENCH_UNIT
# (`GiB`, default; `MiB` for a quick smoke run of the script itself, e.g. `BENCH_UNIT=MiB
# bench/apply.sh 64` with a debug build as BENCH_BIN).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLOUDS=${BENCH_CLOUDS:-/tmp/gk-reconcile/clouds.yaml}
CLOUD=${BENCH_CLOUD:-gk-admin}
DIR=${BENCH_DIR:-/tmp/ic-bench}
BIN=${BENCH_BIN:-$ROOT/target/release/image-crawler}
PORT=${BENCH_PORT:-8799}
VENV=${BENCH_VENV:-$DIR/venv}
UNIT=${BENCH_UNIT:-GiB}
ALGO=${BENCH_ALGO:-sha256}
BASE=${BENCH_BASE:-}
case $UNIT in GiB) UNIT_BYTES=$((1024 * 1024 * 1024)) ;; MiB) UNIT_BYTES=$((1024 * 1024)) ;; *) echo "bench: BENCH_UNIT is GiB or MiB" >&2; exit 1 ;; esac
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 4)

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed: apt-get install time"
command -v curl >/dev/null || die "curl is needed"
[ -f "$CLOUDS" ] || die "no clouds.yaml at $CLOUDS (start Glance with tests/openstack/glance-keystone.sh, set BENCH_CLOUDS)"
[ -x "$BIN" ] || die "no binary at $BIN: cargo build --release (or set BENCH_BIN)"
[ -z "$BASE" ] || [ -x "$BASE" ] || die "no binary at BENCH_BASE=$BASE"
case $ALGO in sha256 | sha512) ;; *) die "BENCH_ALGO is sha256 or sha512" ;; esac
mkdir -p "$DIR/up" "$DIR/dl" "$DIR/runs"

# python-openstackclient from PyPI, what operators use today.
if [ ! -x "$VENV/bin/openstack" ]; then
  log "installing python-openstackclient into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet python-openstackclient
fi
export OS_CLIENT_CONFIG_FILE=$CLOUDS OS_CLOUD=$CLOUD
unset OS_AUTH_URL || true
OSC="$VENV/bin/openstack"

# The upstream: a plain static HTTP server on 127.0.0.1, the same for all three methods.
python3 -m http.server --bind 127.0.0.1 --directory "$DIR/up" "$PORT" >"$DIR/http.log" 2>&1 &
HTTP_PID=$!
trap 'kill "$HTTP_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break; sleep 0.1; done

TOKEN=$("$OSC" token issue -f value -c id)
GLANCE=$("$OSC" catalog show image -f json | python3 -c '
import json, sys
eps = json.load(sys.stdin)["endpoints"]
if isinstance(eps, str):  # older clients print "RegionOne\n  public: URL\n..."
    print([l.split(": ", 1)[1] for l in eps.splitlines() if "public:" in l][0])
else:
    print([e["url"] for e in eps if e["interface"] == "public"][0])' | sed 's:/*$::; s:/v2$::')
log "Glance at $GLANCE"

# Runs a command under GNU time; prints "<wall s> <peak RSS KiB> <cpu s>" (cpu = user + sys of
# the command and its children, e.g. both curls of the ceiling).
measure() {
  local out=$1; shift
  /usr/bin/time -v -o "$out.time" "$@" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "failed: $*"; }
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out.time" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u + s}' "$out.time")
  echo "$wall $rss $cpu"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }

PAIRS=${BENCH_PAIRS:-5}
LOAD=${BENCH_LOAD:-0}
LOAD_PIDS=()
for _ in $(seq 1 "$LOAD"); do (while :; do :; done) & LOAD_PIDS+=($!); done
trap 'kill "$HTTP_PID" "${LOAD_PIDS[@]}" 2>/dev/null || true' EXIT

delete_image() { curl -fsS -X DELETE -H "X-Auth-Token: $TOKEN" "$GLANCE/v2/images/$1" >/dev/null || true; }

# One ceiling run: curl | curl -T - (chunked) into a fresh image; prints "wall rss cpu".
ceiling() { # $1 = url, $2 = run dir, $3 = label
  local id m
  id=$(curl -fsS -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\": \"bench-curl-$3\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}" \
    "$GLANCE/v2/images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  m=$(measure "$2/curl-$3" bash -c \
    "curl -fsS '$1' | curl -fsS -T - -H 'X-Auth-Token: $TOKEN' -H 'Content-Type: application/octet-stream' '$GLANCE/v2/images/$id/file'")
  delete_image "$id"
  echo "$m"
}

# One tool run: a catalog + lockfile for one new image, then `apply`; prints "wall rss cpu".
tool() { # $1 = url, $2 = run dir, $3 = label, $4 = checksum (ALGO), $5 = bytes, $6 = binary
  local proj="$2/project-$3" img m bin=${6:-$BIN}
  rm -rf "$proj"; mkdir -p "$proj/catalog" "$proj/state"
  img="bench-${3,,}-$(date +%s%N)"
  cat >"$proj/catalog/bench.yaml" <<EOF
settings:
  vendor: bench
images:
  - id: $img
    name: "Bench $img"
    architecture: x86_64
    signature:
      policy: off
    source:
      static:
        url: "$1"
        checksum: "$ALGO:$4"
        version: "1"
        build_date: "2026-11-01"
    transfer: stream
    glance:
      disk_format: raw
      container_format: bare
      min_disk: $(($5 / (1024 * 1024 * 1024) + 1))
      min_ram: 128
      visibility: private
      properties:
        os_distro: bench
        os_version: "$img"
        os_purpose: generic
        hw_disk_bus: virtio
        replace_frequency: monthly
        provided_until: none
        uuid_validity: none
        image_original_user: none
        image_description: "benchmark"
EOF
  # The lockfile as `check` writes it (a static pin needs no request), outside the timing.
  "$bin" --catalog "$proj/catalog" --state "$proj/state" -q check >/dev/null \
    || die "check could not lock the benchmark image"
  # -vv (the sha2 backend line) only on the first run: debug logging costs CPU of its own.
  local verbose=()
  [ "$3" = 1 ] && verbose=(-vv)
  m=$(measure "$2/tool-$3" "$bin" --catalog "$proj/catalog" --state "$proj/state" \
    --format json "${verbose[@]}" apply --cloud "$CLOUD" --yes)
  grep -q '"type":"image_imported"' "$2/tool-$3.log" || { cat "$2/tool-$3.log" >&2; die "the tool did not import"; }
  python3 - "$2/tool-$3.log" <<'PY' | while read -r gid; do delete_image "$gid"; done
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("type") == "image_imported":
        print(e["glance_id"])
PY
  echo "$m"
}

# A cloud in service holds images: one small seed image, uploaded by curl, so that the tool
# sees which algorithm this Glance hashes with (its `hashing_algorithm`) as it would on a real
# cloud; on an empty project it expects Glance's default (sha512).
SEED=$(curl -fsS -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name": "bench-seed", "disk_format": "raw", "container_format": "bare"}' \
  "$GLANCE/v2/images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
head -c 1048576 /dev/urandom | curl -fsS -T - -H "X-Auth-Token: $TOKEN" \
  -H 'Content-Type: application/octet-stream' "$GLANCE/v2/images/$SEED/file"
GLANCE_HASH=$(curl -fsS -H "X-Auth-Token: $TOKEN" "$GLANCE/v2/images/$SEED" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin).get("os_hash_algo"))')
trap 'kill "$HTTP_PID" "${LOAD_PIDS[@]}" 2>/dev/null || true; delete_image "$SEED"' EXIT
log "Glance hashes with $GLANCE_HASH"

RESULTS=()
BASE_ROWS=()
BACKEND=""
for GIB in "${SIZES[@]}"; do
  FILE="$DIR/up/img-${GIB}${UNIT}.raw"
  BYTES=$((GIB * UNIT_BYTES))
  if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" != "$BYTES" ]; then
    log "generating $GIB $UNIT of random data"
    head -c "$BYTES" /dev/urandom >"$FILE"
  fi
  SUM=$("${ALGO}sum" "$FILE" | cut -d' ' -f1)
  URL="http://127.0.0.1:$PORT/img-${GIB}${UNIT}.raw"
  RUN="$DIR/runs/${GIB}${UNIT}"
  mkdir -p "$RUN"

  # Ceiling (A) and tool (B), interleaved; with BENCH_BASE the base build (C) first in each round.
  CW=(); CC=(); CR=0; TW=(); TC=(); TR=0; BW=(); BC=(); BR=0
  for k in $(seq 1 "$PAIRS"); do
    if [ -n "$BASE" ]; then
      log "$GIB $UNIT: round $k/$PAIRS: the base build's apply"
      read -r w r c < <(tool "$URL" "$RUN" "base$k" "$SUM" "$BYTES" "$BASE")
      BW+=("$w"); BC+=("$c"); if (( r > BR )); then BR=$r; fi
    fi
    log "$GIB $UNIT: pair $k/$PAIRS: curl | curl -T -, then image-crawler apply"
    read -r w r c < <(ceiling "$URL" "$RUN" "$k")
    CW+=("$w"); CC+=("$c"); if (( r > CR )); then CR=$r; fi
    read -r w r c < <(tool "$URL" "$RUN" "$k" "$SUM" "$BYTES")
    TW+=("$w"); TC+=("$c"); if (( r > TR )); then TR=$r; fi
  done
  if [ -n "$BASE" ]; then
    BASE_ROWS+=("$GIB $(median "${CW[@]}") $(median "${CC[@]}") $(median "${BW[@]}") $(median "${BC[@]}") $BR $(median "${TW[@]}") $(median "${TC[@]}")")
  fi
  [ -n "$BACKEND" ] || BACKEND=$(grep -o 'sha256: [^"]*sha512: [^"]*' "$RUN/tool-1.log" | head -n1 || true)

  # Operator baseline, once: download to disk, then openstack image create --file.
  OP_S=nan OP_RSS=0
  if [ "${BENCH_OSC:-1}" = 1 ]; then
    log "$GIB $UNIT: curl -o + openstack image create --file"
    read -r DL_S DL_RSS _ < <(measure "$RUN/download" curl -fsS -o "$DIR/dl/img.raw" "$URL")
    read -r OSC_S OSC_RSS _ < <(measure "$RUN/osc" "$OSC" image create --disk-format raw --container-format bare \
      --file "$DIR/dl/img.raw" -f value -c id "bench-osc-${GIB}${UNIT}")
    delete_image "$(tail -n1 "$RUN/osc.log")"
    rm -f "$DIR/dl/img.raw"
    OP_S=$(python3 -c "print($DL_S + $OSC_S)")
    OP_RSS=$(( DL_RSS > OSC_RSS ? DL_RSS : OSC_RSS ))
  fi

  RESULTS+=("$GIB $(median "${CW[@]}") $(median "${CC[@]}") $CR $(median "${TW[@]}") $(median "${TC[@]}") $TR $OP_S $OP_RSS")
done

echo
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $LOAD busy loops added"
echo "image locked by $ALGO, Glance hashes with $GLANCE_HASH; digest backends: ${BACKEND:-unknown (no debug line)}; medians of $PAIRS interleaved pairs"
printf '%-8s | %-28s | %-50s | %-20s\n' "size" "curl | curl -T - (ceiling)" "image-crawler apply (ratio to the ceiling)" "curl -o + openstack"
for r in "${RESULTS[@]}"; do
  # shellcheck disable=SC2086 # one row of space-separated fields
  python3 - "$UNIT" $r <<'PY'
import sys
unit, g, cw, cc, cr, tw, tc, tr, ow, orss = sys.argv[1:]
cw, cc, tw, tc, ow = float(cw), float(cc), float(tw), float(tc), float(ow)
mib = lambda k: int(k) // 1024
# BENCH_OSC=0: the operator baseline did not run.
op = "not run" if ow != ow else f"{ow:6.2f} s {mib(orss):4d} MiB"
print(f"{g + ' ' + unit:<8} | {cw:6.2f} s wall {cc:5.2f} s CPU | "
      f"{tw:6.2f} s ({tw / cw:4.2f}x) wall {tc:5.2f} s ({tc / max(cc, 0.01):4.2f}x) CPU {mib(tr):3d} MiB | "
      f"{op}")
PY
done
for r in "${BASE_ROWS[@]}"; do
  # shellcheck disable=SC2086 # one row of space-separated fields
  python3 - "$UNIT" "$BASE" $r <<'PY'
import sys
unit, base, g, cw, cc, bw, bc, br, tw, tc = sys.argv[1:]
cw, cc, bw, bc, tw, tc = map(float, (cw, cc, bw, bc, tw, tc))
print(f"base build {base}, {g} {unit}: {bw:6.2f} s ({bw / cw:4.2f}x) wall {bc:5.2f} s ({bc / max(cc, 0.01):4.2f}x) CPU "
      f"{int(br) // 1024:3d} MiB; this build / base: {tw / bw:4.2f}x wall, {tc / max(bc, 0.01):4.2f}x CPU")
PY
done
echo "(goal for 1 GiB: wall <= 1.05x and CPU <= 1.3x of the ceiling; tool = stream, verified, promoted)"
