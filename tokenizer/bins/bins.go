// Package bins is OpenVLA's 256-bin action tokenizer, for compatibility
// with OpenVLA-style models. It transcribes openvla's
// prismatic/vla/action_tokenizer.py and the un-normalisation of
// modeling_prismatic.py's predict_action, value for value
// (testdata/openvla_golden.py writes numpy's answers; the tests match
// them).
//
// The bins are the LAST Bins ids of the text tokenizer's vocabulary,
// VocabSize (Llama 2: 32000), which is not the width of the model's logits
// (OpenVLA pads its embedding, and so its logits, to 32064: ids 32000 to
// 32063 are no action).
//
// Encoding: each normalised action value is clipped to [−1, 1] and
// digitised into edges = linspace(−1, 1, Bins) (numpy.digitize: d ∈
// [1, Bins]), token = VocabSize − d. So the tokens OpenVLA emits for
// actions are exactly [VocabSize − Bins, VocabSize − 1] (Allowed).
//
// Decoding: d = VocabSize − token, d = clip(d − 1, 0, Bins − 2),
// normalised = centres[d], with centres the Bins − 1 midpoints of the
// edges (so the two lowest tokens, d = Bins and Bins − 1, share the last
// centre), then the q01/q99 un-normalisation on masked dims. One token per
// dim, Dim tokens per step, Horizon steps per chunk.
//
// OpenVLA clips a token outside the band too (Normalized does, exactly as
// it does); Decode refuses one instead (ErrTokenOutOfBand): under
// constrained decoding it cannot happen, so it means a bug, not an action.
package bins

import (
	"fmt"

	"github.com/efferent/efferent/tokenizer"
)

// Conf configures a Tokenizer.
type Conf struct {
	// VocabSize is the TEXT TOKENIZER's vocabulary size, whose last Bins
	// ids are the bins (OpenVLA: Llama 2's 32000; manifest
	// action.tokenizer.tokenizer_vocab).
	VocabSize int64
	// LogitsWidth is the decoder's logits width (manifest
	// decoder.vocab_size; OpenVLA: 32064, padded). 0 means VocabSize. The
	// bins must lie inside it.
	LogitsWidth int64
	// Bins is the number of bins (OpenVLA: 256).
	Bins int
	// Dim is the action dimension (LIBERO: 7).
	Dim int
	// Horizon is the number of steps per chunk (OpenVLA: 1).
	Horizon int
	// Norm holds the q01/q99 statistics; it must have Dim entries.
	Norm tokenizer.Normalizer
}

// Tokenizer encodes and decodes OpenVLA bins. Decode does not allocate and
// the Tokenizer is read-only after New, so it is safe for concurrent use.
type Tokenizer struct {
	conf    Conf
	edges   []float64
	centres []float64
}

var _ tokenizer.Detokenizer = (*Tokenizer)(nil)

// New validates conf and precomputes the bins.
func New(conf Conf) (*Tokenizer, error) {
	if conf.Bins < 2 || conf.Bins > 1<<16 {
		return nil, fmt.Errorf("%w: bins = %d, want 2..65536", tokenizer.ErrConfig, conf.Bins)
	}
	if conf.VocabSize < int64(conf.Bins) {
		return nil, fmt.Errorf("%w: tokenizer vocabulary %d is smaller than bins %d", tokenizer.ErrConfig, conf.VocabSize, conf.Bins)
	}
	if conf.LogitsWidth == 0 {
		conf.LogitsWidth = conf.VocabSize
	}
	if conf.LogitsWidth < conf.VocabSize {
		return nil, fmt.Errorf("%w: logits width %d is smaller than the tokenizer vocabulary %d, whose last %d ids are the bins",
			tokenizer.ErrConfig, conf.LogitsWidth, conf.VocabSize, conf.Bins)
	}
	if conf.Dim <= 0 || conf.Horizon <= 0 {
		return nil, fmt.Errorf("%w: dim %d and horizon %d must be positive", tokenizer.ErrConfig, conf.Dim, conf.Horizon)
	}
	if conf.Norm.Dim() != conf.Dim {
		return nil, fmt.Errorf("%w: normalisation has %d dims, action has %d", tokenizer.ErrConfig, conf.Norm.Dim(), conf.Dim)
	}
	t := &Tokenizer{conf: conf, edges: linspace(-1, 1, conf.Bins), centres: make([]float64, conf.Bins-1)}
	for i := range t.centres { // (bins[:-1] + bins[1:]) / 2.0
		t.centres[i] = (t.edges[i] + t.edges[i+1]) / 2
	}
	return t, nil
}

