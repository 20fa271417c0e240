package vq

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/efferent/efferent/tokenizer"
)

// cases is the one table shared by the decode, round-trip and benchmark
// tests: the released VQ-VLA geometry and the small one of our fixture.
var cases = []struct {
	name                        string
	horizon, dim, levels, codes int
	base                        int64
	direction                   string
	wantFirst, wantLast         int64 // token of level 0 code 0, of the last level's last code
	wantBand0Lo, wantBandLastLo int64
}{
	{"vq-vla", 5, 7, 4, 256, 31999, "down", 31999, 30976, 31744, 30976},
	{"fixture", 5, 7, 4, 64, 1023, "down", 1023, 768, 960, 768},
	{"up", 5, 7, 2, 16, 100, "up", 100, 131, 100, 116},
}

func makeCodebook(h, d, levels, codes int, seed uint64) *Codebook {
	r := rand.New(rand.NewPCG(seed, 1))
	cb := &Codebook{Horizon: h, Dim: d, Levels: levels, Codes: codes, LatentDim: h * d,
		Vectors: make([]float32, levels*codes*h*d)}
	for g := 0; g < levels; g++ {
		scale := math.Pow(0.5, float64(g))
		for i := 0; i < codes*h*d; i++ {
			cb.Vectors[(g*codes*h*d)+i] = float32(r.NormFloat64() * 0.5 * scale)
		}
	}
	return cb
}

