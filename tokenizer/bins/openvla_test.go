package bins

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/efferent/efferent/tokenizer"
)

// openvlaGolden is testdata/openvla_golden.json, written by
// testdata/openvla_golden.py: numpy's answers from a transcription of
// OpenVLA's action_tokenizer.py and predict_action.
type openvlaGolden struct {
	Configs []struct {
		Name        string    `json:"name"`
		VocabSize   int64     `json:"vocab_size"`
		LogitsWidth int64     `json:"logits_width"`
		Bins        int       `json:"bins"`
		Band        [2]int64  `json:"band"`
		Edges       []float64 `json:"edges"`
		Centers     []float64 `json:"centers"`
		Tokens      []int64   `json:"tokens"`
		InBand      []bool    `json:"in_band"`
		Normalized  []float64 `json:"normalized"`
		Stats       []struct {
			Name         string      `json:"name"`
			Q01          []float64   `json:"q01"`
			Q99          []float64   `json:"q99"`
			Mask         []bool      `json:"mask"`
			Unnormalized [][]float64 `json:"unnormalized"`
		} `json:"stats"`
		Encode struct {
			Normalized []float64 `json:"normalized"`
			Tokens     []int64   `json:"tokens"`
		} `json:"encode"`
	} `json:"configs"`
}

func loadOpenVLAGolden(t *testing.T) *openvlaGolden {
	t.Helper()
	data, err := os.ReadFile("testdata/openvla_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g openvlaGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Configs) == 0 {
		t.Fatal("no configs in openvla_golden.json")
	}
	return &g
}

// same reports whether a and b are the same float64, bit for bit (but 0
// and −0 alike, as numpy's == has them).
func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// close is |a − b| <= 1e-12·max(1, |b|): the un-normalisation's last
// rounding may differ where the compiler fuses its multiply-add (arm64,
// ppc64, s390x); on amd64 the values are identical (the test logs how
// many).
func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-12*max(1, math.Abs(b)) }

