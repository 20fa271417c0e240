package vq

import (
	"fmt"
	"math"

	"github.com/efferent/efferent/tokenizer"
)

// LatentDecoder maps a latent vector to a normalised chunk (len H*D). It
// is implemented by an ONNX Runtime graph in policy/ort, and by plain Go in
// tests; this package stays pure Go.
type LatentDecoder interface {
	DecodeLatent(z []float32, out []float32) error
}

// Conf configures a Detokenizer.
type Conf struct {
	// Base is the token of level 0, code 0 (VQ-VLA: 31999).
	Base int64
	// Direction is "down" (default; token = Base − index) or "up".
	Direction string
	// Norm un-normalises the decoded chunk; it must have Dim entries.
	Norm tokenizer.Normalizer
	// Decoder maps the latent to the chunk. Nil means identity, which
	// needs latent_dim == horizon·dim.
	Decoder LatentDecoder
}

// Detokenizer decodes residual VQ tokens. Not safe for concurrent use (it
// owns scratch buffers so that Decode does not allocate).
type Detokenizer struct {
	cb   *Codebook
	conf Conf
	down bool
	z    []float32
	x    []float32
}

var _ tokenizer.Detokenizer = (*Detokenizer)(nil)

// New builds a detokenizer over cb.
func New(cb *Codebook, conf Conf) (*Detokenizer, error) {
	if conf.Direction == "" {
		conf.Direction = "down"
	}
	if conf.Direction != "down" && conf.Direction != "up" {
		return nil, fmt.Errorf("%w: direction %q, want down or up", tokenizer.ErrConfig, conf.Direction)
	}
	d := &Detokenizer{cb: cb, conf: conf, down: conf.Direction == "down",
		z: make([]float32, cb.LatentDim), x: make([]float32, cb.Horizon*cb.Dim)}
	n := int64(cb.Levels * cb.Codes)
	lo, hi := conf.Base-n+1, conf.Base
	if !d.down {
		lo, hi = conf.Base, conf.Base+n-1
	}
	if lo < 0 || hi >= math.MaxInt32 {
		return nil, fmt.Errorf("%w: token band [%d, %d] is outside [0, 2^31)", tokenizer.ErrConfig, lo, hi)
	}
	if conf.Norm.Dim() != cb.Dim {
		return nil, fmt.Errorf("%w: normalisation has %d dims, codebook chunks have %d", tokenizer.ErrConfig, conf.Norm.Dim(), cb.Dim)
	}
	if conf.Decoder == nil && cb.LatentDim != cb.Horizon*cb.Dim {
		return nil, fmt.Errorf("%w: no latent decoder, so latent_dim %d must equal horizon×dim = %d", tokenizer.ErrConfig, cb.LatentDim, cb.Horizon*cb.Dim)
	}
	return d, nil
}

// Horizon implements tokenizer.Detokenizer.
func (d *Detokenizer) Horizon() int { return d.cb.Horizon }

// Dim implements tokenizer.Detokenizer.
func (d *Detokenizer) Dim() int { return d.cb.Dim }

// TokensPerChunk is the number of levels.
func (d *Detokenizer) TokensPerChunk() int { return d.cb.Levels }

// Token returns the token for code c of level g.
func (d *Detokenizer) Token(g, c int) int64 {
	i := int64(g*d.cb.Codes + c)
	if d.down {
		return d.conf.Base - i
	}
	return d.conf.Base + i
}

// Allowed returns level i's sub-band.
func (d *Detokenizer) Allowed(i int) (lo, hi int64) {
	a, b := d.Token(i, 0), d.Token(i, d.cb.Codes-1)
	return min(a, b), max(a, b)
}

// Code maps a token back to (level, code).
func (d *Detokenizer) Code(tok int64) (g, c int, err error) {
	i := tok - d.conf.Base
	if d.down {
		i = d.conf.Base - tok
	}
	if i < 0 || i >= int64(d.cb.Levels*d.cb.Codes) {
		return 0, 0, fmt.Errorf("%w: token %d is not in the VQ band", tokenizer.ErrTokenOutOfBand, tok)
	}
	return int(i) / d.cb.Codes, int(i) % d.cb.Codes, nil
}

// Decode implements tokenizer.Detokenizer: sum the codes' vectors, decode
// the latent, un-normalise.
func (d *Detokenizer) Decode(tokens []int64, dst []float64) error {
	if len(tokens) != d.cb.Levels {
		return fmt.Errorf("%w: got %d, want %d (one per level)", tokenizer.ErrTokenCount, len(tokens), d.cb.Levels)
	}
	if len(dst) != d.cb.Horizon*d.cb.Dim {
		return fmt.Errorf("%w: %d, want %d", tokenizer.ErrDstSize, len(dst), d.cb.Horizon*d.cb.Dim)
	}
	clear(d.z)
	for pos, tok := range tokens {
		g, c, err := d.Code(tok)
		if err != nil || g != pos {
			lo, hi := d.Allowed(pos)
			return fmt.Errorf("%w: position %d has token %d, allowed [%d, %d]", tokenizer.ErrTokenOutOfBand, pos, tok, lo, hi)
		}
		for k, v := range d.cb.Vector(g, c) {
			d.z[k] += v
		}
	}
	if d.conf.Decoder != nil {
		if err := d.conf.Decoder.DecodeLatent(d.z, d.x); err != nil {
			return fmt.Errorf("vq latent decoder: %w", err)
		}
	} else {
		copy(d.x, d.z)
	}
	for i, v := range d.x {
		dst[i] = float64(v)
	}
	d.conf.Norm.Unnormalize(dst)
	return tokenizer.CheckFinite(dst, d.cb.Dim)
}

// Encode quantises actions (H*D, robot units) greedily level by level:
// normalise, then at each level pick the code nearest the residual. Only
// valid with the identity decoder (the codebook lives in chunk space).
func (d *Detokenizer) Encode(actions []float64, tokens []int64) error {
	if d.conf.Decoder != nil {
		return fmt.Errorf("%w: Encode needs the identity decoder", tokenizer.ErrConfig)
	}
	if len(actions) != d.cb.Horizon*d.cb.Dim {
		return fmt.Errorf("%w: %d actions values, want %d", tokenizer.ErrDstSize, len(actions), d.cb.Horizon*d.cb.Dim)
	}
	if len(tokens) != d.cb.Levels {
		return fmt.Errorf("%w: %d, want %d", tokenizer.ErrTokenCount, len(tokens), d.cb.Levels)
	}
	res := make([]float64, len(actions))
	copy(res, actions)
	d.conf.Norm.Normalize(res)
	for g := 0; g < d.cb.Levels; g++ {
		best, bc := math.Inf(1), 0
		for c := 0; c < d.cb.Codes; c++ {
			var dist float64
			for k, v := range d.cb.Vector(g, c) {
				e := res[k] - float64(v)
				dist += e * e
			}
			if dist < best {
				best, bc = dist, c
			}
		}
		for k, v := range d.cb.Vector(g, bc) {
			res[k] -= float64(v)
		}
		tokens[g] = d.Token(g, bc)
	}
	return nil
}
