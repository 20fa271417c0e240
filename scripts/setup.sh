#!/usr/bin/env bash
# setup.sh installs everything efferent needs to build, run and test on a
# fresh Debian 12 machine, idempotently and without a prompt:
#   1. Debian packages (C toolchain, pkg-config, OpenCV headers);
#   2. the ONNX Runtime shared library, extracted from the npm registry's
#      onnxruntime-node package and checked against a recorded SHA-256;
#   3. the Go modules pinned in go.mod.
# A second run finds everything in place and takes a few seconds.
#
# Environment:
#   EFFERENT_CACHE   where the ONNX Runtime library goes
#                    (default: ${XDG_CACHE_HOME:-$HOME/.cache}/efferent)
#   SETUP_TEST=1     also install what the integration tests need: Debian's
#                    ROS 1 master, rostopic and the message packages it reads
#                    (efferent itself needs no ROS install), and Chromium for
#                    the viewer's headless browser test
set -euo pipefail

ORT_VERSION=1.24.1
# sha256 of the npm tarball and of the library inside it, recorded when the
# version was pinned (see shared/reference/setup-facts.md).
ORT_TGZ_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
ORT_LIB_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
ORT_MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

CACHE=${EFFERENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/efferent}
ORT_DIR=$CACHE/onnxruntime/$ORT_VERSION
ORT_LIB=$ORT_DIR/libonnxruntime.so.1

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

sudo_if_needed() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		die "need root to run: $* (run as root or install sudo)"; fi
}

# --- 1. Debian packages ------------------------------------------------------
APT_PKGS=(build-essential pkg-config libopencv-dev ca-certificates)
if [ "${SETUP_TEST:-}" = 1 ]; then
	APT_PKGS+=(python3-rosmaster python3-rostopic python3-rosnode python3-std-msgs python3-sensor-msgs
		python3-geometry-msgs python3-diagnostic-msgs chromium)
fi
missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
	say "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	sudo_if_needed apt-get update -qq
	sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	say "Debian packages present"
fi
pkg-config --exists opencv4 || die "pkg-config cannot find opencv4 after installing libopencv-dev"

# --- 2. ONNX Runtime ---------------------------------------------------------
lib_ok() { [ -f "$ORT_LIB" ] && echo "$ORT_LIB_SHA256  $ORT_LIB" | sha256sum -c --status; }
if lib_ok; then
	say "ONNX Runtime $ORT_VERSION present at $ORT_LIB"
else
	command -v npm >/dev/null || die "npm not found (needed to fetch onnxruntime-node from the npm registry); apt-get install npm"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	say "fetching onnxruntime-node@$ORT_VERSION from the npm registry (~86 MB, once)"
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) ||
		die "npm pack onnxruntime-node@$ORT_VERSION failed"
	tgz=$tmp/onnxruntime-node-$ORT_VERSION.tgz
	echo "$ORT_TGZ_SHA256  $tgz" | sha256sum -c --status ||
		die "checksum mismatch for $tgz (expected $ORT_TGZ_SHA256)"
	tar -xzf "$tgz" -C "$tmp" "$ORT_MEMBER"
	mkdir -p "$ORT_DIR"
	install -m 0644 "$tmp/$ORT_MEMBER" "$ORT_LIB.tmp"
	mv "$ORT_LIB.tmp" "$ORT_LIB"
	lib_ok || die "checksum mismatch for $ORT_LIB (expected $ORT_LIB_SHA256)"
	say "installed ONNX Runtime $ORT_VERSION at $ORT_LIB"
fi

# --- 3. Go modules -----------------------------------------------------------
command -v go >/dev/null || die "go not found on PATH (Go 1.26 is expected at /usr/local/go/bin)"
go mod download
say "Go modules present"
say "done"
