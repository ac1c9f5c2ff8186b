#!/usr/bin/env bash
# Benchmark: `image-crawler apply` importing one large image from a local HTTP upstream into a
# real Glance, in the same run as two baselines:
#   ceiling   curl UPSTREAM | curl -T - GLANCE/v2/images/ID/file   (chunked stream, no checks)
#   operator  curl -o FILE UPSTREAM, then `openstack image create --file FILE` (python-openstackclient)
#   tool      image-crawler apply (stream: hashes sha256 + sha512 on the way, verifies, promotes)
# For every size it prints wall time, the ratio to the ceiling, and peak RSS (/usr/bin/time -v).
# The tool's RSS must not grow with the image size.
#
# Not a test: run it by hand on an idle machine.
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
case $UNIT in GiB) UNIT_BYTES=$((1024 * 1024 * 1024)) ;; MiB) UNIT_BYTES=$((1024 * 1024)) ;; *) echo "bench: BENCH_UNIT is GiB or MiB" >&2; exit 1 ;; esac
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 4)

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed: apt-get install time"
command -v curl >/dev/null || die "curl is needed"
[ -f "$CLOUDS" ] || die "no clouds.yaml at $CLOUDS (start Glance with tests/openstack/glance-keystone.sh, set BENCH_CLOUDS)"
[ -x "$BIN" ] || die "no binary at $BIN: cargo build --release (or set BENCH_BIN)"
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

# Runs a command under GNU time; prints "<seconds> <peak RSS KiB>".
measure() {
  local out=$1; shift
  /usr/bin/time -v -o "$out.time" "$@" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "failed: $*"; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out.time" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
  echo "$wall $rss"
}

delete_image() { curl -fsS -X DELETE -H "X-Auth-Token: $TOKEN" "$GLANCE/v2/images/$1" >/dev/null || true; }

RESULTS=()
for GIB in "${SIZES[@]}"; do
  FILE="$DIR/up/img-${GIB}${UNIT}.raw"
  BYTES=$((GIB * UNIT_BYTES))
  if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" != "$BYTES" ]; then
    log "generating $GIB $UNIT of random data"
    head -c "$BYTES" /dev/urandom >"$FILE"
  fi
  SHA256=$(sha256sum "$FILE" | cut -d' ' -f1)
  URL="http://127.0.0.1:$PORT/img-${GIB}${UNIT}.raw"
  RUN="$DIR/runs/${GIB}${UNIT}"
  mkdir -p "$RUN"

  # 1. ceiling: curl | curl -T - (chunked).
  log "$GIB $UNIT: curl | curl -T -"
  ID=$(curl -fsS -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\": \"bench-curl-${GIB}${UNIT}\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}" \
    "$GLANCE/v2/images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  read -r CURL_S CURL_RSS < <(measure "$RUN/curl" bash -c \
    "curl -fsS '$URL' | curl -fsS -T - -H 'X-Auth-Token: $TOKEN' -H 'Content-Type: application/octet-stream' '$GLANCE/v2/images/$ID/file'")
  delete_image "$ID"

  # 2. operator: download to disk, then openstack image create --file.
  log "$GIB $UNIT: curl -o + openstack image create --file"
  read -r DL_S DL_RSS < <(measure "$RUN/download" curl -fsS -o "$DIR/dl/img.raw" "$URL")
  read -r OSC_S OSC_RSS < <(measure "$RUN/osc" "$OSC" image create --disk-format raw --container-format bare \
    --file "$DIR/dl/img.raw" -f value -c id "bench-osc-${GIB}${UNIT}")
  delete_image "$(tail -n1 "$RUN/osc.log")"
  rm -f "$DIR/dl/img.raw"
  OP_S=$(python3 -c "print($DL_S + $OSC_S)")
  OP_RSS=$(( DL_RSS > OSC_RSS ? DL_RSS : OSC_RSS ))

  # 3. image-crawler apply: catalog + lockfile for one image, then apply.
  log "$GIB $UNIT: image-crawler apply"
  PROJ="$RUN/project"; rm -rf "$PROJ"; mkdir -p "$PROJ/catalog" "$PROJ/state"
  IMG_ID="bench-${GIB}${UNIT,,}-$(date +%s)"
  cat >"$PROJ/catalog/bench.yaml" <<EOF
settings:
  vendor: bench
images:
  - id: $IMG_ID
    name: "Bench $IMG_ID"
    architecture: x86_64
    signature:
      policy: off
    source:
      static:
        url: "$URL"
        checksum: "sha256:$SHA256"
        version: "1"
        build_date: "2026-11-01"
    transfer: stream
    glance:
      disk_format: raw
      container_format: bare
      min_disk: $((BYTES / (1024 * 1024 * 1024) + 1))
      min_ram: 128
      visibility: private
      properties:
        os_distro: bench
        os_version: "$IMG_ID"
        os_purpose: generic
        hw_disk_bus: virtio
        replace_frequency: monthly
        provided_until: none
        uuid_validity: none
        image_original_user: none
        image_description: "benchmark"
EOF
  cat >"$PROJ/state/$IMG_ID.toml" <<EOF
format_version = 1
id = "$IMG_ID"
source_digest = "sha256:bench"

[build]
version = "1"
build_date = "2026-11-01"
url = "$URL"
size = $BYTES
metadata_url = "$URL.SHA256SUMS"

[build.checksums]
sha256 = "$SHA256"

[build.signature]
status = "off"
EOF
  read -r TOOL_S TOOL_RSS < <(measure "$RUN/tool" "$BIN" --catalog "$PROJ/catalog" --state "$PROJ/state" \
    --format json apply --cloud "$CLOUD" --yes)
  grep -q '"type":"image_imported"' "$RUN/tool.log" || { cat "$RUN/tool.log" >&2; die "the tool did not import"; }
  python3 - "$RUN/tool.log" <<'PY' | while read -r gid; do delete_image "$gid"; done
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("type") == "image_imported":
        print(e["glance_id"])
PY

  RESULTS+=("$GIB $CURL_S $CURL_RSS $OP_S $OP_RSS $TOOL_S $TOOL_RSS")
done

echo
printf '%-8s | %-26s | %-34s | %-26s\n' "size" "curl | curl -T - (ceiling)" "curl -o + openstack image create" "image-crawler apply"
printf '%-8s-+-%-26s-+-%-34s-+-%-26s\n' -------- -------------------------- ---------------------------------- --------------------------
for r in "${RESULTS[@]}"; do
  read -r GIB CS CR OS OR TS TR <<<"$r"
  python3 - "$GIB" "$CS" "$CR" "$OS" "$OR" "$TS" "$TR" "$UNIT" <<'PY'
import sys
g, cs, cr, os_, or_, ts, tr, unit = sys.argv[1:]
cs, os_, ts = float(cs), float(os_), float(ts)
mib = lambda k: int(k) // 1024
print(f"{g + ' ' + unit:<8} | {cs:6.2f} s {mib(cr):5d} MiB RSS     | "
      f"{os_:6.2f} s ({os_ / cs:4.2f}x) {mib(or_):5d} MiB RSS  | "
      f"{ts:6.2f} s ({ts / cs:4.2f}x) {mib(tr):4d} MiB RSS")
PY
done
echo "(ratios: wall time / ceiling; tool = stream with sha256+sha512 verification and promotion)"
