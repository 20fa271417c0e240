package ort

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/internal/openvlafixture"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/bins"
	"github.com/efferent/efferent/tokenizer/text"
)

// openvlaFixture loads models/efferent-openvla-fixture (with its fetched
// tokenizer) from a directory, as `efferent serve --model DIR` does: the
// graphs load by path, their weights from the .onnx.data files beside them.
func openvlaFixture(t *testing.T) (*policy.Manifest, *golden.File) {
	t.Helper()
	dir := openvlafixture.Dir(t)
	m, err := policy.LoadManifest(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := golden.Load(m.FS, m.Golden)
	if err != nil {
		t.Fatal(err)
	}
	return m, g
}

// TestOpenVLAFixtureGolden: the OpenVLA-shaped fixture under ONNX Runtime
// reproduces PyTorch's greedy tokens (constrained to the last 256 ids of
// the 32000-id tokenizer while the logits are 32064 wide, whose padding
// scores highest) and OpenVLA's exact decoding of them; the Go tokenizer
// encodes the templated prompt as the reference tokenizer does.
func TestOpenVLAFixtureGolden(t *testing.T) {
	m, g := openvlaFixture(t)
	if m.Decoder.VocabSize != 32064 || m.Action.Tokenizer.TokenizerVocab != 32000 || m.Action.Tokenizer.Bins != 256 {
		t.Fatalf("logits %d, tokenizer vocab %d, bins %d: want 32064, 32000, 256",
			m.Decoder.VocabSize, m.Action.Tokenizer.TokenizerVocab, m.Action.Tokenizer.Bins)
	}
	v := open(t, m)
	if v.tok.VocabSize() != m.Action.Tokenizer.TokenizerVocab {
		t.Fatalf("tokenizer.json has %d ids, manifest says %d", v.tok.VocabSize(), m.Action.Tokenizer.TokenizerVocab)
	}
	for i := range v.detok.TokensPerChunk() {
		if lo, hi := v.detok.Allowed(i); lo != 31744 || hi != 31999 {
			t.Fatalf("position %d: band [%d, %d], want [31744, 31999]", i, lo, hi)
		}
	}
	for _, c := range g.Cases {
		t.Run(c.Prompt+"/"+c.Images["observation/image"], func(t *testing.T) {
			ids, err := v.tok.Encode(m.PromptText(c.Prompt), m.Text.AddSpecial)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, c.PromptIDs) {
				t.Fatalf("prompt ids %v, the reference tokenizer %v", ids, c.PromptIDs)
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
			checkActions(t, ch.Actions, c.FlatActions(), g.Tolerance.ActionsAbs)
			if ch.H != 1 || ch.D != 7 {
				t.Fatalf("chunk %dx%d, want 1x7", ch.H, ch.D)
			}
		})
	}
}

func checkActions(t *testing.T, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d actions, want %d", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > tol || math.IsNaN(got[i]) {
			t.Fatalf("action %d = %v, numpy %v (|d| %g > %g)", i, got[i], want[i], d, tol)
		}
	}
}

// TestOpenVLAFixtureGoldenActionsAreOpenVLAs: the fixture's golden actions
// (build.py's numpy decoding of the tokens) are what
// tokenizer/bins/testdata/openvla_golden.json, the transcription of
// action_tokenizer.py, says for those tokens under libero_spatial's
// statistics, bit for bit; and what package bins decodes.
func TestOpenVLAFixtureGoldenActionsAreOpenVLAs(t *testing.T) {
	m, g := openvlaFixture(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "tokenizer", "bins", "testdata", "openvla_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bg struct {
		Configs []struct {
			Name   string  `json:"name"`
			Tokens []int64 `json:"tokens"`
			Stats  []struct {
				Name         string      `json:"name"`
				Unnormalized [][]float64 `json:"unnormalized"`
			} `json:"stats"`
		} `json:"configs"`
	}
	if err := json.Unmarshal(data, &bg); err != nil {
		t.Fatal(err)
	}
	var table [][]float64
	var tokens []int64
	for _, c := range bg.Configs {
		for _, s := range c.Stats {
			if c.Name == "openvla" && s.Name == "libero_spatial" {
				table, tokens = s.Unnormalized, c.Tokens
			}
		}
	}
	if table == nil {
		t.Fatal("openvla_golden.json has no openvla/libero_spatial table")
	}
	a := m.Action
	n, err := tokenizer.NewNormalizer(a.Normalization.Q01, a.Normalization.Q99, a.Normalization.Mask)
	if err != nil {
		t.Fatal(err)
	}
	d, err := bins.New(bins.Conf{VocabSize: int64(a.Tokenizer.TokenizerVocab), LogitsWidth: int64(m.Decoder.VocabSize),
		Bins: a.Tokenizer.Bins, Dim: a.Dim, Horizon: a.Horizon, Norm: n})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases {
		want := c.FlatActions()
		got := make([]float64, len(want))
		if err := d.Decode(c.Tokens, got); err != nil {
			t.Fatal(err)
		}
		for i, tok := range c.Tokens {
			row := slices.Index(tokens, tok)
			if row < 0 {
				t.Fatalf("token %d not in openvla_golden.json", tok)
			}
			dim := i % a.Dim
			if want[i] != table[row][dim] || got[i] != want[i] {
				t.Fatalf("%q token %d dim %d: golden.json %v, openvla_golden.json %v, bins.Decode %v", c.Prompt, tok, dim, want[i], table[row][dim], got[i])
			}
		}
	}
}

