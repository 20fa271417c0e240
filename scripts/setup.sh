#!/usr/bin/env bash
# setup.sh installs everything efferent needs to build, run and test on a
# fresh Debian 12 machine, idempotently and without a prompt:
#   1. Debian packages (C toolchain, pkg-config, OpenCV headers);
#   2. the ONNX Runtime shared library, extracted from the npm registry's
#      onnxruntime-node package and checked against a recorded SHA-256;
#      with GPU=1 also ONNX Runtime 1.29.0 with its CUDA and TensorRT
#      execution-provider libraries (from the npm packages
#      com.github.asus4.onnxruntime and ...linux-x64-gpu), checked the same way;
#   3. the Go modules pinned in go.mod.
# A second run finds everything in place and takes a few seconds.
#
# Environment:
#   EFFERENT_CACHE   where the ONNX Runtime library goes
#                    (default: ${XDG_CACHE_HOME:-$HOME/.cache}/efferent)
#   GPU=1            also install ONNX Runtime 1.29.0 (the CPU core, named
#                    libonnxruntime.so.1, plus libonnxruntime_providers_cuda.so,
#                    _tensorrt.so and _shared.so) into
#                    $EFFERENT_CACHE/onnxruntime/1.29.0/; use it with
#                    EFFERENT_ORT_LIBRARY=$EFFERENT_CACHE/onnxruntime/1.29.0/libonnxruntime.so.1.
#                    setup does not check for CUDA: the providers need CUDA 13
#                    and cuDNN 9 (TensorRT 10 for TensorRT) at run time.
#   EFFERENT_ORT_TARBALLS=DIR
#                    take the npm tarballs from DIR instead of the registry
#                    (for a machine without network access). A tarball is
#                    DIR/<name>-<version>.tgz, as `npm pack <name>@<version>`
#                    writes it, or that name split into pieces
#                    <name>-<version>.tgz.part-aa, .part-ab, ... (as
#                    `split -b 60M x.tgz x.tgz.part-` writes them), joined in
#                    name order; either way checked against its SHA-256.
#   SETUP_TEST=1     also install what the integration tests need: Debian's
#                    ROS 1 master, rostopic and the message packages it reads
#                    (efferent itself needs no ROS install), and Chromium for
#                    the viewer's headless browser test, and HAProxy for
#                    the fleet test (deploy/haproxy.cfg)
set -euo pipefail

ORT_VERSION=1.24.1
# sha256 of the npm tarball and of the library inside it, recorded when the
# version was pinned (see shared/reference/setup-facts.md).
ORT_TGZ_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
ORT_LIB_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
ORT_MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1

# GPU=1: ONNX Runtime 1.29.0 from asus4's onnxruntime-unity npm packages
# 0.4.9: the core (CPU) library from com.github.asus4.onnxruntime (150 MB,
# all platforms), the CUDA 13 / TensorRT 10 provider plugins and the
# providers_shared bridge they resolve Provider_GetHost from out of
# com.github.asus4.onnxruntime.linux-x64-gpu (179 MB). Both tarballs carry a
# libonnxruntime_providers_shared.so (same size, different builds); the one
# installed is the GPU package's, built with the providers. sha256 recorded
# when pinned (see /tmp/h-setup/report.md of 2026-12-06).
ORT_GPU_VERSION=1.29.0
ORT_GPU_NPM_VERSION=0.4.9
ORT_GPU_CORE_PKG=com.github.asus4.onnxruntime
ORT_GPU_CORE_TGZ_SHA256=e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d
ORT_GPU_PROV_PKG=com.github.asus4.onnxruntime.linux-x64-gpu
ORT_GPU_PROV_TGZ_SHA256=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
ORT_GPU_MEMBER_DIR=package/Plugins/Linux/x64
ORT_GPU_LIB_SHA256=5715f06d8992ca8eeeddcce43df3a7d38f97d537052126f558e912cb312460ca
ORT_GPU_CUDA_SHA256=56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037
ORT_GPU_TENSORRT_SHA256=ef6071798a339038ad66c428fb1a809cf8e499bffc3b6870e4e8bc4f4c6a6320
ORT_GPU_SHARED_SHA256=c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772
# provider libraries: file name (kept as in the tarball) and sha256
ORT_GPU_PROVIDERS=(
	"libonnxruntime_providers_shared.so $ORT_GPU_SHARED_SHA256"
	"libonnxruntime_providers_cuda.so $ORT_GPU_CUDA_SHA256"
	"libonnxruntime_providers_tensorrt.so $ORT_GPU_TENSORRT_SHA256"
)

