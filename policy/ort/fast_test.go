package ort

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"slices"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/fast"
)

// fastGolden is what models/efferent-fast-fixture/golden.json adds to the
// common golden file: per case the FAST ids and the chunk they encode,
// and the observation whose spelled tokens the runtime must refuse.
type fastGolden struct {
	Cases []struct {
		Name          string      `json:"name"`
		FastIDs       []int       `json:"fast_ids"`
		SourceActions [][]float64 `json:"source_actions"`
	} `json:"cases"`
	Refused []golden.Case `json:"refused"`
}

func loadFastFixture(t *testing.T) (*policy.Manifest, *golden.File, *fastGolden) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs the ONNX Runtime library (make setup)")
	}
	m, g := loadDir(t, "efferent-fast-fixture")
	data, err := fs.ReadFile(m.FS, m.Golden)
	if err != nil {
		t.Fatal(err)
	}
	var fg fastGolden
	if err := json.Unmarshal(data, &fg); err != nil {
		t.Fatal(err)
	}
	if len(fg.Cases) != len(g.Cases) || len(fg.Refused) == 0 {
		t.Fatalf("golden.json: %d cases, %d with FAST details, %d refused", len(g.Cases), len(fg.Cases), len(fg.Refused))
	}
	return m, g, &fg
}

// TestFastFixtureGolden: under ONNX Runtime the runtime's greedy decoding,
// constrained to the FAST band and the end token and stopped at it,
// reproduces PyTorch's tokens (a different count per case), and the fast
// detokenizer the FAST reference's actions; those lie within the
// quantisation bound of the chunk the tokens encode.
func TestFastFixtureGolden(t *testing.T) {
	m, g, fg := loadFastFixture(t)
	if m.Action.Tokenizer.Kind != "fast" {
		t.Fatalf("kind %q", m.Action.Tokenizer.Kind)
	}
	v := open(t, m)
	ft, ok := v.detok.(*fast.Tokenizer)
	if !ok || v.end != *m.Action.Tokenizer.EndToken || v.detok.TokensPerChunk() != m.Action.Tokenizer.MaxTokens+1 {
		t.Fatalf("detokenizer %T, end %d, %d tokens per chunk", v.detok, v.end, v.detok.TokensPerChunk())
	}
	lengths := map[int]bool{}
	for ci, c := range g.Cases {
		t.Run(fg.Cases[ci].Name, func(t *testing.T) {
			ids, err := v.tok.Encode(c.Prompt, m.Text.AddSpecial)
			if err != nil || !slices.Equal(ids, c.PromptIDs) {
				t.Fatalf("prompt ids %v (%v), build script %v", ids, err, c.PromptIDs)
			}
			obs, err := c.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
			if err != nil {
				t.Fatal(err)
			}
			var ch efferent.Chunk
			if err := v.Infer(context.Background(), &obs, &ch); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ch.Tokens, c.Tokens) {
				t.Fatalf("tokens %v, PyTorch %v", ch.Tokens, c.Tokens)
			}
			if tm := v.LastTiming(); tm.NSteps != len(c.Tokens) {
				t.Fatalf("%d decoder steps for %d tokens: decoding did not stop at the end token", tm.NSteps, len(c.Tokens))
			}
			lengths[len(c.Tokens)] = true
			checkActions(t, ch.Actions, c.FlatActions(), g.Tolerance.ActionsAbs)
			src := fg.Cases[ci].SourceActions
			q01, q99 := m.Action.Normalization.Q01, m.Action.Normalization.Q99
			for j, row := range src {
				for d, a := range row {
					bound := ft.ErrorBound(j) * (q99[d] - q01[d] + m.Action.Tokenizer.NormEps) / 2
					if e := math.Abs(ch.Actions[j*ch.D+d] - a); e > bound+1e-9 {
						t.Fatalf("step %d dim %d: |decoded − encoded chunk| = %g > quantisation bound %g", j, d, e, bound)
					}
				}
			}
		})
	}
	if len(lengths) < 2 {
		t.Fatalf("every case took the same number of tokens %v: the fixture does not exercise variable length", lengths)
	}
	if n := v.DetokenizeErrors(); n != 0 {
		t.Fatalf("%d detokenize errors", n)
	}
}

