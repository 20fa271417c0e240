package fast

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/efferent/efferent/tokenizer"
)

// goldenFile is testdata/golden.json, written by testdata/fast_reference.py.
type goldenFile struct {
	Scale       float64       `json:"scale"`
	MinToken    int           `json:"min_token"`
	MaxToken    int           `json:"max_token"`
	VocabSize   int           `json:"vocab_size"`
	LMBase      int64         `json:"lm_base"`
	LMDirection string        `json:"lm_direction"`
	LMEnd       int64         `json:"lm_end"`
	NormEps     float64       `json:"norm_eps"`
	Cases       []goldenCase  `json:"cases"`
	Refused     []refusedCase `json:"refused"`
	// BPEStrings are coefficient strings and their BPE ids (checked
	// against Hugging Face's tokenizers.js by hf_crosscheck.mjs);
	// Unrepresentable ones hold a byte the vocabulary has no token for.
	BPEStrings []struct {
		Chars  []int `json:"chars"`
		BPEIDs []int `json:"bpe_ids"`
	} `json:"bpe_strings"`
	Unrepresentable []struct {
		Chars []int `json:"chars"`
	} `json:"bpe_unrepresentable"`
}

type goldenCase struct {
	Name              string      `json:"name"`
	Horizon           int         `json:"horizon"`
	Dim               int         `json:"dim"`
	Q01               []float64   `json:"q01"`
	Q99               []float64   `json:"q99"`
	Actions           [][]float64 `json:"actions"`
	Normalized        [][]float64 `json:"normalized"`
	DCT               [][]float64 `json:"dct"`
	Quantized         []int       `json:"quantized"`
	Chars             []int       `json:"chars"`
	BPEIDs            []int       `json:"bpe_ids"`
	LMTokens          []int64     `json:"lm_tokens"`
	DecodedNormalized [][]float64 `json:"decoded_normalized"`
	DecodedActions    [][]float64 `json:"decoded_actions"`
}

type refusedCase struct {
	Name     string  `json:"name"`
	Horizon  int     `json:"horizon"`
	Dim      int     `json:"dim"`
	BPEIDs   []int   `json:"bpe_ids"`
	LMTokens []int64 `json:"lm_tokens"`
}

var (
	goldenOnce sync.Once
	golden     goldenFile
	goldenErr  error
	vocab      *Vocab
)

func loadGolden(t testing.TB) (*goldenFile, *Vocab) {
	t.Helper()
	goldenOnce.Do(func() {
		var data []byte
		if data, goldenErr = os.ReadFile("testdata/golden.json"); goldenErr != nil {
			return
		}
		if goldenErr = json.Unmarshal(data, &golden); goldenErr != nil {
			return
		}
		vocab, goldenErr = LoadVocab("testdata/tokenizer.json")
	})
	if goldenErr != nil {
		t.Fatal(goldenErr)
	}
	if len(golden.Cases) == 0 {
		t.Fatal("no cases in golden.json")
	}
	return &golden, vocab
}

