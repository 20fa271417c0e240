package ort

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// pbuf writes protobuf, just enough to build an ONNX model.
type pbuf []byte

func (b pbuf) varint(v uint64) pbuf    { return binary.AppendUvarint(b, v) }
func (b pbuf) key(n, wire int) pbuf    { return b.varint(uint64(n<<3 | wire)) }
func (b pbuf) int(n int, v int64) pbuf { return b.key(n, 0).varint(uint64(v)) }
func (b pbuf) bytes(n int, v []byte) pbuf {
	return append(b.key(n, 2).varint(uint64(len(v))), v...)
}
func (b pbuf) str(n int, s string) pbuf { return b.bytes(n, []byte(s)) }

// valueInfo is a tensor input or output; a negative dim is symbolic.
func valueInfo(name string, elem int64, dims ...int64) []byte {
	var shape pbuf
	for _, d := range dims {
		if d < 0 {
			shape = shape.bytes(1, pbuf(nil).str(2, "batch"))
		} else {
			shape = shape.bytes(1, pbuf(nil).int(1, d))
		}
	}
	tensor := pbuf(nil).int(1, elem).bytes(2, shape)
	return pbuf(nil).str(1, name).bytes(2, pbuf(nil).bytes(1, tensor))
}

// int64Tensor is an initializer with raw data.
func int64Tensor(name string, dims []int64, vals ...int64) []byte {
	var t pbuf
	for _, d := range dims {
		t = t.int(1, d)
	}
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return t.int(2, 7).str(8, name).bytes(9, raw)
}

func node(op string, ins, outs []string, attrs ...[]byte) []byte {
	var n pbuf
	for _, s := range ins {
		n = n.str(1, s)
	}
	for _, s := range outs {
		n = n.str(2, s)
	}
	n = n.str(4, op)
	for _, a := range attrs {
		n = n.bytes(5, a)
	}
	return n
}

// writeBigModel writes a regression model directory whose float16 weight
// [1, k] lives in model.onnx.data: the chunk is its first h·d values, the
// observation's inputs unused. It returns the weight's size in bytes.
func writeBigModel(t *testing.T, dir string, k, h, d int64) int64 {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "model.onnx.data"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf [2]byte
	for i := range k {
		binary.LittleEndian.PutUint16(buf[:], f32ToF16(float32(i%1000)/1000-0.5))
		w.Write(buf[:])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	weight := pbuf(nil).int(1, 1).int(1, k).int(2, 10).str(8, "W").
		bytes(13, pbuf(nil).str(1, "location").str(2, "model.onnx.data")).
		bytes(13, pbuf(nil).str(1, "offset").str(2, "0")).
		bytes(13, pbuf(nil).str(1, "length").str(2, strconv.FormatInt(2*k, 10))).int(14, 1)
	g := pbuf(nil).
		bytes(1, node("Gather", []string{"W", "zero"}, []string{"row"}, pbuf(nil).str(1, "axis").int(3, 0).int(20, 2))).
		bytes(1, node("Slice", []string{"row", "starts", "ends", "axes"}, []string{"flat"})).
		bytes(1, node("Reshape", []string{"flat", "shape"}, []string{"actions"})).
		str(2, "big").
		bytes(5, weight).
		bytes(5, int64Tensor("zero", nil, 0)).
		bytes(5, int64Tensor("starts", []int64{1}, 0)).
		bytes(5, int64Tensor("ends", []int64{1}, h*d)).
		bytes(5, int64Tensor("axes", []int64{1}, 0)).
		bytes(5, int64Tensor("shape", []int64{3}, 1, h, d)).
		bytes(11, valueInfo("pixel_values", 2, -1, 8, 8, 3)).
		bytes(11, valueInfo("state", 10, -1, 8)).
		bytes(11, valueInfo("input_ids", 7, -1, 16)).
		bytes(11, valueInfo("attention_mask", 7, -1, 16)).
		bytes(12, valueInfo("actions", 10, 1, h, d))
	model := pbuf(nil).int(1, 8).str(2, "efferent-test").bytes(7, g).bytes(8, pbuf(nil).str(1, "").int(2, 17))
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join("..", "..", "models", "efferent-fixture", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`format: efferent-model/1
name: big
version: "1"
weights: random
license: test
layout: regression
observation:
  images: [{key: observation/image, input: pixel_values}]
  image_height: 8
  image_width: 8
  state: {key: observation/state, input: state, dim: 8}
  prompt: {key: prompt}
text: {tokenizer: tokenizer.json, input_ids: input_ids, mask: attention_mask, max_tokens: 16, pad_id: 0}
regression: {file: model.onnx, actions: actions}
action:
  dim: %d
  horizon: %d
  step_hz: 20
  normalization: {q01: [%s], q99: [%s]}
`, d, h, strings.TrimSuffix(strings.Repeat("-1, ", int(d)), ", "), strings.TrimSuffix(strings.Repeat("1, ", int(d)), ", "))
	if err := os.WriteFile(filepath.Join(dir, policy.ManifestFile), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return 2 * k
}

// rss is this process's resident memory (VmRSS), in bytes.
func rss(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A float16 model whose weights live in an external data file loads by
// path, answers from those weights, and costs at most 1.3× its weights in
// resident memory once loaded (EFFERENT_BIG_MODEL_MB sets the size,
// default 256).
func TestExternalDataFloat16Memory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and loads a large model")
	}
	mb := int64(256)
	if v, err := strconv.ParseInt(os.Getenv("EFFERENT_BIG_MODEL_MB"), 10, 64); err == nil && v > 0 {
		mb = v
	}
	dir := t.TempDir()
	const h, d = 4, 7
	weights := writeBigModel(t, dir, mb<<19, h, d) // 2 bytes each
	m, err := policy.LoadManifest(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, Init := Init(""); Init != nil {
		t.Fatal(Init)
	}
	debug.FreeOSMemory()
	before := rss(t)
	c, err := OpenContinuous(m, testConf())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	debug.FreeOSMemory()
	after := rss(t)
	grew := after - before
	t.Logf("weights %d MB in model.onnx.data; resident memory grew %d MB on loading (%.2f× the weights)", weights>>20, grew>>20, float64(grew)/float64(weights))
	if float64(grew) > 1.3*float64(weights) {
		t.Fatalf("loading grew resident memory by %d MB, more than 1.3× the %d MB of weights", grew>>20, weights>>20)
	}
	obs := efferent.Observation{Images: map[string]efferent.Image{"observation/image": {H: 8, W: 8, C: 3, Pix: make([]byte, 192)}},
		State: make([]float64, 8), Prompt: "put"}
	var out efferent.Chunk
	if err := c.Infer(context.Background(), &obs, &out); err != nil {
		t.Fatal(err)
	}
	for i, a := range out.Actions {
		want := float64(f16ToF32(f32ToF16(float32(i%1000)/1000 - 0.5)))
		if math.Abs(a-want) > 1e-6 {
			t.Fatalf("action %d = %v, want the weight %v", i, a, want)
		}
	}
}