// TestFastFixtureRefused: the fixture spells a truncated FAST sequence for
// one observation; the FAST processor would decode it to a zero chunk,
// the runtime refuses it and counts it, and decodes on afterwards.
func TestFastFixtureRefused(t *testing.T) {
	m, g, fg := loadFastFixture(t)
	v := open(t, m)
	for _, noCache := range []bool{false, true} {
		v.noCache = noCache
		before := v.DetokenizeErrors()
		r := fg.Refused[0]
		obs, err := r.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
		if err != nil {
			t.Fatal(err)
		}
		var ch efferent.Chunk
		err = v.Infer(context.Background(), &obs, &ch)
		if !errors.Is(err, fast.ErrIncomplete) || !errors.Is(err, tokenizer.ErrTokenCount) {
			t.Fatalf("err = %v, want fast.ErrIncomplete", err)
		}
		if ch.H != 0 || ch.Tokens != nil {
			t.Fatalf("a refused chunk was filled in: %dx%d, tokens %v", ch.H, ch.D, ch.Tokens)
		}
		if n := v.DetokenizeErrors(); n != before+1 {
			t.Fatalf("DetokenizeErrors %d, want %d", n, before+1)
		}
		t.Log(err)
		good, _ := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
		if err := v.Infer(context.Background(), &good, &ch); err != nil || !slices.Equal(ch.Tokens, g.Cases[0].Tokens) {
			t.Fatalf("after a refusal: %v, tokens %v", err, ch.Tokens)
		}
	}
}

// TestFastFixtureBatch: one batch whose rows end at different steps (and
// one refused): each row gets its own tokens; the decoder runs until the
// longest row has ended. Without the key/value cache too.
func TestFastFixtureBatch(t *testing.T) {
	m, g, fg := loadFastFixture(t)
	for _, noCache := range []bool{false, true} {
		v, err := Open(m, Conf{IntraOpThreads: 1, NoKVCache: noCache})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if v.MaxBatch() < 2 {
			t.Fatalf("MaxBatch %d: the fixture's graphs have a symbolic batch axis", v.MaxBatch())
		}
		cases := append(slices.Clone(g.Cases), fg.Refused...)
		// Twice over, interleaved, so that rows of different lengths share
		// the batch in both orders.
		for i := len(cases) - 1; i >= 0; i-- {
			cases = append(cases, cases[i])
		}
		var obs []*efferent.Observation
		longest := 0
		for _, c := range cases {
			o, err := c.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
			if err != nil {
				t.Fatal(err)
			}
			obs = append(obs, &o)
			longest = max(longest, len(c.Tokens))
		}
		out, errs := make([]*efferent.Chunk, len(obs)), make([]error, len(obs))
		for i := range out {
			out[i] = &efferent.Chunk{}
		}
		v.InferBatch(context.Background(), obs, out, errs)
		for i, c := range cases {
			if c.Actions == nil { // the refused case
				if !errors.Is(errs[i], fast.ErrIncomplete) {
					t.Fatalf("noCache %v row %d: err = %v, want fast.ErrIncomplete", noCache, i, errs[i])
				}
				continue
			}
			if errs[i] != nil {
				t.Fatalf("noCache %v row %d: %v", noCache, i, errs[i])
			}
			if !slices.Equal(out[i].Tokens, c.Tokens) {
				t.Fatalf("noCache %v row %d: tokens %v, want %v", noCache, i, out[i].Tokens, c.Tokens)
			}
			checkActions(t, out[i].Actions, c.FlatActions(), g.Tolerance.ActionsAbs)
		}
		if v.MaxBatch() >= len(obs) && v.LastTiming().NSteps != longest {
			t.Fatalf("noCache %v: %d decoder steps, the longest row takes %d", noCache, v.LastTiming().NSteps, longest)
		}
		if n := v.DetokenizeErrors(); n != 2 {
			t.Fatalf("noCache %v: DetokenizeErrors %d, want 2", noCache, n)
		}
	}
}

// TestFastManifestBand: a token base that puts the band outside the
// decoder's vocabulary, or an end token inside the band, fails at Open.
func TestFastManifestBand(t *testing.T) {
	m, _, _ := loadFastFixture(t)
	for name, edit := range map[string]func(a *policy.ActionTokenizer){
		"band below 0":      func(a *policy.ActionTokenizer) { a.TokenBase = 100 },
		"end inside band":   func(a *policy.ActionTokenizer) { e := a.TokenBase - 3; a.EndToken = &e },
		"vocab not a BPE":   func(a *policy.ActionTokenizer) { a.Vocab = "tokenizer.json" },
		"missing end token": func(a *policy.ActionTokenizer) { a.EndToken = nil },
	} {
		mm := *m
		edit(&mm.Action.Tokenizer)
		if v, err := Open(&mm, Conf{IntraOpThreads: 1}); err == nil {
			v.Close()
			t.Errorf("%s: opened", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