func flat(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// newFor makes the tokenizer a golden case was encoded with.
func newFor(t testing.TB, g *goldenFile, v *Vocab, H, D int, q01, q99 []float64) *Tokenizer {
	t.Helper()
	norm, err := tokenizer.NewNormalizer(q01, q99, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := New(Conf{Horizon: H, Dim: D, Vocab: v, Scale: g.Scale, MinToken: g.MinToken, TokenBase: g.LMBase,
		Direction: g.LMDirection, End: g.LMEnd, MaxTokens: 256, LogitsWidth: 257152, Norm: norm, NormEps: g.NormEps})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func maxAbsDiff(a, b []float64) float64 {
	w := 0.0
	for i := range a {
		w = max(w, math.Abs(a[i]-b[i]))
	}
	return w
}

func TestGoldenVocab(t *testing.T) {
	g, v := loadGolden(t)
	if v.Size() != g.VocabSize {
		t.Fatalf("vocabulary has %d tokens, the reference %d", v.Size(), g.VocabSize)
	}
	// The initial alphabet chr(0..max−min) is in the vocabulary, as fit
	// puts it there.
	for c := 0; c <= g.MaxToken-g.MinToken; c++ {
		if _, ok := v.ids[string(rune(c))]; !ok {
			t.Fatalf("alphabet character %U missing", c)
		}
	}
}

// TestGoldenEncode: every stage of the encoding matches the reference,
// token for token.
func TestGoldenEncode(t *testing.T) {
	g, v := loadGolden(t)
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tk := newFor(t, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
			tr, err := tk.EncodeTrace(flat(c.Actions))
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(tr.Normalized, flat(c.Normalized)); d > 1e-12 {
				t.Fatalf("normalised inputs differ by %g", d)
			}
			if d := maxAbsDiff(tr.DCT, flat(c.DCT)); d > 1e-9 {
				t.Fatalf("DCT coefficients differ by %g", d)
			}
			if !slices.Equal(tr.Quantized, c.Quantized) {
				t.Fatalf("quantised coefficients differ\n got %v\nwant %v", tr.Quantized, c.Quantized)
			}
			if !slices.Equal(tr.Chars, c.Chars) {
				t.Fatalf("characters differ")
			}
			if !slices.Equal(tr.IDs, c.BPEIDs) {
				t.Fatalf("BPE ids\n got %v\nwant %v", tr.IDs, c.BPEIDs)
			}
			if !slices.Equal(tr.Tokens, c.LMTokens) {
				t.Fatalf("LM tokens\n got %v\nwant %v", tr.Tokens, c.LMTokens)
			}
			t.Logf("%d coefficients → %d tokens", c.Horizon*c.Dim, len(tr.IDs))
		})
	}
}

// TestGoldenBPE: the BPE alone on strings over the whole alphabet
// (whitespace, digits, punctuation, controls and apostrophes exercise the
// GPT-2 split), and back.
func TestGoldenBPE(t *testing.T) {
	g, v := loadGolden(t)
	str := func(chars []int) string {
		rs := make([]rune, len(chars))
		for i, c := range chars {
			rs[i] = rune(c)
		}
		return string(rs)
	}
	if len(g.BPEStrings) == 0 || len(g.Unrepresentable) == 0 {
		t.Fatal("no bpe_strings or bpe_unrepresentable in golden.json")
	}
	for i, c := range g.BPEStrings {
		s := str(c.Chars)
		ids, err := v.Encode(s)
		if err != nil || !slices.Equal(ids, c.BPEIDs) {
			t.Fatalf("string %d %q: ids %v (%v), want %v", i, s, ids, err, c.BPEIDs)
		}
		var b []byte
		for _, id := range ids {
			b = append(b, v.Bytes(id)...)
		}
		if string(b) != s {
			t.Fatalf("string %d: decodes to %q, want %q", i, b, s)
		}
	}
	for i, c := range g.Unrepresentable {
		if _, err := v.Encode(str(c.Chars)); !errors.Is(err, ErrUnrepresentable) {
			t.Fatalf("unrepresentable string %d: err = %v", i, err)
		}
	}
}

// TestGoldenDecode: the reference's actions from the same tokens.
func TestGoldenDecode(t *testing.T) {
	g, v := loadGolden(t)
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tk := newFor(t, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
			dst := make([]float64, c.Horizon*c.Dim)
			if err := tk.Decode(c.LMTokens, dst); err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(dst, flat(c.DecodedActions))
			if d > 1e-6 {
				t.Fatalf("max |Go − reference| = %g > 1e-6", d)
			}
			t.Logf("max |Go − reference| = %.2g", d)
		})
	}
}

