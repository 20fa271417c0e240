package chunks

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"github.com/efferent/efferent/sim"
)

// Episode is one demonstration's actions.
type Episode struct {
	// Rel is the episode's directory relative to the demonstrations'
	// root, slash-separated (what the hold-out rule hashes).
	Rel string
	// Actions are T × sim.ActionDim values, row-major.
	Actions []float32
}

// Steps is the episode's length T.
func (e Episode) Steps() int { return len(e.Actions) / sim.ActionDim }

// LoadEpisodes finds and reads every episode under root (--demos), in path
// order; it skips failed episodes unless failures (--include-failures) is
// set, and refuses more than maxChunks (--max-chunks) chunks in all (each
// episode gives one chunk per step); h is the chunk length, for the error.
// Its errors name those flags.
func LoadEpisodes(root string, failures bool, h, maxChunks int) ([]Episode, error) {
	if root == "" {
		return nil, errors.New("--demos is required")
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("--demos: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--demos %s: not a directory", root)
	}
	dirs, err := sim.FindDemos(root)
	if err != nil {
		return nil, fmt.Errorf("--demos %s: %w", root, err)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("--demos %s: no episode directories (with actions.npy and meta.json) found", root)
	}
	var eps []Episode
	total, skipped := 0, 0
	for _, dir := range dirs {
		d, err := sim.ReadDemoActions(dir)
		if err != nil {
			return nil, err
		}
		if !d.Meta.Success && !failures {
			skipped++
			continue
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		e := Episode{Rel: filepath.ToSlash(rel), Actions: d.Actions}
		if total += e.Steps(); total > maxChunks {
			return nil, fmt.Errorf("--demos %s: more than --max-chunks %d chunks (%d×%d values each); raise --max-chunks or use fewer episodes",
				root, maxChunks, h, sim.ActionDim)
		}
		eps = append(eps, e)
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("--demos %s: no successful episodes (%d failed ones skipped; --include-failures uses them)", root, skipped)
	}
	return eps, nil
}

// HeldOut reports whether the episode at rel (relative to the root,
// slash-separated) is held out when a fraction frac is: FNV-1a-64(rel)
// mod 1e6 < frac·1e6.
func HeldOut(rel string, frac float64) bool {
	h := fnv.New64a()
	h.Write([]byte(rel))
	return float64(h.Sum64()%1_000_000) < frac*1_000_000
}
