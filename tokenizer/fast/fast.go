package fast

import (
	"errors"
	"fmt"
	"math"
	"unicode"
	"unicode/utf8"

	"github.com/efferent/efferent/tokenizer"
)

// ErrIncomplete: the tokens do not decode to exactly one Horizon × Dim
// chunk of coefficients (too few or too many, no end token, a token after
// the end, bytes that are not UTF-8). The FAST processor answers such a
// sequence with an all-zero chunk; efferent refuses it. Errors carrying it
// also carry tokenizer.ErrTokenCount.
var ErrIncomplete = errors.New("FAST tokens do not form one whole action chunk")

// ErrUnrepresentable: Encode met a coefficient the tokenizer has no
// character or token for (below min_token, or a byte the vocabulary lacks).
// The processor clamps the first and the Rust BPE drops the second
// silently.
var ErrUnrepresentable = errors.New("chunk not representable by the FAST tokenizer")

// NoEnd is Conf.End for a tokenizer whose action tokens are not followed
// by an end token (Decode then takes exactly the action tokens).
const NoEnd int64 = -1

// Defaults of the FAST processor.
const (
	DefaultScale = 10
	// MaxHorizon bounds Conf.Horizon (as the manifest does).
	MaxHorizon = 1024
)

// Conf configures a Tokenizer.
type Conf struct {
	// Horizon (H) and Dim (D) are the chunk's shape.
	Horizon, Dim int
	// Vocab is the BPE (tokenizer.json of the FAST processor).
	Vocab *Vocab
	// Scale multiplies the DCT coefficients before rounding (processor
	// scale; 0 means 10).
	Scale float64
	// MinToken is the processor's min_token: the quantised coefficient q
	// is the character q − MinToken (FAST+: −354).
	MinToken int
	// TokenBase and Direction place FAST id t in the language model's
	// vocabulary: "down" (openpi) TokenBase − t, "up" TokenBase + t.
	// openpi/PaliGemma: 257152 − 1 − 128 = 257023, down.
	TokenBase int64
	Direction string
	// End is the language-model id that ends the action tokens (π0-FAST:
	// PaliGemma's "|"), or NoEnd.
	End int64
	// MaxTokens is the most action tokens one chunk may take (End not
	// counted).
	MaxTokens int
	// LogitsWidth is the decoder's vocabulary; the FAST band and End must
	// lie inside it (0: no check).
	LogitsWidth int64
	// Norm holds q01/q99 (and the mask) of the quantile normalisation.
	Norm tokenizer.Normalizer
	// NormEps is added to q99 − q01 (openpi: 1e-6; 0: efferent's
	// bounds_q99).
	NormEps float64
}

// Tokenizer encodes actions into FAST tokens and decodes them back. It
// is read-only after New (safe for concurrent use) and Decode does not
// allocate.
type Tokenizer struct {
	conf   Conf
	vocab  *Vocab
	lo, hi int64 // the band of language-model ids
	// dct[k*H+n] is the orthonormal DCT-II matrix C[k][n]; idct[n*H+k] is
	// its transpose (the inverse), row-major for the decode loop.
	dct, idct []float64
}

var _ tokenizer.Detokenizer = (*Tokenizer)(nil)