// linspace is numpy.linspace(lo, hi, n) to the bit: i·step + lo with
// step = (hi − lo)/(n − 1), and the last value hi exactly. (The
// conversion keeps the compiler from fusing the multiply and the add,
// which numpy rounds separately.)
func linspace(lo, hi float64, n int) []float64 {
	step := (hi - lo) / float64(n-1)
	y := make([]float64, n)
	for i := range y {
		y[i] = float64(float64(i)*step) + lo
	}
	y[n-1] = hi
	return y
}

// Horizon implements tokenizer.Detokenizer.
func (t *Tokenizer) Horizon() int { return t.conf.Horizon }

// Dim implements tokenizer.Detokenizer.
func (t *Tokenizer) Dim() int { return t.conf.Dim }

// TokensPerChunk is Horizon·Dim.
func (t *Tokenizer) TokensPerChunk() int { return t.conf.Horizon * t.conf.Dim }

// Allowed is the last Bins ids of the tokenizer's vocabulary, at every
// position: the tokens OpenVLA's ActionTokenizer emits (vocab − d for
// d = 1..Bins), and nothing in the logits' padding beyond it.
func (t *Tokenizer) Allowed(int) (lo, hi int64) {
	return t.conf.VocabSize - int64(t.conf.Bins), t.conf.VocabSize - 1
}

// Normalized is OpenVLA's decode_token_ids_to_actions for one id, any id:
// centres[clip(VocabSize − token − 1, 0, Bins − 2)], in [−1, 1].
func (t *Tokenizer) Normalized(token int64) float64 {
	last := len(t.centres) - 1
	switch v := t.conf.VocabSize; {
	case token >= v: // d − 1 < 0 (compared so, no id overflows)
		return t.centres[0]
	case token <= v-1-int64(last): // d − 1 >= Bins − 2
		return t.centres[last]
	default:
		return t.centres[v-token-1]
	}
}

// Edges returns numpy.linspace(−1, 1, Bins), the digitisation edges.
func (t *Tokenizer) Edges() []float64 { return append([]float64(nil), t.edges...) }

// Centres returns the Bins − 1 bin centres.
func (t *Tokenizer) Centres() []float64 { return append([]float64(nil), t.centres...) }

// Decode implements tokenizer.Detokenizer.
func (t *Tokenizer) Decode(tokens []int64, dst []float64) error {
	n := t.TokensPerChunk()
	if len(tokens) != n {
		return fmt.Errorf("%w: got %d, want %d", tokenizer.ErrTokenCount, len(tokens), n)
	}
	if len(dst) != n {
		return fmt.Errorf("%w: %d, want %d", tokenizer.ErrDstSize, len(dst), n)
	}
	lo, hi := t.Allowed(0)
	for i, tok := range tokens {
		if tok < lo || tok > hi {
			return fmt.Errorf("%w: position %d has token %d, allowed [%d, %d]", tokenizer.ErrTokenOutOfBand, i, tok, lo, hi)
		}
		dst[i] = t.Normalized(tok)
	}
	t.conf.Norm.Unnormalize(dst)
	return tokenizer.CheckFinite(dst, t.conf.Dim)
}

// Encode normalises actions (Horizon·Dim values, robot units, row-major)
// and digitises them, as OpenVLA's ActionTokenizer does with normalised
// actions: clip to [−1, 1], numpy.digitize against the edges, token =
// VocabSize − d (Token, value by value). It allocates nothing.
func (t *Tokenizer) Encode(actions []float64, tokens []int64) error {
	n := t.TokensPerChunk()
	if len(actions) != n || len(tokens) != n {
		return fmt.Errorf("%w: %d actions and %d tokens, want %d each", tokenizer.ErrDstSize, len(actions), len(tokens), n)
	}
	if err := tokenizer.CheckFinite(actions, t.conf.Dim); err != nil {
		return err
	}
	for i, v := range actions {
		tokens[i] = t.Token(i%t.conf.Dim, v)
	}
	return nil
}

// Token is Encode for one finite value of dim d, in robot units:
// normalised as tokenizer.Normalizer.Normalize does (clipped to [−1, 1];
// 0 where q99 = q01), then digitised; Normalized maps the token back to
// the centre of the value's bin. Real-time chunking forces these tokens
// for the steps that will be over when a chunk arrives.
func (t *Tokenizer) Token(d int, value float64) int64 {
	n := t.conf.Norm
	x := value
	if n.Mask[d] {
		if r := n.Q99[d] - n.Q01[d]; r == 0 {
			x = 0
		} else {
			x = 2*(value-n.Q01[d])/r - 1
		}
	}
	return t.conf.VocabSize - int64(t.digitize(x))
}

// digitize is numpy.digitize(clip(v, −1, 1), edges): the d with
// edges[d−1] <= v < edges[d]; v == 1 gives Bins (a binary search).
func (t *Tokenizer) digitize(v float64) int {
	v = min(1, max(-1, v))
	lo, hi := 0, len(t.edges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.edges[m] > v {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
