// Package compare measures how far one action stream is from another: a
// policy against a teleoperator (live, in the viewer), or a new model
// against the chunks of a recorded episode (efferent replay). Actions are
// LIBERO-style vectors: the leading dims are motion (deltas or targets),
// an optional last dim the gripper.
package compare

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Conf says how to read the vectors.
type Conf struct {
	// Dim is the action dimension (required).
	Dim int
	// Gripper is the index of the gripper dim, or −1 for none. Its value
	// counts as closed above 0 (LIBERO: −1 open, +1 closed).
	Gripper int
}

// Stats accumulates comparisons of pairs (reference, other). Not safe for
// concurrent use; the zero value is not usable (New).
type Stats struct {
	conf             Conf
	n                int
	absSum, sqSum    []float64
	maxAbs           []float64
	cosSum           float64
	cosN             int
	gripAgree, gripN int
}

// New returns empty Stats for conf.
func New(conf Conf) (*Stats, error) {
	if conf.Dim < 1 {
		return nil, fmt.Errorf("compare: Conf.Dim %d: want ≥ 1", conf.Dim)
	}
	if conf.Gripper >= conf.Dim {
		return nil, fmt.Errorf("compare: Conf.Gripper %d: want < Dim (%d) or −1", conf.Gripper, conf.Dim)
	}
	return &Stats{conf: conf, absSum: make([]float64, conf.Dim), sqSum: make([]float64, conf.Dim), maxAbs: make([]float64, conf.Dim)}, nil
}

// Add compares one pair of action vectors (each at least Dim long; NaN
// values are skipped). It allocates nothing.
func (s *Stats) Add(ref, other []float64) {
	if len(ref) < s.conf.Dim || len(other) < s.conf.Dim {
		return
	}
	s.n++
	var dot, nr, no float64
	for d := range s.conf.Dim {
		a, b := ref[d], other[d]
		if math.IsNaN(a) || math.IsNaN(b) {
			continue
		}
		e := math.Abs(a - b)
		s.absSum[d] += e
		s.sqSum[d] += e * e
		s.maxAbs[d] = max(s.maxAbs[d], e)
		if d != s.conf.Gripper {
			dot, nr, no = dot+a*b, nr+a*a, no+b*b
		}
	}
	// Cosine similarity of the motion part; undefined when either stands
	// still.
	if nr > 1e-18 && no > 1e-18 {
		s.cosSum += dot / math.Sqrt(nr*no)
		s.cosN++
	}
	if g := s.conf.Gripper; g >= 0 {
		s.gripN++
		if (ref[g] > 0) == (other[g] > 0) {
			s.gripAgree++
		}
	}
}

// Summary is what Stats found.
type Summary struct {
	// N pairs compared.
	N int `json:"n"`
	// MAE, RMSE and MaxAbs per dim.
	MAE    []float64 `json:"mae"`
	RMSE   []float64 `json:"rmse"`
	MaxAbs []float64 `json:"max_abs"`
	// Cosine is the mean cosine similarity of the motion dims over the
	// pairs where both move (CosineN of them); NaN when none.
	Cosine  float64 `json:"cosine"`
	CosineN int     `json:"cosine_n"`
	// GripperAgreement is the fraction of pairs whose gripper commands
	// agree (open/closed); NaN without a gripper.
	GripperAgreement float64 `json:"gripper_agreement"`
}

// Summary returns the current summary (fresh slices).
func (s *Stats) Summary() Summary {
	out := Summary{N: s.n, MAE: make([]float64, s.conf.Dim), RMSE: make([]float64, s.conf.Dim),
		MaxAbs: append([]float64(nil), s.maxAbs...), Cosine: math.NaN(), CosineN: s.cosN, GripperAgreement: math.NaN()}
	if s.n > 0 {
		for d := range s.conf.Dim {
			out.MAE[d] = s.absSum[d] / float64(s.n)
			out.RMSE[d] = math.Sqrt(s.sqSum[d] / float64(s.n))
		}
	}
	if s.cosN > 0 {
		out.Cosine = s.cosSum / float64(s.cosN)
	}
	if s.gripN > 0 {
		out.GripperAgreement = float64(s.gripAgree) / float64(s.gripN)
	}
	return out
}

// num is a float in JSON: NaN and ±Inf (nothing compared yet) are null,
// which encoding/json would refuse.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', -1, 64), nil
}

func nums(xs []float64) []num {
	out := make([]num, len(xs))
	for i, x := range xs {
		out[i] = num(x)
	}
	return out
}

// MarshalJSON writes the summary with its undefined values (NaN) as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N                int   `json:"n"`
		MAE              []num `json:"mae"`
		RMSE             []num `json:"rmse"`
		MaxAbs           []num `json:"max_abs"`
		Cosine           num   `json:"cosine"`
		CosineN          int   `json:"cosine_n"`
		GripperAgreement num   `json:"gripper_agreement"`
	}{s.N, nums(s.MAE), nums(s.RMSE), nums(s.MaxAbs), num(s.Cosine), s.CosineN, num(s.GripperAgreement)})
}