// New validates conf.
func New(conf Conf) (*Tokenizer, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: fast: %s", tokenizer.ErrConfig, fmt.Sprintf(format, args...))
	}
	if conf.Scale == 0 {
		conf.Scale = DefaultScale
	}
	if conf.Horizon <= 0 || conf.Horizon > MaxHorizon || conf.Dim <= 0 || conf.Dim > 1024 || conf.Horizon*conf.Dim > 1<<16 {
		return nil, bad("chunk %d×%d, want horizon 1..%d, dim 1..1024, at most 65536 values", conf.Horizon, conf.Dim, MaxHorizon)
	}
	if conf.Vocab == nil {
		return nil, bad("no vocabulary")
	}
	if !(conf.Scale > 0) || math.IsInf(conf.Scale, 0) {
		return nil, bad("scale %v, want a finite positive number", conf.Scale)
	}
	if conf.MinToken < -unicode.MaxRune || conf.MinToken > unicode.MaxRune {
		return nil, bad("min_token %d out of range", conf.MinToken)
	}
	if conf.MaxTokens <= 0 || conf.MaxTokens > 1<<16 {
		return nil, bad("max_tokens %d, want 1..65536", conf.MaxTokens)
	}
	if nm := conf.Norm; nm.Dim() != conf.Dim || len(nm.Q99) != conf.Dim || len(nm.Mask) != conf.Dim {
		return nil, bad("normalisation has %d dims (mask %d), action has %d: use tokenizer.NewNormalizer", nm.Dim(), len(nm.Mask), conf.Dim)
	}
	if !(conf.NormEps >= 0) || conf.NormEps > 1 {
		return nil, bad("norm_eps %v, want 0..1", conf.NormEps)
	}
	t := &Tokenizer{conf: conf, vocab: conf.Vocab}
	n := int64(conf.Vocab.Size())
	switch conf.Direction {
	case "down", "":
		t.lo, t.hi = conf.TokenBase-(n-1), conf.TokenBase
	case "up":
		t.lo, t.hi = conf.TokenBase, conf.TokenBase+(n-1)
	default:
		return nil, bad("direction %q, want down or up", conf.Direction)
	}
	if t.lo < 0 || (conf.LogitsWidth > 0 && t.hi >= conf.LogitsWidth) || t.hi > math.MaxInt64/2 {
		return nil, bad("the %d FAST tokens map to [%d, %d], outside the vocabulary [0, %d)", n, t.lo, t.hi, conf.LogitsWidth)
	}
	if e := conf.End; e != NoEnd {
		if e < 0 || (conf.LogitsWidth > 0 && e >= conf.LogitsWidth) {
			return nil, bad("end token %d outside the vocabulary [0, %d)", e, conf.LogitsWidth)
		}
		if e >= t.lo && e <= t.hi {
			return nil, bad("end token %d lies inside the FAST band [%d, %d]", e, t.lo, t.hi)
		}
	}
	H := conf.Horizon
	t.dct, t.idct = make([]float64, H*H), make([]float64, H*H)
	for k := range H {
		s := math.Sqrt(2 / float64(H))
		if k == 0 {
			s = math.Sqrt(1 / float64(H))
		}
		for j := range H {
			// cos(π·k·(2j+1)/(2H)), the argument reduced modulo 2π (4H).
			m := (k * (2*j + 1)) % (4 * H)
			c := s * math.Cos(math.Pi*float64(m)/float64(2*H))
			t.dct[k*H+j], t.idct[j*H+k] = c, c
		}
	}
	return t, nil
}

// Horizon implements tokenizer.Detokenizer.
func (t *Tokenizer) Horizon() int { return t.conf.Horizon }

// Dim implements tokenizer.Detokenizer.
func (t *Tokenizer) Dim() int { return t.conf.Dim }

// Vocab returns the BPE vocabulary.
func (t *Tokenizer) Vocab() *Vocab { return t.vocab }

// End is the id that ends a chunk's tokens (NoEnd if none). The runtime
// allows it at every position besides the band, stops a row's decoding
// when the row picks it, and gives Decode the tokens up to and including
// it.
func (t *Tokenizer) End() int64 { return t.conf.End }

// Band is the inclusive range of language-model ids of the FAST tokens.
func (t *Tokenizer) Band() (lo, hi int64) { return t.lo, t.hi }

// TokensPerChunk is the most tokens a chunk takes: MaxTokens, and the end
// token.
func (t *Tokenizer) TokensPerChunk() int {
	if t.conf.End != NoEnd {
		return t.conf.MaxTokens + 1
	}
	return t.conf.MaxTokens
}

// Allowed is the FAST band at every position, except that the last
// position (after MaxTokens action tokens) allows only the end token.
// The end token is allowed at every position too (see End), which one
// contiguous band cannot say.
func (t *Tokenizer) Allowed(i int) (lo, hi int64) {
	if t.conf.End != NoEnd && i >= t.conf.MaxTokens {
		return t.conf.End, t.conf.End
	}
	return t.lo, t.hi
}

// fastID maps a language-model id to its FAST id.
func (t *Tokenizer) fastID(tok int64) (int, bool) {
	if tok < t.lo || tok > t.hi {
		return 0, false
	}
	if t.conf.Direction == "up" {
		return int(tok - t.conf.TokenBase), true
	}
	return int(t.conf.TokenBase - tok), true
}

func (t *Tokenizer) lmID(id int) int64 {
	if t.conf.Direction == "up" {
		return t.conf.TokenBase + int64(id)
	}
	return t.conf.TokenBase - int64(id)
}

// utf8Len is the length of the UTF-8 sequence a lead byte starts, 0 for a
// byte that cannot start one.
func utf8Len(b byte) int {
	switch {
	case b < 0x80:
		return 1
	case b >= 0xC2 && b <= 0xDF:
		return 2
	case b >= 0xE0 && b <= 0xEF:
		return 3
	case b >= 0xF0 && b <= 0xF4:
		return 4
	}
	return 0
}

func incomplete(format string, args ...any) error {
	return fmt.Errorf("%w (%w): %s", ErrIncomplete, tokenizer.ErrTokenCount, fmt.Sprintf(format, args...))
}

