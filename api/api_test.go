package api

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/efferent/efferent"
)

// valueCases is the one table shared by the encode, decode and benchmark
// tests: Go values, and what the decoder must make of their encoding.
var valueCases = []struct {
	name string
	in   any
	kind Kind
	chk  func(Value) bool
}{
	{"nil", nil, Nil, func(v Value) bool { return true }},
	{"true", true, Bool, func(v Value) bool { return v.Bool }},
	{"fixint", 5, Int, func(v Value) bool { return v.Int == 5 }},
	{"negfix", -3, Int, func(v Value) bool { return v.Int == -3 }},
	{"int16", -1000, Int, func(v Value) bool { return v.Int == -1000 }},
	{"uint32", int64(3_000_000_000), Int, func(v Value) bool { return v.Int == 3_000_000_000 }},
	{"int64", int64(math.MinInt64), Int, func(v Value) bool { return v.Int == math.MinInt64 }},
	{"float", 1.5, Float, func(v Value) bool { return v.Float == 1.5 }},
	{"str", "put the red block", Str, func(v Value) bool { return v.Str == "put the red block" }},
	{"long str", strings.Repeat("x", 300), Str, func(v Value) bool { return len(v.Str) == 300 }},
	{"bin", []byte{1, 2, 3}, Bin, func(v Value) bool { return bytes.Equal(v.Bin, []byte{1, 2, 3}) }},
	{"list", []any{1, "a", 2.5}, List, func(v Value) bool { return len(v.List) == 3 && v.List[1].Str == "a" }},
	{"map", map[string]any{"b": 1, "a": []int{1, 2}}, Map, func(v Value) bool {
		a, ok := v.Get("a")
		return ok && len(a.List) == 2 && v.Map[0].Key == "a" // sorted keys
	}},
	{"big list", make([]float64, 40), List, func(v Value) bool { return len(v.List) == 40 }},
}

