#!/usr/bin/env bash
# Re-gathers real old/new binary pairs for the delta benchmark, by package name and version,
# from Debian (apt-get download) and PyPI (pip download of platform wheels).
#
# Usage: bench/fetch-pairs.sh [OUT_DIR]   (default /work/delta-pairs; keep it outside the repo)
# Layout written: OUT_DIR/<pair>/old, OUT_DIR/<pair>/new, OUT_DIR/<pair>/SOURCE
set -euo pipefail
OUT=${1:-/work/delta-pairs}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# deb_pair NAME PACKAGE OLD_VERSION NEW_VERSION PATH_IN_PACKAGE
deb_pair() {
  local name=$1 pkg=$2 v1=$3 v2=$4 path=$5 d
  [ -s "$OUT/$name/new" ] && { echo "have $name"; return; }
  mkdir -p "$OUT/$name"
  for side in old new; do
    local v; [ $side = old ] && v=$v1 || v=$v2
    d="$TMP/$name-$side"; mkdir -p "$d"
    (cd "$d" && chmod 777 . && apt-get download -qq "$pkg=$v") || { echo "skip $name: $pkg=$v unavailable"; rm -rf "$OUT/$name"; return; }
    dpkg-deb -x "$d"/*.deb "$d/x"
    cp -L "$d/x/$path" "$OUT/$name/$side"
  done
  echo "debian $pkg $v1 -> $v2 : $path" > "$OUT/$name/SOURCE"
  echo "got $name"
}

# pip_pair NAME PACKAGE OLD_VERSION NEW_VERSION PLATFORM PYVER GLOB_IN_WHEEL
pip_pair() {
  local name=$1 pkg=$2 v1=$3 v2=$4 plat=$5 py=$6 glob=$7 d
  [ -s "$OUT/$name/new" ] && { echo "have $name"; return; }
  mkdir -p "$OUT/$name"
  for side in old new; do
    local v; [ $side = old ] && v=$v1 || v=$v2
    d="$TMP/$name-$side"; mkdir -p "$d"
    pip download -q --no-deps --only-binary=:all: --platform "$plat" --python-version "$py" \
      "$pkg==$v" -d "$d" || { echo "skip $name: $pkg==$v unavailable"; rm -rf "$OUT/$name"; return; }
    python3 - "$d"/*.whl "$glob" "$OUT/$name/$side" <<'PY'
import fnmatch, sys, zipfile
whl, pat, dst = sys.argv[1:4]
z = zipfile.ZipFile(whl)
names = [n for n in z.namelist() if fnmatch.fnmatch(n, pat)]
if not names: sys.exit(f"no {pat} in {whl}")
open(dst, "wb").write(z.read(sorted(names, key=lambda n: -z.getinfo(n).file_size)[0]))
PY
  done
  echo "pypi $pkg $v1 -> $v2 ($plat, py$py) : $glob" > "$OUT/$name/SOURCE"
  echo "got $name"
}

# Same source change as the shared ARMv7 pair, other architectures.
pip_pair orjson-aarch64 orjson 3.10.6 3.10.7 manylinux_2_17_aarch64 3.11 'orjson/*.so'
pip_pair orjson-x86_64 orjson 3.10.6 3.10.7 manylinux_2_17_x86_64 3.11 'orjson/*.so'
# Rust extension, patch release (AArch64) and minor release (x86-64).
pip_pair pydantic-core-aarch64 pydantic-core 2.20.0 2.20.1 manylinux_2_17_aarch64 3.11 'pydantic_core/*.so'
pip_pair rpds-x86_64 rpds-py 0.18.0 0.18.1 manylinux_2_17_x86_64 3.11 'rpds/*.so'
# C extensions.
pip_pair ujson-aarch64 ujson 5.9.0 5.10.0 manylinux_2_17_aarch64 3.11 '*.so'
pip_pair pydantic-core-armv7 pydantic-core 2.20.0 2.20.1 manylinux_2_17_armv7l 3.11 'pydantic_core/*.so'
pip_pair orjson-armv7-3.10.8 orjson 3.10.7 3.10.8 manylinux_2_17_armv7l 3.11 'orjson/*.so'
# Debian security/point updates of x86-64 shared libraries.
deb_pair libssl3-x86_64 libssl3 3.0.17-1~deb12u2 3.0.20-1~deb12u2 usr/lib/x86_64-linux-gnu/libssl.so.3
deb_pair libcurl4-x86_64 libcurl4 7.88.1-10+deb12u5 7.88.1-10+deb12u15 usr/lib/x86_64-linux-gnu/libcurl.so.4
deb_pair sshd-x86_64 openssh-server 1:9.2p1-2+deb12u7 1:9.2p1-2+deb12u10 usr/sbin/sshd
ls -l "$OUT"/*/new