// invalidUTF8 takes the sequence by value so that Decode's copy stays on
// the stack.
func invalidUTF8(tok int64, pos int, seq [4]byte, n int) error {
	return incomplete("token %d (position %d) ends the invalid UTF-8 sequence % x", tok, pos, seq[:n])
}

// Decode implements tokenizer.Detokenizer: the action tokens (then End,
// if the tokenizer has one, as the last token) → FAST ids → bytes → UTF-8
// characters c → coefficients (c + MinToken)/Scale, row-major (frequency,
// dim) → inverse DCT over time per dim → un-normalised actions. Anything
// that is not exactly one chunk is ErrIncomplete; a token outside the
// band is tokenizer.ErrTokenOutOfBand.
func (t *Tokenizer) Decode(tokens []int64, dst []float64) error {
	H, D := t.conf.Horizon, t.conf.Dim
	n := H * D
	if len(dst) != n {
		return fmt.Errorf("%w: %d, want %d", tokenizer.ErrDstSize, len(dst), n)
	}
	if len(tokens) > t.TokensPerChunk() {
		return incomplete("%d tokens, at most %d", len(tokens), t.TokensPerChunk())
	}
	act := tokens
	if e := t.conf.End; e != NoEnd {
		if len(tokens) == 0 || tokens[len(tokens)-1] != e {
			return incomplete("%d tokens without the end token %d", len(tokens), e)
		}
		act = tokens[:len(tokens)-1]
	}
	count := 0
	var seq [4]byte
	have, need := 0, 0
	for i, tok := range act {
		id, ok := t.fastID(tok)
		if !ok {
			if tok == t.conf.End {
				return incomplete("end token at position %d, before the last", i)
			}
			return fmt.Errorf("%w: position %d has token %d, allowed [%d, %d]", tokenizer.ErrTokenOutOfBand, i, tok, t.lo, t.hi)
		}
		for _, b := range t.vocab.Bytes(id) {
			if have == 0 {
				if need = utf8Len(b); need == 0 {
					return incomplete("token %d (position %d) has byte 0x%02x, which starts no UTF-8 character", tok, i, b)
				}
			}
			seq[have] = b
			have++
			if have < need {
				continue
			}
			r, size := utf8.DecodeRune(seq[:have])
			if size != have {
				return invalidUTF8(tok, i, seq, have)
			}
			have = 0
			if count == n {
				return incomplete("more than H×D = %d×%d coefficients (token %d at position %d)", H, D, tok, i)
			}
			dst[count] = float64(int(r)+t.conf.MinToken) / t.conf.Scale
			count++
		}
	}
	if have != 0 {
		return incomplete("the tokens end inside a UTF-8 character")
	}
	if count != n {
		return incomplete("%d coefficients, want H×D = %d×%d = %d", count, H, D, n)
	}
	t.inverse(dst)
	t.unnormalize(dst)
	return tokenizer.CheckFinite(dst, D)
}

// inverse replaces the coefficients in x (H×D, row-major) by their inverse
// DCT over time, column by column.
func (t *Tokenizer) inverse(x []float64) {
	H, D := t.conf.Horizon, t.conf.Dim
	var buf [MaxHorizon]float64
	col := buf[:H]
	for d := range D {
		for k := range H {
			col[k] = x[k*D+d]
		}
		for j := range H {
			x[j*D+d] = dot(t.idct[j*H:(j+1)*H], col)
		}
	}
}

// dot is Σ a[k]·b[k] with four accumulators (the additions of one chain
// would wait on each other), len(b) >= len(a).
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	k := 0
	for ; k+4 <= len(a); k += 4 {
		s0 += a[k] * b[k]
		s1 += a[k+1] * b[k+1]
		s2 += a[k+2] * b[k+2]
		s3 += a[k+3] * b[k+3]
	}
	for ; k < len(a); k++ {
		s0 += a[k] * b[k]
	}
	return (s0 + s1) + (s2 + s3)
}

// unnormalize is openpi's quantile un-normalisation on masked dims:
// (x + 1)/2·(q99 − q01 + eps) + q01.
func (t *Tokenizer) unnormalize(x []float64) {
	nm, D := t.conf.Norm, t.conf.Dim
	for i := range x {
		j := i % D
		if nm.Mask[j] {
			x[i] = (x[i]+1.0)/2.0*(nm.Q99[j]-nm.Q01[j]+t.conf.NormEps) + nm.Q01[j]
		}
	}
}