func TestValueRoundTrip(t *testing.T) {
	for _, tc := range valueCases {
		b, err := AppendAny(nil, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		v, err := Decode(b, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if v.Kind != tc.kind || !tc.chk(v) {
			t.Fatalf("%s: decoded %+v", tc.name, v)
		}
		// The independent implementation agrees that the bytes are valid
		// msgpack of the same length.
		dec := msgpack.NewDecoder(bytes.NewReader(b))
		if _, err := dec.DecodeInterface(); err != nil {
			t.Fatalf("%s: vmihailenco cannot decode our bytes: %v", tc.name, err)
		}
		if dec.Buffered().(*bytes.Reader).Len() != 0 {
			t.Fatalf("%s: vmihailenco left bytes over", tc.name)
		}
	}
}

// pyArray encodes an ndarray as Python's msgpack_numpy would, with the
// independent msgpack implementation; strKeys spells the keys as str.
func pyArray(t testing.TB, enc *msgpack.Encoder, dtype string, shape []int, data []byte, strKeys bool) {
	key := func(k string) {
		var err error
		if strKeys {
			err = enc.EncodeString(k)
		} else {
			err = enc.EncodeBytes([]byte(k))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = enc.EncodeMapLen(4)
	key("__ndarray__")
	_ = enc.EncodeBool(true)
	key("data")
	_ = enc.EncodeBytes(data)
	key("dtype")
	_ = enc.EncodeString(dtype)
	key("shape")
	_ = enc.EncodeArrayLen(len(shape))
	for _, s := range shape {
		_ = enc.EncodeInt(int64(s))
	}
}

func TestDTypes(t *testing.T) {
	le := func(f func(b []byte)) []byte { b := make([]byte, 16); f(b); return b }
	for _, tc := range []struct {
		dtype string
		data  []byte
		want  []float64
	}{
		{"|u1", []byte{0, 255}, []float64{0, 255}},
		{"|i1", []byte{0x80, 0x7f}, []float64{-128, 127}},
		{"|b1", []byte{1, 0}, []float64{1, 0}},
		{"<u2", []byte{1, 0, 0, 1}, []float64{1, 256}},
		{">u2", []byte{1, 0, 0, 1}, []float64{256, 1}},
		{"<i4", le(func(b []byte) {
			binary.LittleEndian.PutUint32(b, math.MaxUint32)
			binary.LittleEndian.PutUint32(b[4:], 7)
		})[:8], []float64{-1, 7}},
		{"<f4", le(func(b []byte) {
			binary.LittleEndian.PutUint32(b, math.Float32bits(1.5))
			binary.LittleEndian.PutUint32(b[4:], math.Float32bits(-2))
		})[:8], []float64{1.5, -2}},
		{">f8", le(func(b []byte) {
			binary.BigEndian.PutUint64(b, math.Float64bits(0.25))
			binary.BigEndian.PutUint64(b[8:], math.Float64bits(-8))
		}), []float64{0.25, -8}},
		{"<i8", le(func(b []byte) {
			binary.LittleEndian.PutUint64(b, uint64(1<<40))
			binary.LittleEndian.PutUint64(b[8:], math.MaxUint64)
		}), []float64{1 << 40, -1}},
	} {
		for _, strKeys := range []bool{false, true} {
			var buf bytes.Buffer
			pyArray(t, msgpack.NewEncoder(&buf), tc.dtype, []int{2}, tc.data, strKeys)
			v, err := Decode(buf.Bytes(), Limits{})
			if err != nil {
				t.Fatalf("%s: %v", tc.dtype, err)
			}
			if v.Kind != Array {
				t.Fatalf("%s: kind %v", tc.dtype, v.Kind)
			}
			for i, w := range tc.want {
				if got := v.Array.Float64(i); got != w {
					t.Fatalf("%s[%d] = %v, want %v", tc.dtype, i, got, w)
				}
			}
		}
	}
}

// TestOpenpiBytes: our reply is byte for byte what openpi (Python msgpack
// with use_bin_type=True and msgpack_numpy) emits for
// {"actions": np.zeros((1, 2))}, written out from the msgpack spec.
func TestOpenpiBytes(t *testing.T) {
	want := []byte{
		0x81,                                    // map of 1
		0xa7, 'a', 'c', 't', 'i', 'o', 'n', 's', // str "actions"
		0x84,                                                              // ndarray map of 4
		0xc4, 0x0b, '_', '_', 'n', 'd', 'a', 'r', 'r', 'a', 'y', '_', '_', // bin key
		0xc3,                           // true
		0xc4, 0x04, 'd', 'a', 't', 'a', // bin key "data"
		0xc4, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // bin of 16 zero bytes
		0xc4, 0x05, 'd', 't', 'y', 'p', 'e', // bin key "dtype"
		0xa3, '<', 'f', '8', // str "<f8"
		0xc4, 0x05, 's', 'h', 'a', 'p', 'e', // bin key "shape"
		0x92, 0x01, 0x02, // [1, 2]
	}
	got := appendMapLen(nil, 1)
	got = AppendFloat64Array(appendStr(got, "actions"), []int{1, 2}, []float64{0, 0})
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
}

func liberoSpec() ObsSpec {
	return ObsSpec{ImageKeys: []string{"observation/image", "observation/wrist_image"}, StateKey: "observation/state",
		StateDim: 8, PromptKey: "prompt", PromptRequired: true, MaxPromptBytes: 256}
}

func liberoObs(side int) efferent.Observation {
	im := func(seed byte) efferent.Image {
		pix := make([]byte, side*side*3)
		for i := range pix {
			pix[i] = byte(i) + seed
		}
		return efferent.Image{H: side, W: side, C: 3, Pix: pix}
	}
	return efferent.Observation{
		Images: map[string]efferent.Image{"observation/image": im(0), "observation/wrist_image": im(7)},
		State:  []float64{0.1, -0.2, 0.3, 0, 0, 0.5, 0.04, -0.04},
		Prompt: "put the red block in the blue bowl",
	}
}

func TestObservationRoundTrip(t *testing.T) {
	spec := liberoSpec()
	in := liberoObs(16)
	frame := EncodeObservation(nil, &in, spec)
	out, err := DecodeObservation(frame, spec, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Prompt != in.Prompt || !slices.Equal(out.State, in.State) {
		t.Fatalf("got %+v", out)
	}
	for k, im := range in.Images {
		if got := out.Images[k]; got.H != 16 || got.W != 16 || !bytes.Equal(got.Pix, im.Pix) {
			t.Fatalf("%s differs", k)
		}
	}
}

// TestObservationConversions: float and CHW images as openpi's
// LiberoInputs accepts them; state as float32 or a plain list.
func TestObservationConversions(t *testing.T) {
	spec := ObsSpec{ImageKeys: []string{"img"}, StateKey: "s", StateDim: 2, PromptKey: "prompt"}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	_ = enc.EncodeMapLen(2)
	_ = enc.EncodeString("img")
	// CHW float32 (3, 1, 2): channel c, x → value (c*2+x)/10.
	data := make([]byte, 0, 24)
	for c := 0; c < 3; c++ {
		for x := 0; x < 2; x++ {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(c*2+x)/10))
		}
	}
	pyArray(t, enc, "<f4", []int{3, 1, 2}, data, false)
	_ = enc.EncodeString("s")
	_ = enc.Encode([]float64{1, 2})
	obs, err := DecodeObservation(buf.Bytes(), spec, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	im := obs.Images["img"]
	if im.H != 1 || im.W != 2 || im.C != 3 {
		t.Fatalf("shape %dx%dx%d", im.H, im.W, im.C)
	}
	// pixel x=1, channel 2: (2*2+1)/10 = 0.5 → round(127.5) = 128
	if got := im.Pix[(0*2+1)*3+2]; got != 128 {
		t.Fatalf("pixel = %d, want 128", got)
	}
	if !slices.Equal(obs.State, []float64{1, 2}) {
		t.Fatalf("state %v", obs.State)
	}
}

func TestObservationErrors(t *testing.T) {
	spec := liberoSpec()
	good := liberoObs(4)
	enc := func(mut func(o *efferent.Observation)) []byte {
		o := good
		o.Images = map[string]efferent.Image{}
		for k, v := range good.Images {
			o.Images[k] = v
		}
		mut(&o)
		s := spec
		if _, ok := o.Images["observation/wrist_image"]; !ok {
			s.ImageKeys = s.ImageKeys[:1]
		}
		return EncodeObservation(nil, &o, s)
	}
	big := make([]byte, 0)
	big = appendMapLen(big, 1)
	big = appendStr(big, "x")
	big = append(big, 0xc6, 0xff, 0xff, 0xff, 0xff) // bin32 claiming 4 GiB
	deep := bytes.Repeat([]byte{0x91}, 100)
	deep = append(deep, 0xc0)
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
		msg   string
	}{
		{"missing camera", enc(func(o *efferent.Observation) { delete(o.Images, "observation/wrist_image") }), ErrMissingKey, "observation/wrist_image"},
		{"short state", enc(func(o *efferent.Observation) { o.State = o.State[:7] }), ErrBadShape, "observation/state: bad shape: shape [7], want [8]"},
		{"nan state", enc(func(o *efferent.Observation) { o.State = []float64{0, 0, math.NaN(), 0, 0, 0, 0, 0} }), ErrNotFinite, "element 2"},
		{"inf state", enc(func(o *efferent.Observation) { o.State = []float64{0, 0, 0, 0, 0, 0, 0, math.Inf(1)} }), ErrNotFinite, "element 7"},
		{"no prompt", enc(func(o *efferent.Observation) { o.Prompt = "" }), ErrMissingKey, "prompt"},
		{"long prompt", enc(func(o *efferent.Observation) { o.Prompt = strings.Repeat("a", 300) }), ErrTooLarge, "300 bytes"},
		{"gray image", enc(func(o *efferent.Observation) {
			o.Images["observation/image"] = efferent.Image{H: 4, W: 4, C: 1, Pix: make([]byte, 16)}
		}), ErrBadShape, "channels"},
		{"huge bin", big, ErrMalformed, "bin of 4294967295 bytes"},
		{"deep", deep, ErrTooLarge, "nesting"},
		{"not a map", []byte{0x01}, ErrMalformed, "want a map"},
		{"trailing", append(enc(func(*efferent.Observation) {}), 0xc0), ErrMalformed, "trailing"},
		{"ext", []byte{0xd4, 0x01, 0x00}, ErrMalformed, "ext type"},
		{"int key", []byte{0x81, 0x01, 0x01}, ErrMalformed, "map key"},
		{"dup key", []byte{0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02}, ErrMalformed, "duplicate"},
		{"bad utf8", []byte{0x81, 0xa1, 0xff, 0x01}, ErrMalformed, "UTF-8"},
	} {
		_, err := DecodeObservation(tc.frame, spec, Limits{})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

func TestNDArrayErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dtype string
		shape       []int
		data        []byte
		want        error
	}{
		{"size mismatch", "<f8", []int{2}, make([]byte, 15), ErrBadShape},
		{"float16", "<f2", []int{1}, make([]byte, 2), ErrBadDType},
		{"object", "|O8", []int{1}, make([]byte, 8), ErrBadDType},
		{"complex", "<c8", []int{1}, make([]byte, 8), ErrBadDType},
		{"negative", "|u1", []int{-1}, []byte{}, ErrBadShape},
		{"overflow", "<f8", []int{1 << 30, 1 << 30, 1 << 30}, []byte{}, ErrBadShape},
	} {
		var buf bytes.Buffer
		pyArray(t, msgpack.NewEncoder(&buf), tc.dtype, tc.shape, tc.data, false)
		if _, err := Decode(buf.Bytes(), Limits{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestTruncatedEverywhere cuts a valid observation at every length: each
// prefix must be an error, never a panic or a success.
func TestTruncatedEverywhere(t *testing.T) {
	o := liberoObs(2)
	frame := EncodeObservation(nil, &o, liberoSpec())
	for n := 0; n < len(frame); n++ {
		if _, err := DecodeObservation(frame[:n], liberoSpec(), Limits{}); err == nil {
			t.Fatalf("prefix of %d/%d bytes accepted", n, len(frame))
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	acts := []float64{1, 2, 3, 4, 5, 6}
	for i, prev := range []bool{false, true} {
		batch := 3 * i // 0: not sent
		b := AppendResponse(nil, &Response{Actions: acts, H: 2, D: 3, PolicyInferMS: 1.5, ServerInferMS: 2.5, PrevTotalMS: 9, HavePrevTotal: prev, BatchSize: batch})
		r, err := DecodeResponse(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if r.H != 2 || r.D != 3 || !slices.Equal(r.Actions, acts) || r.PolicyTiming["infer_ms"] != 1.5 || r.ServerTiming["infer_ms"] != 2.5 {
			t.Fatalf("%+v", r)
		}
		if _, ok := r.ServerTiming["prev_total_ms"]; ok != prev {
			t.Fatalf("prev_total_ms present = %v, want %v", ok, prev)
		}
		if got, ok := r.PolicyTiming["batch_size"]; ok != (batch > 0) || got != float64(batch) {
			t.Fatalf("batch_size = %v (present %v), want %d", got, ok, batch)
		}
	}
}

func TestMetadata(t *testing.T) {
	b, _ := EncodeMetadata(nil, nil)
	if !bytes.Equal(b, []byte{0x80}) {
		t.Fatalf("nil metadata % x, want 80", b)
	}
	b, err := EncodeMetadata(nil, map[string]any{"reset_pose": []float64{0, -1.5}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string][]float64
	if err := msgpack.Unmarshal(b, &m); err != nil || len(m["reset_pose"]) != 2 {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := EncodeMetadata(nil, map[string]any{"x": struct{}{}}); err == nil {
		t.Fatal("encoded a struct")
	}
}

func TestAppendResponseDoesNotAllocate(t *testing.T) {
	r := &Response{Actions: make([]float64, 70), H: 10, D: 7, HavePrevTotal: true}
	buf := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(100, func() { buf = AppendResponse(buf[:0], r) }); a != 0 {
		t.Fatalf("AppendResponse allocates %v times", a)
	}
}

func BenchmarkDecodeObservation(b *testing.B) {
	o := liberoObs(224)
	frame := EncodeObservation(nil, &o, liberoSpec())
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeObservation(frame, liberoSpec(), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	r := &Response{Actions: make([]float64, 70), H: 10, D: 7, HavePrevTotal: true}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendResponse(buf[:0], r)
	}
}

func BenchmarkDecodeValues(b *testing.B) {
	for _, tc := range valueCases {
		enc, _ := AppendAny(nil, tc.in)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(enc, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A premise verdict travels as an extra key; a refusal replaces the
// actions with an error.
func TestPremiseReply(t *testing.T) {
	ok := AppendResponse(nil, &Response{Actions: []float64{1, 2}, H: 1, D: 2, HaveSeq: true, Session: 3, Seq: 4,
		Premise: &Premise{Decision: "ok", Frames: 1}})
	r, err := DecodeResponse(ok, DefaultLimits())
	if err != nil || r.Premise == nil || r.Premise.Decision != "ok" || r.Premise.Frames != 1 || len(r.Actions) != 2 || r.Error != "" {
		t.Fatalf("%+v %v", r, err)
	}
	ref := AppendResponse(nil, &Response{HaveSeq: true, Session: 3, Seq: 5, Error: "false premise: no blue mug",
		Premise: &Premise{Decision: "refuse", Missing: []string{"blue mug"}, Frames: 1}})
	r, err = DecodeResponse(ref, DefaultLimits())
	if err != nil || r.Error == "" || r.Actions != nil || r.Premise.Decision != "refuse" || len(r.Premise.Missing) != 1 || r.Premise.Missing[0] != "blue mug" || r.Seq != 5 {
		t.Fatalf("%+v %v", r, err)
	}
	// Without a premise the reply is byte-for-byte what it was.
	plain := AppendResponse(nil, &Response{Actions: []float64{1, 2}, H: 1, D: 2})
	if r, err := DecodeResponse(plain, DefaultLimits()); err != nil || r.Premise != nil {
		t.Fatalf("%+v %v", r, err)
	}
}
