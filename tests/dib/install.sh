#!/usr/bin/env bash
# What the real diskimage-builder tests need (tests/dib_build.rs, tests/dib_boot.rs), installed
# idempotently into CACHE (tests/run.sh passes tests/.cache). Runs as root.
#
#   - apt: debootstrap qemu-utils kpartx squashfs-tools gdisk dosfstools sudo (DIB calls sudo
#     even as root), xorriso (the boot test's NoCloud seed ISO) and patch, each only if missing
#   - CACHE/dib: a venv with diskimage-builder $DIB_VERSION from PyPI
#   - with IMAGE_CRAWLER_DIB_PARTX_PATCH=1: tests/dib/block-device-partx.patch applied to that
#     DIB (losetup --partscan + partx instead of kpartx, for kernels without device-mapper;
#     active when DIB_BLOCK_DEVICE_USE_PARTX=1); with 0 it is taken out again
#   - CACHE/qemu: qemu-system-x86_64 and the libraries this host lacks, `apt-get download` +
#     `dpkg -x` (qemu-system-x86 7.2 cannot be installed next to a backported qemu-utils 10)
set -euo pipefail
cache=${1:?usage: install.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '==> %s\n' "$*" >&2; }
# The version the patch is written against; change both together.
DIB_VERSION=3.43.0
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_update() {
  if ((!apt_updated)); then
    apt-get update -qq
    apt_updated=1
  fi
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# 1. System packages, by the command each provides.
need=()
while read -r cmd pkg; do
  command -v "$cmd" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null ||
    need+=("$pkg")
done <<'EOF'
debootstrap debootstrap
qemu-img qemu-utils
kpartx kpartx
mksquashfs squashfs-tools
sgdisk gdisk
mkfs.vfat dosfstools
sudo sudo
xorriso xorriso
patch patch
EOF
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt_update
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2. diskimage-builder in a venv.
dib=$cache/dib
if [[ ! -x $dib/bin/disk-image-create ]] ||
  [[ $("$dib/bin/disk-image-create" --version 2>/dev/null) != "$DIB_VERSION" ]]; then
  log "installing diskimage-builder $DIB_VERSION into $dib"
  rm -rf "$dib"
  python3 -m venv "$dib"
  "$dib/bin/pip" install -q "diskimage-builder==$DIB_VERSION"
fi

# 3. The partx patch, behind its switch; `patch` decides whether it is in already.
site=$("$dib/bin/python" -c 'import diskimage_builder, os; print(os.path.dirname(os.path.dirname(diskimage_builder.__file__)))')
patch_file=$here/block-device-partx.patch
applied() { patch -p1 -R --dry-run -s -f -d "$site" <"$patch_file" >/dev/null 2>&1; }
if [[ ${IMAGE_CRAWLER_DIB_PARTX_PATCH:-0} == 1 ]]; then
  if ! applied; then
    log "applying $(basename "$patch_file") to diskimage-builder"
    patch -p1 --forward -s -d "$site" <"$patch_file"
  fi
elif applied; then
  log "taking $(basename "$patch_file") out of diskimage-builder (IMAGE_CRAWLER_DIB_PARTX_PATCH=0)"
  patch -p1 -R -s -d "$site" <"$patch_file"
fi

# 4. qemu-system-x86_64 for the boot test, unpacked beside the system.
qemu=$cache/qemu
# Some bookworm libraries (libnl-3) still ship in /lib, not /usr/lib.
libdir=$qemu/usr/lib/x86_64-linux-gnu:$qemu/lib/x86_64-linux-gnu
tcg=$qemu/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
qemu_ok() {
  [[ -x $qemu/usr/bin/qemu-system-x86_64 && -f $tcg ]] &&
    ! LD_LIBRARY_PATH=$libdir ldd "$qemu/usr/bin/qemu-system-x86_64" "$tcg" | grep -q 'not found'
}
if ! qemu_ok; then
  log "unpacking qemu-system-x86 into $qemu"
  apt_update
  # The emulator, its TCG module (qemu-system-common, whose other modules and their libraries
  # the boot test does not load), its firmware, and every library the emulator needs that is not
  # installed (libraries of libraries too). ipxe-qemu is left out: the boot test has no NIC.
  pkgs=(qemu-system-x86 qemu-system-common qemu-system-data seabios)
  queue=(qemu-system-x86)
  declare -A seen=()
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for dep in $(apt-cache depends "$p" | awk '/^ *Depends: lib/ {print $2}'); do
      [[ -n ${seen[$dep]:-} ]] && continue
      seen[$dep]=1
      installed "$dep" && continue
      pkgs+=("$dep")
      queue+=("$dep")
    done
  done
  rm -rf "$qemu" "$cache/qemu-debs"
  mkdir -p "$cache/qemu-debs"
  # _apt cannot write into a root-owned directory: download as root, quietly.
  (cd "$cache/qemu-debs" && apt-get download -qq "${pkgs[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true)
  for deb in "$cache"/qemu-debs/*.deb; do
    dpkg -x "$deb" "$qemu"
  done
  rm -rf "$cache/qemu-debs"
  if ! qemu_ok; then
    LD_LIBRARY_PATH=$libdir ldd "$qemu/usr/bin/qemu-system-x86_64" "$tcg" >&2 || true
    log "error: $qemu/usr/bin/qemu-system-x86_64 cannot run (libraries above)"
    exit 1
  fi
fi