CACHE=${EFFERENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/efferent}
ORT_DIR=$CACHE/onnxruntime/$ORT_VERSION
ORT_LIB=$ORT_DIR/libonnxruntime.so.1
ORT_GPU_DIR=$CACHE/onnxruntime/$ORT_GPU_VERSION
ORT_GPU_LIB=$ORT_GPU_DIR/libonnxruntime.so.1

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

case ${GPU:-0} in
0 | 1) ;;
*) die "GPU must be 0 or 1 (got '$GPU')" ;;
esac

sudo_if_needed() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		die "need root to run: $* (run as root or install sudo)"; fi
}

# --- 1. Debian packages ------------------------------------------------------
APT_PKGS=(build-essential pkg-config libopencv-dev ca-certificates)
if [ "${SETUP_TEST:-}" = 1 ]; then
	APT_PKGS+=(python3-rosmaster python3-rostopic python3-rosnode python3-std-msgs python3-sensor-msgs
		python3-geometry-msgs python3-diagnostic-msgs chromium haproxy)
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
# file_ok FILE SHA256: FILE exists and has that checksum.
file_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

tmp=
need_tmp() {
	if [ -z "$tmp" ]; then
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
	fi
}

# fetch_tgz PKG VERSION SHA256 SIZE: sets tgz to the npm tarball
# PKG-VERSION.tgz, taken from $EFFERENT_ORT_TARBALLS when that is set (whole,
# or joined from its .part-* pieces in name order), else fetched from the npm
# registry with npm pack (SIZE says how much, for the message); dies unless
# its sha256 is SHA256.
fetch_tgz() {
	local pkg=$1 ver=$2 sum=$3 size=$4 name dir parts
	name=$pkg-$ver.tgz
	need_tmp
	if [ -n "${EFFERENT_ORT_TARBALLS:-}" ]; then
		dir=$EFFERENT_ORT_TARBALLS
		[ -d "$dir" ] || die "EFFERENT_ORT_TARBALLS=$dir is not a directory"
		if [ -f "$dir/$name" ]; then
			say "taking $name from $dir"
			tgz=$dir/$name
		else
			local LC_ALL=C # pathname expansion sorts the pieces by byte order
			parts=("$dir/$name".part-*)
			[ -f "${parts[0]}" ] ||
				die "neither $name nor $name.part-* in EFFERENT_ORT_TARBALLS=$dir (make it elsewhere with: npm pack $pkg@$ver)"
			say "joining ${#parts[@]} pieces of $name from $dir"
			cat "${parts[@]}" >"$tmp/$name"
			tgz=$tmp/$name
		fi
	else
		command -v npm >/dev/null || die "npm not found (needed to fetch $pkg from the npm registry); apt-get install npm"
		say "fetching $pkg@$ver from the npm registry ($size, once)"
		(cd "$tmp" && npm pack --silent "$pkg@$ver" >/dev/null) ||
			die "npm pack $pkg@$ver failed"
		tgz=$tmp/$name
	fi
	echo "$sum  $tgz" | sha256sum -c --status ||
		die "checksum mismatch for $tgz (expected $sum)"
}

