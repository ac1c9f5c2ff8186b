#!/usr/bin/env bash
# Lints the Zuul configuration and the playbooks, then runs the periodic propose playbook
# against localhost with a fixture upstream on 127.0.0.1 and a bare git remote, and proves:
#   1. a bump commit with the expected subject arrives on the remote (image-bump/fixture-os);
#   2. a second run (fresh clone, upstream unchanged) pushes nothing (remote refs unchanged).
#
# Tools come from PyPI into a cached venv (tests/.cache/zuul-venv), pinned below.
# Environment:
#   IMAGE_CRAWLER_BIN          use this binary instead of `cargo build` (target/debug)
#   ZUUL_CHECK_REQUIRE_CHECK=1 fail instead of falling back when `check` is not implemented
#   ZUUL_CHECK_KEEP=1          keep the temp dir for inspection
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/tests/.cache/zuul-venv"
PINS="zuulcilint==1.0.0 ansible-core==2.19.14 ansible-lint==26.10.1"

say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'zuul-check: FAILED: %s\n' "$*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/ansible-lint" ] || [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ]; then
  say "installing $PINS into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet $PINS
  echo "$PINS" > "$VENV/.pins"
fi
export PATH="$VENV/bin:$PATH"
export ANSIBLE_HOME="$ROOT/tests/.cache/ansible-home"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_PYTHON_INTERPRETER="$VENV/bin/python"
# Zuul's `zuul_return` exists only on a Zuul executor; a stand-in records what would be returned.
export ANSIBLE_LIBRARY="$ROOT/tests/zuul-stubs/library"

cd "$ROOT"

# --- lint -------------------------------------------------------------------------------
say "zuulcilint .zuul.yaml"
zuulcilint --warnings-as-errors --check-playbook-paths .zuul.yaml >/dev/null \
  || { zuulcilint --check-playbook-paths .zuul.yaml || true; fail "zuulcilint"; }

say "zuul-secrets: every job's secrets reach one of its playbooks"
python .ci/zuul-secrets.py .zuul.yaml || fail "a job's secret reaches no playbook (see above)"
# The rule must be able to fail: a secret on a job whose only playbook is its parent's.
BAD=$(mktemp)
cat > "$BAD" <<'YAML'
- job: {name: parent-with-run, abstract: true, run: playbooks/apply.yaml}
- job:
    name: child-with-secret
    parent: parent-with-run
    secrets: [{name: cloud, secret: some-secret}]
YAML
if python .ci/zuul-secrets.py "$BAD" 2>/dev/null; then rm -f "$BAD"; fail "zuul-secrets.py accepted a secret that reaches no playbook"; fi
rm -f "$BAD"

say "zuul-catalog: every catalog job builds the tool from the required tool project"
python .ci/zuul-catalog.py .zuul.yaml image-crawler-catalog docs/zuul.md \
  || fail "a catalog job would build from the catalog repository (see above)"
# The rule must be able to fail: a template job and a docs example job outside the catalog base.
BAD=$(mktemp -d)
cat > "$BAD/zuul.yaml" <<'YAML'
- job: {name: tool-base, abstract: true, run: playbooks/test.yaml}
- job:
    name: cat-base
    parent: tool-base
    abstract: true
    required-projects: [{name: image-crawler}]
    vars: {image_crawler_source_project: image-crawler}
- job: {name: cat-good, parent: cat-base}
- job: {name: tool-only, parent: tool-base}
- job:
    name: cat-with-secret
    parent: cat-base
    secrets: [{name: cloud, secret: tool-repo-secret}]
- project-template:
    name: tpl
    check: {jobs: [cat-good, tool-only, cat-with-secret]}