// TestOpenVLAFixtureTokenizer: the Go tokenizer encodes every text of
// golden.json's tokenizer_cases (instructions, raw and templated, with
// punctuation, digits, runs of spaces, tabs and newlines, accents, CJK,
// emoji, special-token text) exactly as the reference tokenizer
// (tokenizers.js) does with the fixture's tokenizer.json.
func TestOpenVLAFixtureTokenizer(t *testing.T) {
	dir := openvlafixture.Dir(t)
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := text.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Text string  `json:"text"`
			IDs  []int64 `json:"prompt_ids"`
		} `json:"cases"`
		TokenizerCases []struct {
			Text string  `json:"text"`
			IDs  []int64 `json:"ids"`
		} `json:"tokenizer_cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	all := g.TokenizerCases
	for _, c := range g.Cases {
		all = append(all, struct {
			Text string  `json:"text"`
			IDs  []int64 `json:"ids"`
		}{c.Text, c.IDs})
	}
	if len(all) < 20 {
		t.Fatalf("only %d tokenizer cases", len(all))
	}
	bad := 0
	for _, c := range all {
		ids, err := tk.Encode(c.Text, true)
		if err != nil || !slices.Equal(ids, c.IDs) {
			bad++
			t.Errorf("%q: Go %v (err %v), reference %v", c.Text, ids, err, c.IDs)
		}
	}
	t.Logf("%d of %d texts encode as the reference does", len(all)-bad, len(all))
}

// TestOpenVLAFixtureBatchAndNoCache: the golden cases as one batch (prompts
// of different lengths, so different padding), and without the KV cache,
// give the same tokens as alone.
func TestOpenVLAFixtureBatchAndNoCache(t *testing.T) {
	m, g := openvlaFixture(t)
	for _, conf := range []Conf{{IntraOpThreads: 1}, {IntraOpThreads: 1, NoKVCache: true}} {
		v, err := Open(m, conf)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		n := len(g.Cases)
		obs := make([]*efferent.Observation, n)
		out := make([]*efferent.Chunk, n)
		for i, c := range g.Cases {
			o, err := c.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
			if err != nil {
				t.Fatal(err)
			}
			obs[i], out[i] = &o, &efferent.Chunk{}
		}
		errs := make([]error, n)
		v.InferBatch(context.Background(), obs, out, errs)
		for i, c := range g.Cases {
			if errs[i] != nil {
				t.Fatalf("no-cache %v, row %d: %v", conf.NoKVCache, i, errs[i])
			}
			if !slices.Equal(out[i].Tokens, c.Tokens) {
				t.Fatalf("no-cache %v, row %d: tokens %v, PyTorch %v", conf.NoKVCache, i, out[i].Tokens, c.Tokens)
			}
			checkActions(t, out[i].Actions, c.FlatActions(), g.Tolerance.ActionsAbs)
		}
	}
}

// TestBinsForcedGuide: with bins (one token per dim and step), real-time
// chunking forces the tokens of the steps a guide freezes — the decoder
// continues from what the robot will have done — and decodes the rest.
// The OpenVLA fixture's graphs decode any number of tokens, so it runs
// here with a 4-step horizon (OpenVLA's own is 1, which has nothing to
// guide: its metadata says so).
func TestBinsForcedGuide(t *testing.T) {
	m, g := openvlaFixture(t)
	if v := open(t, m); v.Metadata().Guides {
		t.Fatal("a 1-step bins model says it can guide")
	}
	m4 := *m
	m4.Action.Horizon = 4
	v := open(t, &m4)
	if !v.Metadata().Guides {
		t.Fatal("a 4-step bins model does not say it can guide")
	}
	obs, err := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var free, out efferent.Chunk
	if err := v.Infer(ctx, &obs, &free); err != nil {
		t.Fatal(err)
	}
	const D, delay = 7, 2
	n := m4.Action.Normalization
	guide := efferent.ActionGuide{Steps: 3, D: D, Delay: delay}
	for k := range guide.Steps {
		for d := range D {
			// Values across each dim's range, unlike the free chunk's.
			f := float64((k*D+d)%5) / 4
			guide.Actions = append(guide.Actions, n.Q01[d]+f*(n.Q99[d]-n.Q01[d]))
		}
	}
	obs.Guide = guide
	if err := v.Infer(ctx, &obs, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Tokens) != 4*D {
		t.Fatalf("%d tokens, want %d", len(out.Tokens), 4*D)
	}
	differ := false
	for i, x := range guide.Actions[:delay*D] {
		want := v.bins.Token(i%D, x)
		if out.Tokens[i] != want {
			t.Fatalf("frozen token %d = %d, want the guide's %d", i, out.Tokens[i], want)
		}
		differ = differ || free.Tokens[i] != want
		// Bin centres: within half a bin of the guide where it is normalised.
		if half := (n.Q99[i%D] - n.Q01[i%D]) / 255; n.Mask == nil || n.Mask[i%D] {
			if math.Abs(out.Actions[i]-x) > half+1e-9 {
				t.Fatalf("frozen action %d = %g, guide %g (more than half a bin, %g)", i, out.Actions[i], x, half)
			}
		}
	}
	if !differ {
		t.Fatal("the unguided chunk already had the guide's tokens: the test cannot see the forcing")
	}
	for i := delay * D; i < 4*D; i++ {
		if lo, hi := v.detok.Allowed(i); out.Tokens[i] < lo || out.Tokens[i] > hi {
			t.Fatalf("free token %d = %d outside the band", i, out.Tokens[i])
		}
	}
	obs.Guide = efferent.ActionGuide{}
	if err := v.Infer(ctx, &obs, &out); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Tokens, free.Tokens) {
		t.Fatal("after a guided chunk, an unguided one differs from the first")
	}
}