// normalize is openpi's quantile normalisation on masked dims, without
// clipping: (a − q01)/(q99 − q01 + eps)·2 − 1 (0 where the range is 0).
func (t *Tokenizer) normalize(a []float64) {
	nm, D := t.conf.Norm, t.conf.Dim
	for i := range a {
		j := i % D
		if !nm.Mask[j] {
			continue
		}
		r := nm.Q99[j] - nm.Q01[j] + t.conf.NormEps
		if r == 0 {
			a[i] = 0
			continue
		}
		a[i] = (a[i]-nm.Q01[j])/r*2.0 - 1.0
	}
}

// Trace is every stage of one chunk's encoding.
type Trace struct {
	// Normalized and DCT are H×D, row-major (DCT row k is frequency k).
	Normalized, DCT []float64
	// Quantized is round-half-even(DCT·Scale), flattened row-major.
	Quantized []int
	// Chars are Quantized − MinToken, the characters of the BPE's input.
	Chars []int
	// IDs are the FAST (BPE) ids.
	IDs []int
	// Tokens are the language-model ids, then End (if any).
	Tokens []int64
}

// Encode turns H×D actions (robot units, row-major) into the tokens a
// model emits for them, End included.
func (t *Tokenizer) Encode(actions []float64) ([]int64, error) {
	tr, err := t.EncodeTrace(actions)
	if err != nil {
		return nil, err
	}
	return tr.Tokens, nil
}

// EncodeTrace is Encode with its intermediate stages. It refuses, where
// the processor clamps or drops silently: a coefficient below MinToken
// (the processor clamps it to MinToken), a character the BPE cannot
// represent (the Rust library drops it), and a chunk of more than
// MaxTokens tokens (the runtime could not emit it).
func (t *Tokenizer) EncodeTrace(actions []float64) (*Trace, error) {
	H, D := t.conf.Horizon, t.conf.Dim
	n := H * D
	if len(actions) != n {
		return nil, fmt.Errorf("%w: %d actions, want %d×%d", tokenizer.ErrDstSize, len(actions), H, D)
	}
	if err := tokenizer.CheckFinite(actions, D); err != nil {
		return nil, err
	}
	tr := &Trace{Normalized: append([]float64(nil), actions...), DCT: make([]float64, n), Quantized: make([]int, n), Chars: make([]int, n)}
	t.normalize(tr.Normalized)
	x := tr.Normalized
	for k := range H {
		row := t.dct[k*H : (k+1)*H]
		for d := range D {
			s := 0.0
			for j, c := range row {
				s += c * x[j*D+d]
			}
			tr.DCT[k*D+d] = s
		}
	}
	runes := make([]rune, n)
	for i, c := range tr.DCT {
		q := math.RoundToEven(c * t.conf.Scale)
		if math.Abs(q) > 1<<30 {
			return nil, fmt.Errorf("%w: coefficient %d (frequency %d, dim %d) is %v", ErrUnrepresentable, i, i/D, i%D, q)
		}
		tr.Quantized[i] = int(q)
		ch := int(q) - t.conf.MinToken
		if ch < 0 || ch > unicode.MaxRune || (ch >= 0xD800 && ch <= 0xDFFF) {
			return nil, fmt.Errorf("%w: quantised coefficient %d (frequency %d, dim %d) = %d is below min_token %d or not a character",
				ErrUnrepresentable, i, i/D, i%D, int(q), t.conf.MinToken)
		}
		tr.Chars[i], runes[i] = ch, rune(ch)
	}
	ids, err := t.vocab.Encode(string(runes))
	if err != nil {
		return nil, err
	}
	if len(ids) > t.conf.MaxTokens {
		return nil, fmt.Errorf("%w: the chunk takes %d FAST tokens, max_tokens is %d", tokenizer.ErrTokenCount, len(ids), t.conf.MaxTokens)
	}
	tr.IDs = ids
	tr.Tokens = make([]int64, 0, len(ids)+1)
	for _, id := range ids {
		tr.Tokens = append(tr.Tokens, t.lmID(id))
	}
	if t.conf.End != NoEnd {
		tr.Tokens = append(tr.Tokens, t.conf.End)
	}
	return tr, nil
}

// ErrorBound is the largest |decoded − normalised input| the rounding can
// cause at step j, in normalised units: every quantised coefficient is
// within 0.5/Scale of the true one, and the orthonormal inverse DCT
// spreads that to at most (0.5/Scale)·Σ_k |C[k][j]| (≤ 0.5·√H/Scale).
func (t *Tokenizer) ErrorBound(j int) float64 {
	H := t.conf.Horizon
	s := 0.0
	for _, c := range t.idct[j*H : (j+1)*H] {
		s += math.Abs(c)
	}
	return 0.5 / t.conf.Scale * s
}