// TestOpenVLABinsGolden matches OpenVLA's decoding exactly: the edges, the
// centres, every id of the band and ids around it (which OpenVLA clips,
// Normalized too, and Decode refuses), the un-normalisation with several
// q01/q99/mask sets, and the encoding.
func TestOpenVLABinsGolden(t *testing.T) {
	g := loadOpenVLAGolden(t)
	for _, c := range g.Configs {
		t.Run(c.Name, func(t *testing.T) {
			probe, err := tokenizer.NewNormalizer([]float64{-1}, []float64{1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tk, err := New(Conf{VocabSize: c.VocabSize, LogitsWidth: c.LogitsWidth, Bins: c.Bins, Dim: 1, Horizon: 1, Norm: probe})
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := tk.Allowed(0); lo != c.Band[0] || hi != c.Band[1] {
				t.Fatalf("band [%d, %d], numpy [%d, %d]", lo, hi, c.Band[0], c.Band[1])
			}
			if !slices.EqualFunc(tk.Edges(), c.Edges, same) {
				t.Fatalf("edges differ from numpy.linspace:\n got %v\nwant %v", tk.Edges(), c.Edges)
			}
			if !slices.EqualFunc(tk.Centres(), c.Centers, same) {
				t.Fatalf("centres differ from numpy:\n got %v\nwant %v", tk.Centres(), c.Centers)
			}
			for i, tok := range c.Tokens {
				if got := tk.Normalized(tok); !same(got, c.Normalized[i]) {
					t.Fatalf("token %d: normalized %v, numpy %v", tok, got, c.Normalized[i])
				}
				lo, hi := tk.Allowed(0)
				if in := tok >= lo && tok <= hi; in != c.InBand[i] {
					t.Fatalf("token %d: in band %v, numpy %v", tok, in, c.InBand[i])
				}
			}
			for _, st := range c.Stats {
				t.Run(st.Name, func(t *testing.T) {
					testOpenVLAStats(t, c.VocabSize, c.LogitsWidth, c.Bins, c.Tokens, c.InBand, c.Normalized, st.Q01, st.Q99, st.Mask, st.Unnormalized)
				})
			}
			// Encoding: a normaliser that masks nothing passes the
			// normalised values through, so this is clip + digitize.
			pass, _ := tokenizer.NewNormalizer([]float64{0}, []float64{0}, []bool{false})
			enc, err := New(Conf{VocabSize: c.VocabSize, LogitsWidth: c.LogitsWidth, Bins: c.Bins, Dim: 1, Horizon: 1, Norm: pass})
			if err != nil {
				t.Fatal(err)
			}
			var tok [1]int64
			for i, v := range c.Encode.Normalized {
				if err := enc.Encode([]float64{v}, tok[:]); err != nil {
					t.Fatal(err)
				}
				if tok[0] != c.Encode.Tokens[i] {
					t.Fatalf("encode %v (%b): token %d, numpy %d", v, math.Float64bits(v), tok[0], c.Encode.Tokens[i])
				}
			}
		})
	}
}

func testOpenVLAStats(t *testing.T, vocab, width int64, nbins int, tokens []int64, inBand []bool, normalized, q01, q99 []float64, mask []bool, want [][]float64) {
	norm, err := tokenizer.NewNormalizer(q01, q99, mask)
	if err != nil {
		t.Fatal(err)
	}
	D := len(q01)
	tk, err := New(Conf{VocabSize: vocab, LogitsWidth: width, Bins: nbins, Dim: D, Horizon: 1, Norm: norm})
	if err != nil {
		t.Fatal(err)
	}
	chunk, dst := make([]int64, D), make([]float64, D)
	exact, n := 0, 0
	for i, tok := range tokens {
		for d := range chunk {
			chunk[d] = tok
		}
		err := tk.Decode(chunk, dst)
		if !inBand[i] {
			// OpenVLA would clip this id; efferent refuses it. Its value
			// all the same: Normalized, then the un-normalisation.
			if !errors.Is(err, tokenizer.ErrTokenOutOfBand) {
				t.Fatalf("token %d outside the band: err = %v, want ErrTokenOutOfBand", tok, err)
			}
			for d := range dst {
				dst[d] = tk.Normalized(tok)
			}
			norm.Unnormalize(dst)
		} else if err != nil {
			t.Fatalf("token %d: %v", tok, err)
		}
		for d := range dst {
			if !closeTo(dst[d], want[i][d]) {
				t.Fatalf("token %d dim %d: %v (normalized %v), numpy %v", tok, d, dst[d], normalized[i], want[i][d])
			}
			if same(dst[d], want[i][d]) {
				exact++
			}
			n++
		}
	}
	t.Logf("%d of %d un-normalised values bit-identical to numpy", exact, n)
}

// TestOpenVLABandIsTheTokenizers: the band is the last Bins ids of the
// TOKENIZER's vocabulary, never of the padded logits, and a logits width
// below the vocabulary is refused.
func TestOpenVLABinsBandIsTheTokenizers(t *testing.T) {
	n, _ := tokenizer.NewNormalizer(make([]float64, 7), make([]float64, 7), nil)
	tk, err := New(Conf{VocabSize: 32000, LogitsWidth: 32064, Bins: 256, Dim: 7, Horizon: 1, Norm: n})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tk.TokensPerChunk() {
		if lo, hi := tk.Allowed(i); lo != 31744 || hi != 31999 {
			t.Fatalf("position %d: band [%d, %d], want [31744, 31999] (the last 256 of Llama 2's 32000 ids)", i, lo, hi)
		}
	}
	dst := make([]float64, 7)
	for _, tok := range []int64{32000, 32063, 31743} {
		if err := tk.Decode([]int64{31999, 31999, 31999, tok, 31999, 31999, 31999}, dst); !errors.Is(err, tokenizer.ErrTokenOutOfBand) {
			t.Errorf("token %d decoded (err %v): outside the band", tok, err)
		}
	}
	if _, err := New(Conf{VocabSize: 32064, LogitsWidth: 32000, Bins: 256, Dim: 7, Horizon: 1, Norm: n}); !errors.Is(err, tokenizer.ErrConfig) {
		t.Errorf("logits narrower than the vocabulary accepted: %v", err)
	}
}
