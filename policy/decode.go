package policy

import (
	"errors"
	"fmt"
	"math"
)

// ErrLogits is wrapped when a decoder's logits cannot yield a token: the
// allowed band is empty or outside the vocabulary, or holds NaN.
var ErrLogits = errors.New("bad logits")

// ArgmaxBand returns the token in [lo, hi] with the largest logit: greedy
// decoding constrained to the action-token band, so a token outside it can
// never be produced. Ties go to the lowest token, as numpy/torch argmax do.
// A NaN logit in the band is an error rather than a silent pick, since it
// means the model's numerics broke.
func ArgmaxBand(logits []float32, lo, hi int64) (int64, error) {
	if lo < 0 || hi < lo || hi >= int64(len(logits)) {
		return 0, fmt.Errorf("%w: band [%d, %d] outside vocabulary of %d", ErrLogits, lo, hi, len(logits))
	}
	best, bi := float32(math.Inf(-1)), int64(-1)
	for i := lo; i <= hi; i++ {
		v := logits[i]
		if v != v {
			return 0, fmt.Errorf("%w: logit of token %d is NaN", ErrLogits, i)
		}
		if v > best || bi < 0 {
			best, bi = v, i
		}
	}
	return bi, nil
}