# install_file SRC DEST SHA256: copies SRC to DEST through DEST.tmp, checking
# the copy's sha256 before it takes DEST's name.
install_file() {
	mkdir -p "$(dirname "$2")"
	install -m 0644 "$1" "$2.tmp"
	if ! file_ok "$2.tmp" "$3"; then
		rm -f "$2.tmp"
		die "checksum mismatch for $1 (expected $3)"
	fi
	mv "$2.tmp" "$2"
}

if file_ok "$ORT_LIB" "$ORT_LIB_SHA256"; then
	say "ONNX Runtime $ORT_VERSION present at $ORT_LIB"
else
	fetch_tgz onnxruntime-node "$ORT_VERSION" "$ORT_TGZ_SHA256" "~86 MB"
	tar -xzf "$tgz" -C "$tmp" "$ORT_MEMBER"
	install_file "$tmp/$ORT_MEMBER" "$ORT_LIB" "$ORT_LIB_SHA256"
	say "installed ONNX Runtime $ORT_VERSION at $ORT_LIB"
fi

# --- 2b. ONNX Runtime for the GPU (GPU=1) -------------------------------------
if [ "${GPU:-0}" = 1 ]; then
	gpu_missing=()
	for p in "${ORT_GPU_PROVIDERS[@]}"; do
		read -r f sum <<<"$p"
		file_ok "$ORT_GPU_DIR/$f" "$sum" || gpu_missing+=("$f $sum")
	done
	if file_ok "$ORT_GPU_LIB" "$ORT_GPU_LIB_SHA256" && [ ${#gpu_missing[@]} -eq 0 ]; then
		say "ONNX Runtime $ORT_GPU_VERSION with CUDA and TensorRT providers present in $ORT_GPU_DIR"
	else
		if ! file_ok "$ORT_GPU_LIB" "$ORT_GPU_LIB_SHA256"; then
			fetch_tgz "$ORT_GPU_CORE_PKG" "$ORT_GPU_NPM_VERSION" "$ORT_GPU_CORE_TGZ_SHA256" "~150 MB"
			tar -xzf "$tgz" -C "$tmp" "$ORT_GPU_MEMBER_DIR/libonnxruntime.so"
			install_file "$tmp/$ORT_GPU_MEMBER_DIR/libonnxruntime.so" "$ORT_GPU_LIB" "$ORT_GPU_LIB_SHA256"
			rm -rf "${tmp:?}/package"
			[ "$tgz" = "$tmp/$ORT_GPU_CORE_PKG-$ORT_GPU_NPM_VERSION.tgz" ] && rm -f "$tgz"
			say "installed ONNX Runtime $ORT_GPU_VERSION at $ORT_GPU_LIB"
		fi
		if [ ${#gpu_missing[@]} -gt 0 ]; then
			fetch_tgz "$ORT_GPU_PROV_PKG" "$ORT_GPU_NPM_VERSION" "$ORT_GPU_PROV_TGZ_SHA256" "~179 MB"
			members=()
			for p in "${gpu_missing[@]}"; do members+=("$ORT_GPU_MEMBER_DIR/${p%% *}"); done
			tar -xzf "$tgz" -C "$tmp" "${members[@]}"
			for p in "${gpu_missing[@]}"; do
				read -r f sum <<<"$p"
				install_file "$tmp/$ORT_GPU_MEMBER_DIR/$f" "$ORT_GPU_DIR/$f" "$sum"
			done
			say "installed ONNX Runtime $ORT_GPU_VERSION providers in $ORT_GPU_DIR: ${members[*]##*/}"
		fi
	fi
	say "the GPU libraries need CUDA 13 and cuDNN 9 at run time (TensorRT 10 for the TensorRT provider); setup does not check for them"
	say "use them with EFFERENT_ORT_LIBRARY=$ORT_GPU_LIB"
fi

# --- 3. Go modules -----------------------------------------------------------
command -v go >/dev/null || die "go not found on PATH (Go 1.26 is expected at /usr/local/go/bin)"
go mod download
say "Go modules present"
say "done"
