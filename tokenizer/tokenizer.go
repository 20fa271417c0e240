package tokenizer

import "errors"

// Detokenizer turns the action tokens of one chunk into actions.
type Detokenizer interface {
	// Horizon is H, the number of actions per chunk.
	Horizon() int
	// Dim is D, the number of dimensions per action.
	Dim() int
	// TokensPerChunk is how many tokens one chunk takes.
	TokensPerChunk() int
	// Allowed returns the inclusive token range allowed at position i
	// (0 <= i < TokensPerChunk()), for constrained decoding.
	Allowed(i int) (lo, hi int64)
	// Decode writes H*D un-normalised actions, row-major, into dst, which
	// must have exactly that length. It does not allocate.
	Decode(tokens []int64, dst []float64) error
}

var (
	// ErrTokenOutOfBand: a token is not allowed at its position.
	ErrTokenOutOfBand = errors.New("action token out of band")
	// ErrTokenCount: the wrong number of tokens for one chunk.
	ErrTokenCount = errors.New("wrong number of action tokens")
	// ErrNotFinite: a decoded action value is NaN or infinite.
	ErrNotFinite = errors.New("decoded action is not finite")
	// ErrDstSize: the destination slice does not have H*D elements.
	ErrDstSize = errors.New("destination has the wrong size")
	// ErrConfig: a detokenizer's configuration or codebook is invalid.
	ErrConfig = errors.New("invalid action tokenizer configuration")
)
