package chunks

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/efferent/efferent/internal/bounded"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/tokenizer"
)

const (
	// StatsFormat is stats.json's format string.
	StatsFormat = "efferent-action-stats/1"
	// MaxStatsBytes bounds the stats.json LoadStats reads.
	MaxStatsBytes = 16 << 20
	// GripperDim is the action dim that is not normalised.
	GripperDim = 6
)

// Stats is stats.json: the normalisation and chunking a codebook was
// fitted with, and the episodes it was fitted and measured on.
type Stats struct {
	Format          string    `json:"format"` // StatsFormat
	Q01             []float64 `json:"q01"`
	Q99             []float64 `json:"q99"`
	Mask            []bool    `json:"mask"`
	Chunk           int       `json:"chunk"`
	Dim             int       `json:"dim"`
	Episodes        int       `json:"episodes"`
	Chunks          int       `json:"chunks"`
	HeldoutEpisodes int       `json:"heldout_episodes"`
	HeldoutChunks   int       `json:"heldout_chunks"`
	Heldout         []string  `json:"heldout"`   // held-out episodes, relative to the root
	Padding         string    `json:"padding"`   // "repeat_last"
	Quantiles       string    `json:"quantiles"` // "linear"
	Codebook        string    `json:"codebook_sha256,omitempty"`
}

// LoadStats reads and validates the stats.json at path (the --stats flag,
// which its errors name) and returns it with its normaliser.
func LoadStats(path string) (Stats, tokenizer.Normalizer, error) {
	var s Stats
	data, err := bounded.ReadFile(path, MaxStatsBytes)
	if err != nil {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats %s: %w", path, err)
	}
	if s.Format != "" && s.Format != StatsFormat {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats %s: format %q, want %q", path, s.Format, StatsFormat)
	}
	if s.Dim != sim.ActionDim || len(s.Q01) != s.Dim || len(s.Q99) != s.Dim || len(s.Mask) != s.Dim {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats %s: dim %d with %d q01, %d q99, %d mask values; want %d of each",
			path, s.Dim, len(s.Q01), len(s.Q99), len(s.Mask), sim.ActionDim)
	}
	if s.Chunk < 1 || s.Chunk > 4096 {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats %s: chunk %d, want 1..4096", path, s.Chunk)
	}
	n, err := tokenizer.NewNormalizer(s.Q01, s.Q99, s.Mask)
	if err != nil {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats %s: %w", path, err)
	}
	return s, n, nil
}

// ActionQuantiles returns the 1st and 99th percentiles of every one of d
// action dims over all the episodes' actions, interpolated linearly
// between order statistics (numpy's default method).
func ActionQuantiles(eps []Episode, d int) (q01, q99 []float64) {
	n := 0
	for _, e := range eps {
		n += e.Steps()
	}
	q01, q99 = make([]float64, d), make([]float64, d)
	vals := make([]float64, 0, n)
	for j := range d {
		vals = vals[:0]
		for _, e := range eps {
			for i := j; i < len(e.Actions); i += d {
				vals = append(vals, float64(e.Actions[i]))
			}
		}
		slices.Sort(vals)
		q01[j], q99[j] = Quantile(vals, 0.01), Quantile(vals, 0.99)
	}
	return q01, q99
}

// Quantile is the q-quantile of sorted (non-empty) values, linear between
// the order statistics at floor and ceil of q·(n−1).
func Quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// statsMask is the normalisation mask: every dim but the gripper.
func statsMask(d int) []bool {
	mask := make([]bool, d)
	for j := range mask {
		mask[j] = j != GripperDim
	}
	return mask
}