// TestRoundTrip: decode(encode(a)) is within the quantisation bound of a,
// step by step, for the golden chunks and random smooth ones.
func TestRoundTrip(t *testing.T) {
	g, v := loadGolden(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type chunk struct {
		name     string
		H, D     int
		a        []float64
		q01, q99 []float64
	}
	var chunks []chunk
	for _, c := range g.Cases {
		chunks = append(chunks, chunk{c.Name, c.Horizon, c.Dim, flat(c.Actions), c.Q01, c.Q99})
	}
	for i := range 40 {
		H, D := []int{4, 10, 16, 50}[i%4], []int{1, 7, 14, 32}[i/10%4]
		q01, q99 := make([]float64, D), make([]float64, D)
		for d := range D {
			q01[d] = -0.1 - rng.Float64()
			q99[d] = q01[d] + 0.05 + 2*rng.Float64()
		}
		a := make([]float64, H*D)
		for d := range D {
			amp, f, ph := 0.6*rng.Float64(), 0.3*rng.Float64(), 6*rng.Float64()
			for j := range H {
				x := amp * math.Sin(f*float64(j)+ph) // normalised, |x| ≤ 0.6
				a[j*D+d] = (x+1)/2*(q99[d]-q01[d]) + q01[d]
			}
		}
		chunks = append(chunks, chunk{"random", H, D, a, q01, q99})
	}
	for _, c := range chunks {
		tk := newFor(t, g, v, c.H, c.D, c.q01, c.q99)
		tr, err := tk.EncodeTrace(c.a)
		if err != nil {
			t.Fatalf("%s %dx%d: %v", c.name, c.H, c.D, err)
		}
		dst := make([]float64, c.H*c.D)
		if err := tk.Decode(tr.Tokens, dst); err != nil {
			t.Fatalf("%s %dx%d: %v", c.name, c.H, c.D, err)
		}
		for i := range dst {
			j, d := i/c.D, i%c.D
			// In robot units: the normalised bound times the map's slope.
			bound := tk.ErrorBound(j) * (c.q99[d] - c.q01[d] + g.NormEps) / 2
			if e := math.Abs(dst[i] - c.a[i]); e > bound+1e-9 {
				t.Fatalf("%s %dx%d step %d dim %d: |Δ| = %g > bound %g", c.name, c.H, c.D, j, d, e, bound)
			}
		}
	}
}

func TestErrorBoundFormula(t *testing.T) {
	g, v := loadGolden(t)
	for _, H := range []int{1, 2, 10, 50} {
		tk := newFor(t, g, v, H, 1, []float64{-1}, []float64{1})
		for j := range H {
			if b := tk.ErrorBound(j); b > 0.5*math.Sqrt(float64(H))/g.Scale+1e-12 || b < 0.5/g.Scale/math.Sqrt(float64(H))-1e-12 {
				t.Fatalf("H %d step %d: bound %g outside [0.5/(scale·√H), 0.5·√H/scale]", H, j, b)
			}
		}
	}
}

// TestRefused: what the processor turns into a zero chunk, efferent
// refuses, and so every malformed sequence.
func TestRefused(t *testing.T) {
	g, v := loadGolden(t)
	c0 := g.Cases[0]
	tk := newFor(t, g, v, c0.Horizon, c0.Dim, c0.Q01, c0.Q99)
	dst := make([]float64, c0.Horizon*c0.Dim)
	for _, r := range g.Refused {
		t.Run(r.Name, func(t *testing.T) {
			err := tk.Decode(r.LMTokens, dst)
			if !errors.Is(err, ErrIncomplete) || !errors.Is(err, tokenizer.ErrTokenCount) {
				t.Fatalf("err = %v, want ErrIncomplete (tokenizer.ErrTokenCount); the reference returns zeros", err)
			}
			t.Log(err)
		})
	}
	good := c0.LMTokens
	body := good[:len(good)-1]
	lo, hi := tk.Band()
	cases := []struct {
		name   string
		tokens []int64
		want   error
	}{
		{"no end token", body, ErrIncomplete},
		{"end token twice", append(slices.Clone(good), g.LMEnd), ErrIncomplete},
		{"end token in the middle", append(append(slices.Clone(body[:2]), g.LMEnd), good[2:]...), ErrIncomplete},
		{"only the end token", []int64{g.LMEnd}, ErrIncomplete},
		{"no tokens", nil, ErrIncomplete},
		{"below the band", append([]int64{lo - 1}, good...), tokenizer.ErrTokenOutOfBand},
		{"above the band", append([]int64{hi + 1}, good...), tokenizer.ErrTokenOutOfBand},
		{"more than max_tokens", append(slices.Repeat([]int64{good[0]}, tk.TokensPerChunk()), g.LMEnd), ErrIncomplete},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := tk.Decode(c.tokens, dst); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	if err := tk.Decode(good, dst[:1]); !errors.Is(err, tokenizer.ErrDstSize) {
		t.Fatalf("short dst: %v", err)
	}
	if err := tk.Decode(good, dst); err != nil {
		t.Fatalf("after refusals: %v", err)
	}
}

// TestInvalidUTF8: tokens whose bytes are not UTF-8 are refused, never
// decoded as U+FFFD.
func TestInvalidUTF8(t *testing.T) {
	g, v := loadGolden(t)
	c0 := g.Cases[0]
	tk := newFor(t, g, v, c0.Horizon, c0.Dim, c0.Q01, c0.Q99)
	dst := make([]float64, c0.Horizon*c0.Dim)
	var cont, lead = -1, -1
	for id := range v.Size() {
		b := v.Bytes(id)
		if len(b) == 1 && b[0] >= 0x80 && b[0] < 0xC0 && cont < 0 {
			cont = id
		}
		if len(b) == 1 && b[0] >= 0xC2 && b[0] < 0xE0 && lead < 0 {
			lead = id
		}
	}
	if cont < 0 || lead < 0 {
		t.Skip("the vocabulary has no lone continuation or lead byte token")
	}
	lm := func(ids ...int) []int64 {
		var out []int64
		for _, id := range ids {
			out = append(out, tk.lmID(id))
		}
		return append(out, g.LMEnd)
	}
	for name, toks := range map[string][]int64{
		"lone continuation byte": lm(cont),
		"lead byte at the end":   lm(c0.BPEIDs[0], lead),
		"lead byte then ASCII":   append(lm(lead)[:1], lm(c0.BPEIDs...)...),
	} {
		if err := tk.Decode(toks, dst); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("%s: err = %v, want ErrIncomplete", name, err)
		}
	}
}

func TestAllowed(t *testing.T) {
	g, v := loadGolden(t)
	c0 := g.Cases[0]
	tk := newFor(t, g, v, c0.Horizon, c0.Dim, c0.Q01, c0.Q99)
	lo, hi := tk.Band()
	if hi != g.LMBase || lo != g.LMBase-int64(v.Size()-1) {
		t.Fatalf("band [%d, %d], want [%d, %d]", lo, hi, g.LMBase-int64(v.Size()-1), g.LMBase)
	}
	if tk.TokensPerChunk() != 257 {
		t.Fatalf("TokensPerChunk %d, want max_tokens + 1 = 257", tk.TokensPerChunk())
	}
	for i := range tk.TokensPerChunk() {
		l, h := tk.Allowed(i)
		if i < 256 && (l != lo || h != hi) || i == 256 && (l != g.LMEnd || h != g.LMEnd) {
			t.Fatalf("Allowed(%d) = [%d, %d]", i, l, h)
		}
	}
	for _, tok := range c0.LMTokens[:len(c0.LMTokens)-1] {
		if tok < lo || tok > hi {
			t.Fatalf("golden token %d outside the band", tok)
		}
	}
}

func TestNoEnd(t *testing.T) {
	g, v := loadGolden(t)
	c := g.Cases[1]
	norm, _ := tokenizer.NewNormalizer(c.Q01, c.Q99, nil)
	tk, err := New(Conf{Horizon: c.Horizon, Dim: c.Dim, Vocab: v, MinToken: g.MinToken, TokenBase: 0, Direction: "up",
		End: NoEnd, MaxTokens: 64, Norm: norm, NormEps: g.NormEps})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := tk.Encode(flat(c.Actions))
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range c.BPEIDs { // direction up from 0: the FAST ids themselves
		if toks[i] != int64(id) {
			t.Fatalf("token %d = %d, want %d", i, toks[i], id)
		}
	}
	if len(toks) != len(c.BPEIDs) || tk.TokensPerChunk() != 64 {
		t.Fatalf("%d tokens (TokensPerChunk %d)", len(toks), tk.TokensPerChunk())
	}
	dst := make([]float64, c.Horizon*c.Dim)
	if err := tk.Decode(toks, dst); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(dst, flat(c.DecodedActions)); d > 1e-6 {
		t.Fatalf("differs by %g", d)
	}
	if err := tk.Decode(toks[:len(toks)-1], dst); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("short: %v", err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	g, v := loadGolden(t)
	c := g.Cases[0]
	tk := newFor(t, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
	a := flat(c.Actions)
	big := slices.Clone(a)
	for j := range c.Horizon { // far below q01 in dim 0: a DC coefficient below min_token
		big[j*c.Dim] = c.Q01[0] - 100*(c.Q99[0]-c.Q01[0])
	}
	if _, err := tk.Encode(big); !errors.Is(err, ErrUnrepresentable) {
		t.Fatalf("coefficient below min_token: %v", err)
	}
	nan := slices.Clone(a)
	nan[3] = math.NaN()
	if _, err := tk.Encode(nan); !errors.Is(err, tokenizer.ErrNotFinite) {
		t.Fatalf("NaN: %v", err)
	}
	if _, err := tk.Encode(a[1:]); !errors.Is(err, tokenizer.ErrDstSize) {
		t.Fatalf("short: %v", err)
	}
	norm, _ := tokenizer.NewNormalizer(c.Q01, c.Q99, nil)
	small, err := New(Conf{Horizon: c.Horizon, Dim: c.Dim, Vocab: v, MinToken: g.MinToken, TokenBase: g.LMBase,
		End: g.LMEnd, MaxTokens: 3, Norm: norm, NormEps: g.NormEps})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Encode(a); !errors.Is(err, tokenizer.ErrTokenCount) {
		t.Fatalf("over max_tokens: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	_, v := loadGolden(t)
	norm, _ := tokenizer.NewNormalizer([]float64{-1, -1}, []float64{1, 1}, nil)
	base := Conf{Horizon: 10, Dim: 2, Vocab: v, TokenBase: 2000, End: 5, MaxTokens: 10, LogitsWidth: 2048, Norm: norm}
	for name, mut := range map[string]func(*Conf){
		"horizon":         func(c *Conf) { c.Horizon = 0 },
		"long horizon":    func(c *Conf) { c.Horizon = MaxHorizon + 1 },
		"dim":             func(c *Conf) { c.Dim = 3 },
		"no vocab":        func(c *Conf) { c.Vocab = nil },
		"scale":           func(c *Conf) { c.Scale = -1 },
		"scale inf":       func(c *Conf) { c.Scale = math.Inf(1) },
		"max tokens":      func(c *Conf) { c.MaxTokens = 0 },
		"direction":       func(c *Conf) { c.Direction = "sideways" },
		"band below 0":    func(c *Conf) { c.TokenBase = 100 },
		"band above":      func(c *Conf) { c.Direction = "up" },
		"end in band":     func(c *Conf) { c.End = 1500 },
		"end outside":     func(c *Conf) { c.End = 2048 },
		"eps":             func(c *Conf) { c.NormEps = -1 },
		"norm":            func(c *Conf) { c.Norm = tokenizer.Normalizer{Q01: []float64{0, 0}} },
		"min token range": func(c *Conf) { c.MinToken = 1 << 30 },
	} {
		c := base
		mut(&c)
		if _, err := New(c); !errors.Is(err, tokenizer.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	if _, err := New(base); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeDoesNotAllocate: the runtime decodes every chunk on the hot
// path.
func TestDecodeDoesNotAllocate(t *testing.T) {
	g, v := loadGolden(t)
	c := g.Cases[len(g.Cases)-1]
	tk := newFor(t, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
	dst := make([]float64, c.Horizon*c.Dim)
	if n := testing.AllocsPerRun(50, func() {
		if err := tk.Decode(c.LMTokens, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Decode allocates %v times per call", n)
	}
}

func TestConcurrentDecode(t *testing.T) {
	g, v := loadGolden(t)
	c := g.Cases[2]
	tk := newFor(t, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
	want := flat(c.DecodedActions)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			dst := make([]float64, len(want))
			for range 50 {
				if err := tk.Decode(c.LMTokens, dst); err != nil || maxAbsDiff(dst, want) > 1e-6 {
					t.Errorf("concurrent decode: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSplit(t *testing.T) {
	words := func(s string) []string {
		rs := []rune(s)
		var out []string
		for i := 0; i < len(rs); {
			j := splitAt(rs, i)
			out = append(out, string(rs[i:j]))
			i = j
		}
		return out
	}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"I'm  ok'll 12a", []string{"I", "'m", " ", " ok", "'ll", " 12", "a"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"a  \t", []string{"a", "  \t"}},
		{"\t a", []string{"\t", " a"}},
		{"!!'s x", []string{"!!'", "s", " x"}},
		{"'re're", []string{"'re", "'re"}},
		{"ŢŢ Ţ3 '", []string{"ŢŢ", " Ţ", "3", " '"}},
		{"\u0300\u0301a", []string{"\u0300\u0301", "a"}},
		{" ", []string{" "}},
	} {
		if got := words(c.in); !slices.Equal(got, c.want) {
			t.Errorf("split %q = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestByteLevelAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for b := range 256 {
		r := byteChar(byte(b))
		if seen[r] {
			t.Fatalf("character %U twice", r)
		}
		seen[r] = true
		if back, ok := charByte(r); !ok || back != byte(b) {
			t.Fatalf("byte %#x → %U → %#x", b, r, back)
		}
	}
	if byteChar(' ') != 'Ġ' || byteChar(0) != 'Ā' || byteChar('a') != 'a' || byteChar(0xAD) != 'Ń' {
		t.Fatal("not GPT-2's table")
	}
}

// TestVocabFormats: the legacy "a b" merges and ignore_merges load.
func TestVocabFormats(t *testing.T) {
	g, _ := loadGolden(t)
	data, err := os.ReadFile("testdata/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	model := f["model"].(map[string]any)
	var legacy []any
	for _, m := range model["merges"].([]any) {
		p := m.([]any)
		legacy = append(legacy, p[0].(string)+" "+p[1].(string))
	}
	model["merges"] = legacy
	data2, _ := json.Marshal(f)
	v2, err := ParseVocab(data2)
	if err != nil {
		t.Fatal(err)
	}
	c := g.Cases[3]
	tk := newFor(t, g, v2, c.Horizon, c.Dim, c.Q01, c.Q99)
	if toks, err := tk.Encode(flat(c.Actions)); err != nil || !slices.Equal(toks, c.LMTokens) {
		t.Fatalf("legacy merges: %v %v", err, toks)
	}
	model["ignore_merges"] = true
	data3, _ := json.Marshal(f)
	v3, err := ParseVocab(data3)
	if err != nil {
		t.Fatal(err)
	}
	// Every word the merges build whole is in the vocabulary, so the ids
	// are the same either way for the golden chunks.
	tk3 := newFor(t, g, v3, c.Horizon, c.Dim, c.Q01, c.Q99)
	if _, err := tk3.Encode(flat(c.Actions)); err != nil {
		t.Fatal(err)
	}
}

func TestVocabRefuses(t *testing.T) {
	data, err := os.ReadFile("testdata/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	cases := map[string][]byte{
		"not json":       []byte("{"),
		"no model":       edit(func(m map[string]any) { delete(m, "model") }),
		"wordpiece":      edit(func(m map[string]any) { model(m)["type"] = "WordPiece" }),
		"dropout":        edit(func(m map[string]any) { model(m)["dropout"] = 0.1 }),
		"unk":            edit(func(m map[string]any) { model(m)["unk_token"] = "H" }),
		"byte fallback":  edit(func(m map[string]any) { model(m)["byte_fallback"] = true }),
		"added tokens":   edit(func(m map[string]any) { m["added_tokens"] = []any{map[string]any{"id": 0}} }),
		"normalizer":     edit(func(m map[string]any) { m["normalizer"] = map[string]any{"type": "Lowercase"} }),
		"metaspace":      edit(func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }),
		"prefix space":   edit(func(m map[string]any) { m["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true }),
		"no regex":       edit(func(m map[string]any) { m["pre_tokenizer"].(map[string]any)["use_regex"] = false }),
		"no decoder":     edit(func(m map[string]any) { m["decoder"] = nil }),
		"template":       edit(func(m map[string]any) { m["post_processor"] = map[string]any{"type": "TemplateProcessing"} }),
		"empty vocab":    edit(func(m map[string]any) { model(m)["vocab"] = map[string]any{}; model(m)["merges"] = []any{} }),
		"id gap":         edit(func(m map[string]any) { model(m)["vocab"].(map[string]any)["H"] = 5000 }),
		"duplicate id":   edit(func(m map[string]any) { model(m)["vocab"].(map[string]any)["H"] = 0 }),
		"unknown merge":  edit(func(m map[string]any) { model(m)["merges"] = []any{[]any{"☃", "H"}} }),
		"merge no whole": edit(func(m map[string]any) { model(m)["merges"] = []any{"0 0"} }),
		"merge 3 parts":  edit(func(m map[string]any) { model(m)["merges"] = []any{"H H H"} }),
		"merge shape":    edit(func(m map[string]any) { model(m)["merges"] = []any{[]any{"H"}} }),
	}
	for name, d := range cases {
		if _, err := ParseVocab(d); !errors.Is(err, tokenizer.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	if _, err := LoadVocab("testdata/missing.json"); err == nil {
		t.Fatal("missing file: no error")
	}
	if !strings.Contains(string(data), `"ByteLevel"`) {
		t.Fatal("fixture is not byte-level")
	}
}
