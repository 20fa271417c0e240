# efferent — two commands: `make run` and `make test`. Both install what
# they need first (scripts/setup.sh: Debian packages, the ONNX Runtime
# library from the npm registry, Go modules), idempotently.

GO       ?= go
BIN      := bin/efferent
GOFLAGS  ?=
# Short fuzzing of every fuzz target during `make test` (longer: make fuzz FUZZTIME=5m).
FUZZTIME ?= 8s
# Arguments for `make run`, e.g. make run ARGS="--addr 127.0.0.1:9000".
ARGS     ?=

.PHONY: all setup setup-test build run test test-unit test-integration gpu-check-cpu fuzz bench vet clean

all: build

setup:
	@scripts/setup.sh

build: setup
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/efferent

# The embedded default: the built-in simulator driven closed loop on a
# default task by the bundled trained model (efferent-tiny, under ONNX
# Runtime on the CPU), episode after episode, with the openpi-compatible
# server on 127.0.0.1:8000 serving the same model and the viewer (cameras,
# actions, verdicts, teleop, e-stop) at http://127.0.0.1:8000/viewer/.
run: build
	./$(BIN) run --robot sim --episodes 0 --serve --viewer $(ARGS)

# All tests, tiered: static checks, unit tests (pure Go), integration tests
# (real ONNX Runtime, real OpenCV, real websockets on 127.0.0.1, a real ROS
# master and rostopic), short fuzzing.
test: setup-test vet test-unit test-integration gpu-check-cpu fuzz-short

# What the integration tests need besides the base set: Debian's ROS 1
# master and rostopic CLI (efferent itself needs no ROS install).
setup-test:
	@SETUP_TEST=1 scripts/setup.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test-unit:
	$(GO) test -short -count=1 ./...

# The ROS bridge's tests measure a 1 kHz stream with rostopic: they run
# after the others, alone, so that no other package's tests share the cores.
test-integration:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/ros$$')
	$(GO) test -race -count=1 ./server/... ./control/... ./eval/... ./rig/... ./policy/remote/...
	$(GO) test -tags matprofile -count=1 -run MatLeak ./camera/cv/
	$(GO) test -count=1 ./ros/...
	$(GO) test -race -count=1 ./ros/...

# scripts/gpu-check.sh (the GPU verification, see docs/gpu.md) run on the
# CPU, so that the script stays ready for a GPU machine: the same steps,
# binaries and JSON, with the CPU provider and few inferences.
gpu-check-cpu:
	$(GO) build -tags nocv -o bin/efferent-nocv ./cmd/efferent
	$(GO) test -c -o bin/ort.test ./policy/ort
	GPU_CHECK_PROVIDERS=cpu GPU_CHECK_BIG=0 GPU_CHECK_N=20 scripts/gpu-check.sh bin/gpu-check-cpu

fuzz-short:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

fuzz:
	@FUZZTIME=$(or $(FUZZTIME),5m) scripts/fuzz.sh

bench: setup
	$(GO) test -run '^$$' -bench . -benchmem ./tokenizer/... ./policy/... ./api/... ./camera/... ./server/... ./sim/... ./control/... ./safety/... ./teleop/... ./compare/... ./bench/... ./cmd/efferent/

clean:
	rm -rf bin
