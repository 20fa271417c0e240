// Package bins is OpenVLA's 256-bin action tokenizer, for compatibility
// with OpenVLA-style models.
//
// Each action dim is normalised to [−1, 1] with q01/q99 and digitised into
// Bins uniform bins over [−1, 1]; token = VocabSize − d, where d ∈ [1, Bins]
// is numpy.digitize's bin index. Decoding maps d back to the centre of bin
// clip(d − 1, 0, Bins − 2) (there are Bins − 1 centres), then
// un-normalises. One token per dim, Dim tokens per step, Horizon steps per
// chunk. OpenVLA clamps a token outside the top Bins of the vocabulary;
// efferent refuses it (ErrTokenOutOfBand).
package bins

import (
	"fmt"

	"github.com/efferent/efferent/tokenizer"
)

// Conf configures a Tokenizer.
type Conf struct {
	// VocabSize is the model's vocabulary size (Llama 2: 32000).
	VocabSize int64
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
		return nil, fmt.Errorf("%w: vocab_size %d is smaller than bins %d", tokenizer.ErrConfig, conf.VocabSize, conf.Bins)
	}
	if conf.Dim <= 0 || conf.Horizon <= 0 {
		return nil, fmt.Errorf("%w: dim %d and horizon %d must be positive", tokenizer.ErrConfig, conf.Dim, conf.Horizon)
	}
	if conf.Norm.Dim() != conf.Dim {
		return nil, fmt.Errorf("%w: normalisation has %d dims, action has %d", tokenizer.ErrConfig, conf.Norm.Dim(), conf.Dim)
	}
	t := &Tokenizer{conf: conf, edges: make([]float64, conf.Bins), centres: make([]float64, conf.Bins-1)}
	for i := range t.edges { // numpy.linspace(-1, 1, bins)
		t.edges[i] = -1 + 2*float64(i)/float64(conf.Bins-1)
	}
	for i := range t.centres {
		t.centres[i] = (t.edges[i] + t.edges[i+1]) / 2
	}
	return t, nil
}

// Horizon implements tokenizer.Detokenizer.
func (t *Tokenizer) Horizon() int { return t.conf.Horizon }

// Dim implements tokenizer.Detokenizer.
func (t *Tokenizer) Dim() int { return t.conf.Dim }

// TokensPerChunk is Horizon·Dim.
func (t *Tokenizer) TokensPerChunk() int { return t.conf.Horizon * t.conf.Dim }

// Allowed is the top Bins tokens of the vocabulary, at every position.
func (t *Tokenizer) Allowed(int) (lo, hi int64) {
	return t.conf.VocabSize - int64(t.conf.Bins), t.conf.VocabSize - 1
}

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
		d := int(t.conf.VocabSize - tok) // 1..Bins
		dst[i] = t.centres[min(max(d-1, 0), len(t.centres)-1)]
	}
	t.conf.Norm.Unnormalize(dst)
	return tokenizer.CheckFinite(dst, t.conf.Dim)
}

// Encode normalises actions (Horizon·Dim values, robot units, row-major)
// and digitises them, as OpenVLA's ActionTokenizer does.
func (t *Tokenizer) Encode(actions []float64, tokens []int64) error {
	n := t.TokensPerChunk()
	if len(actions) != n || len(tokens) != n {
		return fmt.Errorf("%w: %d actions and %d tokens, want %d each", tokenizer.ErrDstSize, len(actions), len(tokens), n)
	}
	if err := tokenizer.CheckFinite(actions, t.conf.Dim); err != nil {
		return err
	}
	x := make([]float64, n)
	copy(x, actions)
	t.conf.Norm.Normalize(x)
	for i, v := range x {
		v = min(1, max(-1, v))
		// numpy.digitize(v, edges): the d with edges[d-1] <= v < edges[d];
		// v == 1 gives len(edges).
		d := 0
		for d < len(t.edges) && t.edges[d] <= v {
			d++
		}
		tokens[i] = t.conf.VocabSize - int64(d)
	}
	return nil
}