YAML
printf '```yaml\n- project:\n    templates: [tpl]\n    periodic: {jobs: [tool-only]}\n```\n' > "$BAD/doc.md"
N=$(python .ci/zuul-catalog.py "$BAD/zuul.yaml" tpl "$BAD/doc.md" 2>&1 | grep -c '`tool-only`' || true)
[ "$N" = 2 ] || fail "zuul-catalog.py did not flag both bad jobs (flagged $N)"
cat >> "$BAD/doc.md" <<'MD'
```yaml
- job:
    name: child-without-pass
    parent: cat-good
    secrets: [{name: cloud, secret: catalog-secret}]
```
MD
OUT=$(python .ci/zuul-catalog.py "$BAD/zuul.yaml" tpl "$BAD/doc.md" 2>&1 || true)
grep -q '`cat-with-secret` gets a secret' <<<"$OUT" \
  || fail "zuul-catalog.py accepted a template job holding the tool repository's secret"
grep -q '`child-without-pass`: its secret reaches no playbook' <<<"$OUT" \
  || fail "zuul-catalog.py accepted an example job whose secret reaches no playbook"
rm -rf "$BAD"

say "zuul-pipelines: every concrete job of .zuul.yaml runs in some pipeline or template"
python - .zuul.yaml <<'PY' || fail "a job is in no pipeline (see above)"
import sys, yaml
class L(yaml.SafeLoader): pass
L.add_multi_constructor("!", lambda loader, suffix, node: None)
items = yaml.load(open(sys.argv[1]), Loader=L) or []
jobs = [i["job"] for i in items if "job" in i]
used = set()
for i in items:
    for body in (i.get("project") or i.get("project-template") or {}).values():
        for e in (body.get("jobs") or []) if isinstance(body, dict) else []:
            used.add(next(iter(e)) if isinstance(e, dict) else e)
unused = [j["name"] for j in jobs if not j.get("abstract") and j["name"] not in used]
for name in unused:
    print(f"{sys.argv[1]}: job `{name}` is in no pipeline of the project or a template", file=sys.stderr)
sys.exit(1 if unused else 0)
PY

