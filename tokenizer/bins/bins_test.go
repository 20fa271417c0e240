package bins

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/efferent/efferent/tokenizer"
)

// cases is shared by the decode, round-trip and benchmark tests.
var cases = []struct {
	name           string
	vocab          int64
	bins, dim, hor int
}{
	{"openvla", 32000, 256, 7, 1},
	{"chunked", 1024, 256, 7, 5},
	{"coarse", 100, 8, 2, 3},
}

func build(t testing.TB, i int) *Tokenizer {
	c := cases[i]
	q01, q99 := make([]float64, c.dim), make([]float64, c.dim)
	for d := range q01 {
		q01[d], q99[d] = -1-float64(d), 2+float64(d)
	}
	n, err := tokenizer.NewNormalizer(q01, q99, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := New(Conf{VocabSize: c.vocab, Bins: c.bins, Dim: c.dim, Horizon: c.hor, Norm: n})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestOpenVLAValues checks hand-computed OpenVLA decodes: token 31999
// (d = 1) is the first bin centre, token 31744 (d = 256) clips to the last.
func TestOpenVLAValues(t *testing.T) {
	tk := build(t, 0)
	lo, hi := tk.Allowed(3)
	if lo != 31744 || hi != 31999 {
		t.Fatalf("band [%d, %d], want [31744, 31999]", lo, hi)
	}
	width := 2.0 / 255
	first, last := -1+width/2, 1-width/2
	tokens := []int64{31999, 31744, 31999, 31744, 31999, 31744, 31999}
	dst := make([]float64, 7)
	if err := tk.Decode(tokens, dst); err != nil {
		t.Fatal(err)
	}
	for d, v := range dst {
		x := first
		if d%2 == 1 {
			x = last
		}
		q01, q99 := -1-float64(d), 2+float64(d)
		want := 0.5*(x+1)*(q99-q01) + q01
		if math.Abs(v-want) > 1e-12 {
			t.Fatalf("dim %d = %v, want %v", d, v, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for i, c := range cases {
		tk := build(t, i)
		r := rand.New(rand.NewPCG(uint64(i), 2))
		n := c.dim * c.hor
		a, back, tokens := make([]float64, n), make([]float64, n), make([]int64, n)
		for trial := 0; trial < 200; trial++ {
			for k := range a {
				d := k % c.dim
				q01, q99 := -1-float64(d), 2+float64(d)
				a[k] = q01 + r.Float64()*(q99-q01)
			}
			if err := tk.Encode(a, tokens); err != nil {
				t.Fatal(err)
			}
			if err := tk.Decode(tokens, back); err != nil {
				t.Fatalf("%s: %v (tokens %v)", c.name, err, tokens)
			}
			for k := range a {
				d := k % c.dim
				rng := float64(3 + 2*d)
				binWidth := 2.0 / float64(c.bins-1) * rng / 2
				if math.Abs(a[k]-back[k]) > binWidth+1e-9 {
					t.Fatalf("%s: %v → %v, more than a bin (%v)", c.name, a[k], back[k], binWidth)
				}
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tk := build(t, 0)
	dst := make([]float64, 7)
	good := []int64{31999, 31999, 31999, 31999, 31999, 31999, 31999}
	bad := append([]int64{}, good...)
	bad[4] = 31743
	above := append([]int64{}, good...)
	above[0] = 32000
	for _, tc := range []struct {
		name   string
		tokens []int64
		dst    []float64
		want   error
		msg    string
	}{
		{"count", good[:6], dst, tokenizer.ErrTokenCount, "got 6, want 7"},
		{"below band", bad, dst, tokenizer.ErrTokenOutOfBand, "position 4 has token 31743"},
		{"above vocab", above, dst, tokenizer.ErrTokenOutOfBand, "position 0"},
		{"dst", good, make([]float64, 8), tokenizer.ErrDstSize, ""},
	} {
		if err := tk.Decode(tc.tokens, tc.dst); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if _, err := New(Conf{VocabSize: 10, Bins: 256, Dim: 1, Horizon: 1}); !errors.Is(err, tokenizer.ErrConfig) {
		t.Errorf("vocab < bins accepted: %v", err)
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	tk := build(t, 0)
	tokens := []int64{31999, 31900, 31800, 31744, 31850, 31990, 31760}
	dst := make([]float64, 7)
	if a := testing.AllocsPerRun(100, func() { _ = tk.Decode(tokens, dst) }); a != 0 {
		t.Fatalf("Decode allocates %v times", a)
	}
}

func BenchmarkDecode(b *testing.B) {
	for i, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tk := build(b, i)
			tokens := make([]int64, c.dim*c.hor)
			for k := range tokens {
				tokens[k] = c.vocab - 1 - int64(k%c.bins)
			}
			dst := make([]float64, len(tokens))
			b.ReportAllocs()
			for b.Loop() {
				if err := tk.Decode(tokens, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzBinsDecode(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		tk := build(t, 0)
		tokens := make([]int64, 0, len(data)/2)
		for i := 0; i+1 < len(data); i += 2 {
			tokens = append(tokens, 31700+int64(data[i])+int64(data[i+1]&1)*100)
		}
		dst := make([]float64, 7)
		if err := tk.Decode(tokens, dst); err != nil {
			return
		}
		for d, v := range dst {
			q01, q99 := -1-float64(d), 2+float64(d)
			if !(v >= q01-1e-9 && v <= q99+1e-9) {
				t.Fatalf("dim %d = %v outside [%v, %v]", d, v, q01, q99)
			}
		}
	})
}