func norm(t testing.TB, d int) tokenizer.Normalizer {
	q01, q99, mask := make([]float64, d), make([]float64, d), make([]bool, d)
	for i := range q01 {
		q01[i], q99[i], mask[i] = -0.5-float64(i)*0.1, 0.5+float64(i)*0.2, i != d-1
	}
	n, err := tokenizer.NewNormalizer(q01, q99, mask)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func build(t testing.TB, i int) *Detokenizer {
	c := cases[i]
	d, err := New(makeCodebook(c.horizon, c.dim, c.levels, c.codes, uint64(i)), Conf{Base: c.base, Direction: c.direction, Norm: norm(t, c.dim)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMapping(t *testing.T) {
	for i, c := range cases {
		d := build(t, i)
		if got := d.Token(0, 0); got != c.wantFirst {
			t.Errorf("%s: Token(0,0) = %d, want %d", c.name, got, c.wantFirst)
		}
		if got := d.Token(c.levels-1, c.codes-1); got != c.wantLast {
			t.Errorf("%s: last token = %d, want %d", c.name, got, c.wantLast)
		}
		if lo, hi := d.Allowed(0); lo != c.wantBand0Lo || hi-lo != int64(c.codes-1) {
			t.Errorf("%s: Allowed(0) = [%d, %d]", c.name, lo, hi)
		}
		if lo, _ := d.Allowed(c.levels - 1); lo != c.wantBandLastLo {
			t.Errorf("%s: Allowed(last) lo = %d, want %d", c.name, lo, c.wantBandLastLo)
		}
		for g := 0; g < c.levels; g++ {
			for code := 0; code < c.codes; code += 7 {
				gg, cc, err := d.Code(d.Token(g, code))
				if err != nil || gg != g || cc != code {
					t.Fatalf("%s: Code(Token(%d,%d)) = %d,%d,%v", c.name, g, code, gg, cc, err)
				}
			}
		}
	}
}

// TestDecodeExact: actions built from a known code sum decode back exactly.
func TestDecodeExact(t *testing.T) {
	for i, c := range cases {
		d := build(t, i)
		r := rand.New(rand.NewPCG(uint64(i), 9))
		tokens := make([]int64, c.levels)
		want := make([]float64, c.horizon*c.dim)
		for g := range tokens {
			code := r.IntN(c.codes)
			tokens[g] = d.Token(g, code)
			for k, v := range d.cb.Vector(g, code) {
				want[k] += float64(v)
			}
		}
		d.conf.Norm.Unnormalize(want)
		got := make([]float64, len(want))
		if err := d.Decode(tokens, got); err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if math.Abs(got[k]-want[k]) > 1e-5 {
				t.Fatalf("%s: [%d] = %v, want %v", c.name, k, got[k], want[k])
			}
		}
		// Encode finds the same codes (greedy residual search on exact sums
		// of well-separated levels).
		enc := make([]int64, c.levels)
		if err := d.Encode(got, enc); err != nil {
			t.Fatal(err)
		}
		again := make([]float64, len(want))
		if err := d.Decode(enc, again); err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if math.Abs(again[k]-want[k]) > 0.05*(1+math.Abs(want[k])) {
				t.Fatalf("%s: round trip [%d] = %v, want %v", c.name, k, again[k], want[k])
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	d := build(t, 1)
	dst := make([]float64, 35)
	good := []int64{d.Token(0, 1), d.Token(1, 2), d.Token(2, 3), d.Token(3, 4)}
	for _, tc := range []struct {
		name   string
		tokens []int64
		dst    []float64
		want   error
		msg    string
	}{
		{"short", good[:3], dst, tokenizer.ErrTokenCount, "got 3, want 4"},
		{"long", append(append([]int64{}, good...), good[0]), dst, tokenizer.ErrTokenCount, ""},
		{"text token", []int64{5, good[1], good[2], good[3]}, dst, tokenizer.ErrTokenOutOfBand, "position 0 has token 5"},
		{"wrong level", []int64{good[1], good[1], good[2], good[3]}, dst, tokenizer.ErrTokenOutOfBand, "position 0"},
		{"above vocab", []int64{good[0], good[1], good[2], 5000}, dst, tokenizer.ErrTokenOutOfBand, "position 3"},
		{"negative", []int64{-1, good[1], good[2], good[3]}, dst, tokenizer.ErrTokenOutOfBand, ""},
		{"dst", good, make([]float64, 34), tokenizer.ErrDstSize, ""},
	} {
		err := d.Decode(tc.tokens, tc.dst)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

type nanDecoder struct{}

func (nanDecoder) DecodeLatent(z, out []float32) error {
	for i := range out {
		out[i] = float32(math.NaN())
	}
	return nil
}

func TestLatentDecoderNaN(t *testing.T) {
	cb := makeCodebook(5, 7, 4, 64, 1)
	cb.LatentDim = 35
	d, err := New(cb, Conf{Base: 1023, Norm: norm(t, 7), Decoder: nanDecoder{}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Decode([]int64{d.Token(0, 0), d.Token(1, 0), d.Token(2, 0), d.Token(3, 0)}, make([]float64, 35))
	if !errors.Is(err, tokenizer.ErrNotFinite) {
		t.Fatalf("err = %v, want ErrNotFinite", err)
	}
}

func TestNewErrors(t *testing.T) {
	cb := makeCodebook(5, 7, 4, 64, 1)
	for _, tc := range []struct {
		name string
		cb   *Codebook
		conf Conf
	}{
		{"direction", cb, Conf{Base: 1023, Direction: "sideways", Norm: norm(t, 7)}},
		{"band below zero", cb, Conf{Base: 100, Norm: norm(t, 7)}},
		{"norm dims", cb, Conf{Base: 1023, Norm: norm(t, 6)}},
		{"identity latent", &Codebook{Horizon: 5, Dim: 7, Levels: 1, Codes: 2, LatentDim: 8, Vectors: make([]float32, 16)}, Conf{Base: 10, Norm: norm(t, 7)}},
	} {
		if _, err := New(tc.cb, tc.conf); !errors.Is(err, tokenizer.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tc.name, err)
		}
	}
}

func TestCodebookFile(t *testing.T) {
	cb := makeCodebook(5, 7, 2, 8, 4)
	data, err := cb.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCodebook(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Checksum() != cb.Checksum() || len(back.Vectors) != len(cb.Vectors) {
		t.Fatal("round trip changed the codebook")
	}
	var j map[string]any
	_ = json.Unmarshal(data, &j)
	edit := func(f func(map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name, msg string
		data      []byte
	}{
		{"format", "format", edit(func(m map[string]any) { m["format"] = "efferent-vq/0" })},
		{"checksum", "checksum", edit(func(m map[string]any) { m["sha256"] = strings.Repeat("0", 64) })},
		{"levels", "levels", edit(func(m map[string]any) { m["levels"] = 3.0 })},
		{"latent", "latent_dim", edit(func(m map[string]any) { m["latent_dim"] = 34.0 })},
		{"negative", "codes", edit(func(m map[string]any) { m["codes"] = -1.0 })},
		{"value", "", edit(func(m map[string]any) { m["codebook"].([]any)[0].([]any)[0].([]any)[0] = "x" })},
		{"not json", "", []byte("{")},
	} {
		if _, err := ParseCodebook(tc.data); !errors.Is(err, tokenizer.ErrConfig) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	for i := range cases {
		d := build(t, i)
		tokens := make([]int64, d.cb.Levels)
		for g := range tokens {
			tokens[g] = d.Token(g, g)
		}
		dst := make([]float64, d.cb.Horizon*d.cb.Dim)
		if a := testing.AllocsPerRun(100, func() { _ = d.Decode(tokens, dst) }); a != 0 {
			t.Fatalf("%s: Decode allocates %v times", cases[i].name, a)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for i, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := build(b, i)
			tokens := make([]int64, c.levels)
			for g := range tokens {
				tokens[g] = d.Token(g, (g*37)%c.codes)
			}
			dst := make([]float64, c.horizon*c.dim)
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Decode(tokens, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzVQDecode(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{255, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := build(t, 1)
		tokens := make([]int64, 0, len(data))
		for _, b := range data {
			tokens = append(tokens, 1023-int64(b)*2) // spans the band and below it
		}
		dst := make([]float64, 35)
		if err := d.Decode(tokens, dst); err == nil {
			if len(tokens) != 4 {
				t.Fatalf("accepted %d tokens", len(tokens))
			}
			for i := range tokens {
				if lo, hi := d.Allowed(i); tokens[i] < lo || tokens[i] > hi {
					t.Fatalf("accepted out-of-band token %d at %d", tokens[i], i)
				}
			}
			if err := tokenizer.CheckFinite(dst, 7); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseCodebook(f *testing.F) {
	good, _ := makeCodebook(2, 2, 2, 2, 1).MarshalJSON()
	f.Add(good)
	f.Add([]byte(`{"format":"efferent-vq/1","horizon":1,"dim":1,"levels":1,"codes":1,"latent_dim":1,"codebook":[[[1e400]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cb, err := ParseCodebook(data)
		if err != nil {
			return
		}
		if len(cb.Vectors) != cb.Levels*cb.Codes*cb.LatentDim {
			t.Fatalf("accepted inconsistent codebook")
		}
	})
}