say "ansible-playbook --syntax-check playbooks/*.yaml"
for p in playbooks/*.yaml; do
  ansible-playbook --syntax-check -i localhost, "$p" >/dev/null || fail "syntax-check $p"
done

say "ansible-lint playbooks/"
ansible-lint -q playbooks/ || fail "ansible-lint"

# --- binary -----------------------------------------------------------------------------
if [ -n "${IMAGE_CRAWLER_BIN:-}" ]; then
  BIN=$(cd "$(dirname "$IMAGE_CRAWLER_BIN")" && pwd)/$(basename "$IMAGE_CRAWLER_BIN")
else
  say "cargo build"
  cargo build --quiet --bin image-crawler
  BIN="$ROOT/target/debug/image-crawler"
fi

# --- fixture: upstream on 127.0.0.1, a bare remote, a seeded main -------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/zuul-check.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${ZUUL_CHECK_KEEP:-0}" = 1 ]; then say "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$T/gitconfig"
: > "$GIT_CONFIG_GLOBAL"
git config --global user.name "Fixture Human"
git config --global user.email "human@example.org"
git config --global init.defaultBranch main

UP="$T/upstream/fixture"
mkdir -p "$UP"
printf 'old image bytes\n' > "$UP/fixture-os-20240901.qcow2"
printf 'new image bytes\n' > "$UP/fixture-os-20241004.qcow2"
(cd "$UP" && sha256sum fixture-os-*.qcow2 > SHA256SUMS)
OLD_SHA=$(sha256sum "$UP/fixture-os-20240901.qcow2" | cut -d' ' -f1)
NEW_SHA=$(sha256sum "$UP/fixture-os-20241004.qcow2" | cut -d' ' -f1)

# A static file server on an OS-assigned port of 127.0.0.1; it writes the port to a file.
python3 - "$T/upstream" "$T/port" <<'PY' &
import functools, http.server, os, sys
root, port_file = sys.argv[1], sys.argv[2]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=root)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
SERVER_PID=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "the fixture server did not start"
PORT=$(cat "$T/port")
MIRROR="https://images.example.org/=http://127.0.0.1:$PORT/"
curl -fsS "http://127.0.0.1:$PORT/fixture/SHA256SUMS" >/dev/null 2>&1 \
  || python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1]).read()" \
       "http://127.0.0.1:$PORT/fixture/SHA256SUMS" \
  || fail "the fixture server does not answer"

# The lockfile `check` would write for a build (used as the seed, and as check's stand-in).
lockfile() { # version date sha256
  cat <<TOML
# @generated by image-crawler check; do not edit.
# The catalog entry is in catalog/; run \`image-crawler check\` to refresh.

format_version = 1
id = "fixture-os"
source_digest = "sha256:fixture"

[build]
version = "$1"
build_date = "$2"
url = "https://images.example.org/fixture/fixture-os-$1.qcow2"
metadata_url = "https://images.example.org/fixture/SHA256SUMS"

[build.checksums]
sha256 = "$3"

[build.signature]
status = "off"
TOML
}

git init -q --bare "$T/remote.git"
git clone -q "$T/remote.git" "$T/seed" 2>/dev/null
mkdir -p "$T/seed/catalog" "$T/seed/state"
cat > "$T/seed/catalog/images.yaml" <<'YAML'
images:
  - id: fixture-os
    name: Fixture OS
    source:
      checksum-dir:
        url: https://images.example.org/fixture/
        checksum_file: SHA256SUMS
        pattern: '^fixture-os-(?P<version>(?P<date>\d{8}))\.qcow2$'
    signature:
      policy: "off"
    glance:
      disk_format: qcow2
      container_format: bare
      min_disk: 1
      min_ram: 512
      properties:
        os_distro: fixture
        os_version: "1"
        os_purpose: generic
        hw_disk_bus: virtio
        replace_frequency: monthly
        provided_until: none
        uuid_validity: last-3
        image_original_user: cloud
        image_description: https://images.example.org/fixture/notes
YAML
lockfile 20240901 2024-09-01 "$OLD_SHA" > "$T/seed/state/fixture-os.toml"
echo "fixture catalog" > "$T/seed/README.md"
(cd "$T/seed" && git add -A && git commit -q -m "Fixture catalog" && git push -q origin main)

# --- does `check` exist yet? ---------------------------------------------------------------
git clone -q "$T/remote.git" "$T/probe"
MODE=full
PROBE=$(cd "$T/probe" && "$BIN" check --dry-run --mirror "$MIRROR" 2>&1 || true)
if grep -q "not implemented" <<<"$PROBE"; then
  [ "${ZUUL_CHECK_REQUIRE_CHECK:-0}" = 1 ] && fail "\`image-crawler check\` is not implemented"
  MODE=partial
  say "PARTIAL: \`check\` is not implemented; the script writes the lockfile check would write"
fi

run_periodic() { # name [http cache url]
  local clone="$T/$1" cache_url=""
  [ -n "${2:-}" ] && cache_url=", \"image_crawler_http_cache_url\": \"$2\""
  git clone -q "$T/remote.git" "$clone"
  local run_check=true
  if [ "$MODE" = partial ]; then
    lockfile 20241004 2024-10-04 "$NEW_SHA" > "$clone/state/fixture-os.toml"
    run_check=false
  fi
  cat > "$T/$1.vars.json" <<JSON
{
  "image_crawler_project_dir": "$clone",
  "image_crawler_bin": "$BIN",
  "image_crawler_build": false,
  "image_crawler_remote": "origin",
  "image_crawler_base_branch": "main",
  "image_crawler_mirrors": ["$MIRROR"],
  "image_crawler_run_check": $run_check,
  "image_crawler_git_author": "Image Bot <image-bot@example.org>",
  "image_crawler_log_dir": "$T/$1-logs",
  "image_crawler_collect_dir": "$T/$1-collected",
  "image_crawler_cache_dir": "$T/$1-cache/image-crawler/http"$cache_url
}
JSON
  # Each run gets its own cache directory, like a fresh Zuul node (check's conditional-request
  # cache must not make run 2 pass for the wrong reason, nor touch the user's cache).
  for p in pre propose post; do
    XDG_CACHE_HOME="$T/$1-cache" \
    ansible-playbook -i localhost, -c local "playbooks/$p.yaml" -e "@$T/$1.vars.json" \
      > "$T/$1-$p.log" 2>&1 || { cat "$T/$1-$p.log" >&2; fail "$p.yaml ($1)"; }
  done
}

# --- run 1: the bump arrives ---------------------------------------------------------------
say "periodic run 1 ($MODE)"
run_periodic run1
BRANCH=refs/heads/image-bump/fixture-os
SUBJECT=$(git --git-dir "$T/remote.git" log -1 --format=%s "$BRANCH" 2>/dev/null) \
  || fail "no $BRANCH on the remote"
[ "$SUBJECT" = "Bump fixture-os to 20241004" ] || fail "subject is '$SUBJECT'"
FILES=$(git --git-dir "$T/remote.git" diff-tree --no-commit-id --name-only -r "$BRANCH")
[ "$FILES" = "state/fixture-os.toml" ] || fail "the commit changes: $FILES"
git --git-dir "$T/remote.git" log -1 --format=%B "$BRANCH" | grep -q "^Lock-Digest: sha256:" \
  || fail "no Lock-Digest trailer"
[ -s "$T/run1-collected/propose.json" ] || fail "post.yaml did not collect propose.json"
grep -q '"outcome": "created"' "$T/run1-collected/propose.json" || fail "run 1 did not create"
say "run 1: $BRANCH: $SUBJECT"

# --- run 2: nothing new upstream, nothing pushed ----------------------------------------------
# Run 2 is a fresh node too, but starts from run 1's HTTP cache (from its collected logs, as a
# Zuul job finds it through the builds API), so the unchanged upstream answers 304s.
REFS_BEFORE=$(git --git-dir "$T/remote.git" for-each-ref)
if [ "$MODE" = full ]; then
  [ -s "$T/run1-collected/http-cache.tar.gz" ] || fail "run 1 saved no HTTP cache with its logs"
  grep -q ' 0 not modified' "$T/run1-collected/check.txt" || fail "run 1 was not a cold run"
  mkdir -p "$T/upstream/logs/run1"
  cp "$T/run1-collected/http-cache.tar.gz" "$T/upstream/logs/run1/"
  say "periodic run 2 ($MODE), from run 1's HTTP cache"
  run_periodic run2 "http://127.0.0.1:$PORT/logs/run1/http-cache.tar.gz"
  grep -Eq ' [1-9][0-9]* not modified' "$T/run2-collected/check.txt" \
    || fail "run 2 did not use run 1's HTTP cache: $(tail -n1 "$T/run2-collected/check.txt")"
  grep -q 'HTTP cache restored from' "$T/run2-propose.log" || fail "run 2 did not say it restored the cache"
else
  say "periodic run 2 ($MODE)"
  run_periodic run2
fi
REFS_AFTER=$(git --git-dir "$T/remote.git" for-each-ref)
[ "$REFS_BEFORE" = "$REFS_AFTER" ] || fail "run 2 changed the remote:\n$REFS_AFTER"
grep -q '"outcome": "already-proposed"' "$T/run2-collected/propose.json" \
  || fail "run 2 did not report already-proposed"
say "run 2: remote unchanged (already proposed)"

# --- build.yaml: the periodic build job, with a stand-in engine and a real S3 (moto) -------
# Run 1 builds the never-published image and publishes it; run 2 (nothing moved) builds nothing.
MOTO="${IMAGE_CRAWLER_TEST_MOTO:-$ROOT/tests/.cache/moto/bin/moto_server}"
if [ -x "$MOTO" ]; then
  MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$MOTO" -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true; cleanup' EXIT
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$MOTO_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done
  BUCKET="http://127.0.0.1:$MOTO_PORT/builds"
  curl -fsS -X PUT -H 'x-amz-acl: public-read' "$BUCKET" >/dev/null || fail "cannot create the test bucket"
  cp -r "$ROOT/tests/fixtures/build/archive" "$T/upstream/archive"
  B="$T/buildrepo"
  mkdir -p "$B/catalog" "$B/state"
  cat > "$B/catalog/images.yaml" <<YAML
images:
  - id: fixture-built
    name: Fixture Built
    source:
      diskimage-builder:
        elements: [vm, debian-minimal]
        release: bookworm
        mirror: http://deb.debian.org/debian
        security_mirror: http://deb.debian.org/debian-security
        publish: {url: "$BUCKET", listing: s3}
    signature:
      policy: if-published
    glance:
      disk_format: qcow2
      container_format: bare
      min_disk: 1
      min_ram: 512
      properties:
        os_distro: debian
        os_version: "12"
        os_purpose: generic
        hw_disk_bus: virtio
        replace_frequency: monthly
        provided_until: none
        uuid_validity: last-3
        image_original_user: debian
        image_description: https://images.example.org/fixture/notes
  - id: fixture-built-arm64
    name: Fixture Built arm64
    architecture: aarch64
    source:
      diskimage-builder:
        elements: [vm, debian-minimal]
        release: bookworm
        mirror: http://deb.debian.org/debian
        publish: {url: "$BUCKET", listing: s3}
    signature:
      policy: if-published
    glance:
      disk_format: qcow2
      container_format: bare
      min_disk: 1
      min_ram: 512
      properties:
        os_distro: debian
        os_version: "12"
        os_purpose: generic
        hw_disk_bus: virtio
        replace_frequency: monthly
        provided_until: none
        uuid_validity: last-3
        image_original_user: debian
        image_description: https://images.example.org/fixture/notes
YAML
  run_build() { # name
    python3 - "$T/$1.vars.json" "$B" "$BIN" "$ROOT/tests/fixtures/build/fake-disk-image-create" \
      "http://deb.debian.org/=http://127.0.0.1:$PORT/archive/" "$T/builds" "$T/$1-logs" <<'PY'
import json, sys
out, repo, binary, engine, mirror, builds, logs = sys.argv[1:]
json.dump({"image_crawler_project_dir": repo, "image_crawler_bin": binary,
           "image_crawler_engine": engine, "image_crawler_mirrors": [mirror],
           "image_crawler_builds_dir": builds, "image_crawler_log_dir": logs,
           "image_crawler_arch": "x86_64", "image_crawler_publish_public": True,
           "image_crawler_store": {"access_key_id": "zuul-check", "region": "us-east-1",
                                   "secret_access_key": "zuul-check-store-secret-value"}},
          open(out, "w"))
PY
    XDG_CACHE_HOME="$T/$1-cache" IMAGE_CRAWLER_CACHE_DIR="$T/$1-cache/http" \
      ansible-playbook -i localhost, -c local playbooks/build.yaml -e "@$T/$1.vars.json" \
      > "$T/$1.log" 2>&1 || { cat "$T/$1.log" >&2; fail "build.yaml ($1)"; }
    if grep -rq "zuul-check-store-secret-value" "$T/$1.log" "$T/$1-logs"; then fail "build.yaml printed the store secret"; fi
  }
  say "build.yaml run 1: the never-published image is built and published"
  run_build build1
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["builds"]; sys.exit(not (len(b)==1 and b[0]["reasons"]==["no build is published yet"] and "version" in b[0]))' "$T/build1-logs/build.json" \
    || fail "run 1 did not build the never-published image: $(cat "$T/build1-logs/build.json")"
  if grep -q 'fixture-built-arm64' "$T/build1-logs/build.json"; then fail "the x86_64 job built an aarch64 image"; fi
  curl -fsS "$BUCKET?list-type=2&prefix=fixture-built/" | grep -q 'fixture-built\.qcow2' \
    || fail "run 1 published no image to the store"
  sleep 1.1
  say "build.yaml run 2: nothing moved, nothing is built"
  run_build build2
  grep -q '"current": true' "$T/build2-logs/build.json" \
    || fail "run 2 built again: $(cat "$T/build2-logs/build.json")"
  [ "$(find "$T/builds/fixture-built" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ] || fail "run 2 left a second build"
  say "build.yaml: built once, then current"
elif [ "${CI:-}" = true ]; then
  fail "$MOTO is missing: tests/run.sh installs moto[server] before this script"
else
  say "SKIPPING build.yaml: $MOTO is missing (tests/run.sh installs it)"
fi

# --- pre.yaml: a prebuilt binary is installed only when its sha256 matches -----------------
mkdir -p "$T/upstream/bin"
cp "$BIN" "$T/upstream/bin/image-crawler"
BIN_SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
install_prebuilt() { # sha256 dest
  ansible-playbook -i localhost, -c local playbooks/pre.yaml \
    -e "image_crawler_binary_url=http://127.0.0.1:$PORT/bin/image-crawler" \
    -e "image_crawler_binary_sha256=$1" -e "image_crawler_install_path=$2" \
    -e "image_crawler_project_dir=$ROOT"
}
say "pre.yaml: prebuilt binary (sha256-checked)"
install_prebuilt "$BIN_SHA" "$T/prebuilt/image-crawler" > "$T/prebuilt.log" 2>&1 \
  || { cat "$T/prebuilt.log" >&2; fail "pre.yaml did not install the prebuilt binary"; }
"$T/prebuilt/image-crawler" --version >/dev/null || fail "the installed prebuilt binary does not run"
if install_prebuilt "$(printf '0%.0s' $(seq 64))" "$T/wrong/image-crawler" > "$T/wrong.log" 2>&1; then
  fail "pre.yaml installed a binary whose sha256 does not match"
fi
[ ! -e "$T/wrong/image-crawler" ] || fail "a binary with the wrong sha256 was left installed"

# --- audit.yaml against the test Glance: the Markdown report is written --------------------
if [ -n "${IMAGE_CRAWLER_TEST_CLOUDS:-}" ]; then
  say "audit.yaml against the test cloud"
  python - "$IMAGE_CRAWLER_TEST_CLOUDS" "$T/audit.vars.json" "$ROOT" "$BIN" "$T/audit-logs" <<'PY'
import json, sys
clouds, out, root, binary, logs = sys.argv[1:]
json.dump({"cloud": {"clouds_yaml": open(clouds).read()}, "image_crawler_clouds": ["gk-demo"],
           "image_crawler_project_dir": root, "image_crawler_bin": binary,
           "image_crawler_log_dir": logs, "image_crawler_audit_fail_on_errors": False,
           "zuul": {"executor": {}},
           # Zuul has the node's facts before a play starts; the play's `environment` needs it.
           "ansible_user_dir": logs + "-home"},
          open(out, "w"))
PY
  ZUUL_RETURN_FILE="$T/audit-return.jsonl" ansible-playbook -i localhost, -c local playbooks/audit.yaml -e "@$T/audit.vars.json" \
    > "$T/audit.log" 2>&1 || { cat "$T/audit.log" >&2; fail "audit.yaml"; }
  head -1 "$T/audit-logs/audit-gk-demo.md" | grep -q '^# SCS image audit: cloud `gk-demo`$' \
    || fail "audit.yaml wrote no Markdown report"
  grep -q '"images_in_scope"' "$T/audit-logs/audit-gk-demo.json" || fail "audit.yaml kept no JSON report"
  grep -q '"url": "image-crawler/audit-gk-demo.md"' "$T/audit-return.jsonl" 2>/dev/null \
    || fail "audit.yaml returned no artifact for the report"
  [ ! -e "$T/audit-logs-home/.config/openstack/clouds.yaml" ] || fail "audit.yaml left the credential behind"
  say "audit.yaml: $(sed -n 3p "$T/audit-logs/audit-gk-demo.md")"
elif [ "${CI:-}" = true ]; then
  fail "IMAGE_CRAWLER_TEST_CLOUDS is not set: tests/run.sh starts the test cloud before this script"
else
  say "SKIPPING audit.yaml: IMAGE_CRAWLER_TEST_CLOUDS is not set (tests/run.sh sets it)"
fi

if [ "$MODE" = partial ]; then
  echo "zuul-check: OK (PARTIAL: \`check\` is not implemented; the lockfile was written by the script)"
else
  echo "zuul-check: OK"
fi
