#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, starts a real
# Keystone + Glance on 127.0.0.1, runs every test target, lints the Zuul config, stops the
# services. `.ci/run` calls exactly this.
#
# The suites that read ../shared (test targets named shared_*) run when ../shared exists; in a
# plain clone without it they are skipped, and this script says so. CI always has ../shared and
# sets IMAGE_CRAWLER_REQUIRE_SHARED=1, so there they can never be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
log() { printf '==> %s\n' "$*" >&2; }

# 1. Toolchain and system packages.
if ! command -v cargo >/dev/null; then
  log "installing the Rust toolchain is not possible offline; install rustup/cargo first"; exit 1
fi
need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
command -v curl >/dev/null || need_apt+=(curl)
# tests/gpg_parity.rs makes its OpenPGP fixtures with gpg and asks gpgv for the verdicts.
command -v gpg >/dev/null || need_apt+=(gnupg)
command -v gpgv >/dev/null || need_apt+=(gpgv)
# tests/apply.rs makes its qcow2 fixtures with the real qemu-img (disk_format from the header).
command -v qemu-img >/dev/null || need_apt+=(qemu-utils)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]}"
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi

# tests/build.rs publishes to a real S3 server on 127.0.0.1: moto, from PyPI, in a venv.
moto_venv="$root/tests/.cache/moto"
if [[ ! -x $moto_venv/bin/moto_server ]]; then
  log "installing moto[server] into $moto_venv"
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install -q 'moto[server]'
fi

# The real diskimage-builder path: tests/dib_build.rs builds a Debian image with
# diskimage-builder, tests/dib_boot.rs boots it under qemu-system-x86_64 (TCG). Both need root
# (loop devices, mounts, chroot). CI (.ci/run) sets IMAGE_CRAWLER_REQUIRE_DIB=1, so there they
# can never be skipped; elsewhere a non-root run skips them and says so.
dib_targets=(dib_build dib_boot)
run_dib=1
if [[ $(id -u) -ne 0 ]]; then
  if [[ ${IMAGE_CRAWLER_REQUIRE_DIB:-0} == 1 ]]; then
    log "error: the diskimage-builder tests need root but IMAGE_CRAWLER_REQUIRE_DIB=1"; exit 1
  fi
  log "SKIPPING test targets ${dib_targets[*]}: diskimage-builder builds need root"
  run_dib=0
fi
if ((run_dib)); then
  export IMAGE_CRAWLER_DIB_PARTX_PATCH=${IMAGE_CRAWLER_DIB_PARTX_PATCH:-1}
  tests/dib/install.sh "$root/tests/.cache"
  export PATH="$root/tests/.cache/dib/bin:$PATH"
  # The partx patch of tests/dib/ is applied (install.sh) and switched on in DIB.
  if [[ ${IMAGE_CRAWLER_DIB_PARTX_PATCH:-1} == 1 ]]; then
    export DIB_BLOCK_DEVICE_USE_PARTX=1
  fi
  # The boot test boots only the image this run builds.
  rm -rf "$root/tests/.cache/dib-image"
fi

# 2. Which test targets: all of tests/*.rs, minus shared_* when ../shared is absent.
shared_dir="$root/../shared/upstream-samples"
targets=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  if [[ $name == shared_* && ! -d $shared_dir ]]; then
    if [[ ${IMAGE_CRAWLER_REQUIRE_SHARED:-0} == 1 ]]; then
      log "error: $shared_dir is missing but IMAGE_CRAWLER_REQUIRE_SHARED=1"; exit 1
    fi
    log "SKIPPING test target $name: it needs ../shared/upstream-samples, which this clone lacks"
    continue
  fi
  if [[ " ${dib_targets[*]} " == *" $name "* ]]; then
    # dib_build runs with the others; dib_boot (slow, boots its image) runs once after them.
    ((run_dib)) || continue
    [[ $name == dib_boot ]] && continue
  fi
  targets+=(--test "$name")
done

# 3. Real Keystone + Glance for the OpenStack integration tests.
services=tests/openstack/glance-keystone.sh
if [[ -x $services ]]; then
  gk_dir="$root/tests/.cache/gk"
  log "starting Keystone + Glance (state in $gk_dir)"
  "$services" start "$gk_dir"
  trap '"$root/$services" stop "$gk_dir" >/dev/null 2>&1 || true' EXIT
  export IMAGE_CRAWLER_TEST_CLOUDS="$gk_dir/clouds.yaml"
  # A second one whose Glance hashes sha256 (tests/apply.rs: the digests apply computes follow
  # the cloud's `hashing_algorithm`). Started afresh: its project must hold no images.
  gk256_dir="$root/tests/.cache/gk-sha256"
  log "starting a second Keystone + Glance, hashing sha256 (state in $gk256_dir)"
  "$services" clean "$gk256_dir" >/dev/null 2>&1 || true
  GK_HASHING_ALGORITHM=sha256 GK_KEYSTONE_PORT=5030 GK_GLANCE_PORT=9330 "$services" start "$gk256_dir"
  trap '"$root/$services" stop "$gk_dir" >/dev/null 2>&1 || true; "$root/$services" stop "$gk256_dir" >/dev/null 2>&1 || true' EXIT
  export IMAGE_CRAWLER_TEST_CLOUDS_SHA256="$gk256_dir/clouds.yaml"
fi

# 4. Every test: unit tests and integration tests (every target runs even if one fails).
log "cargo test"
test_log=$(mktemp)
set +e
cargo test --locked --no-fail-fast --lib --bins "${targets[@]}" 2>&1 | tee "$test_log"
test_rc=${PIPESTATUS[0]}
if ((run_dib)); then
  log "cargo test --test dib_boot (boots the image dib_build built)"
  cargo test --locked --test dib_boot 2>&1 | tee -a "$test_log"
  boot_rc=${PIPESTATUS[0]}
  ((test_rc)) || test_rc=$boot_rc
fi
set -e
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$test_log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$test_log" | awk '{s+=$1} END {print s+0}')
rm -f "$test_log"
if [[ $test_rc -ne 0 ]]; then
  log "cargo test failed"
  echo "tests: $passed passed, $failed failed"
  exit "$test_rc"
fi

# 5. Zuul configuration and playbooks.
if [[ -x .ci/zuul-check.sh ]]; then
  log "zuul and ansible checks"
  .ci/zuul-check.sh
fi
log "all tests passed"
# One closing line that counts every Rust test of this run.
echo "tests: $passed passed, $failed failed"
