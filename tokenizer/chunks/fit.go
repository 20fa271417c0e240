package chunks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/vq"
)

// Defaults of the commands' flags (FitConf and CheckConf have no zero
// defaults: zero is an error where it is out of range, as with the flags).
const (
	DefaultChunk     = 5
	DefaultRestarts  = 1
	DefaultHoldout   = 0.1
	DefaultMaxChunks = 1_000_000
)

// FitConf configures Fit; each field is the `efferent tokenizer fit` flag
// named in its comment, and errors name the flags.
type FitConf struct {
	// Demos is the demonstrations' root, searched recursively (--demos,
	// required).
	Demos string
	// Chunk is the chunk length H in steps (--chunk, 1..1024).
	Chunk int
	// Levels, Codes, Iters, Restarts and Seed are vq.FitConf's (--levels
	// 1..64, --codes 1..65536, --iters 1..2^20, --restarts 1..1024,
	// --seed > 0); Levels·Codes·Chunk·7 is at most 2^24.
	Levels, Codes, Iters, Restarts int
	Seed                           uint64
	// Holdout is the fraction of episodes held out for measuring
	// (--holdout, in [0, 1)); see the package doc for which.
	Holdout float64
	// Out is the directory codebook.json and stats.json are written to
	// (--out; created if missing).
	Out string
	// IncludeFailures also uses episodes whose meta.json says success
	// false (--include-failures).
	IncludeFailures bool
	// MaxChunks refuses demonstrations with more chunks, a memory bound
	// (--max-chunks, 1..2^31−1).
	MaxChunks int
}

// FitResult is what Fit fitted and wrote.
type FitResult struct {
	Codebook *vq.Codebook
	Stats    Stats
	// Train is the report on the training chunks, Heldout on the
	// held-out ones (nil when none are held out).
	Train, Heldout *vq.FitReport
	// CodebookPath and StatsPath are the files written.
	CodebookPath, StatsPath string
}

func (c FitConf) validate() error {
	for _, f := range []struct {
		flag   string
		v, max int
	}{{"--chunk", c.Chunk, 1024}, {"--levels", c.Levels, 64}, {"--codes", c.Codes, 1 << 16}, {"--iters", c.Iters, 1 << 20},
		{"--restarts", c.Restarts, 1024}, {"--max-chunks", c.MaxChunks, math.MaxInt32}} {
		if f.v < 1 || f.v > f.max {
			return fmt.Errorf("%s %d: want 1..%d", f.flag, f.v, f.max)
		}
	}
	if n := c.Levels * c.Codes * c.Chunk * sim.ActionDim; n > 1<<24 {
		return fmt.Errorf("--levels %d × --codes %d × --chunk %d × %d dims = %d codebook values, at most %d",
			c.Levels, c.Codes, c.Chunk, sim.ActionDim, n, 1<<24)
	}
	if !(c.Holdout >= 0 && c.Holdout < 1) {
		return fmt.Errorf("--holdout %v: want a fraction in [0, 1)", c.Holdout)
	}
	if c.Seed == 0 {
		return errors.New("--seed 0: want a positive seed")
	}
	return nil
}

// Fit is `efferent tokenizer fit`: it reads the episodes under c.Demos,
// holds out a deterministic fraction of them, computes the action
// statistics on the rest, cuts and normalises every episode's chunks, fits
// a residual-VQ codebook to the training chunks and measures it on the
// held-out ones, and writes codebook.json and stats.json to c.Out (each
// atomically). It prints its progress and the report (PrintReport) to w.
func Fit(c FitConf, w io.Writer) (*FitResult, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	h := c.Chunk
	eps, err := LoadEpisodes(c.Demos, c.IncludeFailures, h, c.MaxChunks)
	if err != nil {
		return nil, err
	}
	var train, held []Episode
	for _, e := range eps {
		if HeldOut(e.Rel, c.Holdout) {
			held = append(held, e)
		} else {
			train = append(train, e)
		}
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("--holdout %v holds out all %d episodes under %s; lower it", c.Holdout, len(eps), c.Demos)
	}
	q01, q99 := ActionQuantiles(train, sim.ActionDim)
	mask := statsMask(sim.ActionDim)
	norm, err := tokenizer.NewNormalizer(q01, q99, mask)
	if err != nil {
		return nil, fmt.Errorf("--demos %s: action statistics: %w", c.Demos, err)
	}
	trainChunks, heldChunks := Cut(train, h, norm), Cut(held, h, norm)
	fmt.Fprintf(w, "fitting %d×%d codes to %d chunks of %d×%d from %d episodes (%d held out: %d chunks)\n",
		c.Levels, c.Codes, len(trainChunks), h, sim.ActionDim, len(train), len(held), len(heldChunks))
	start := time.Now()
	cb, rep, err := vq.Fit(trainChunks, vq.FitConf{Horizon: h, Dim: sim.ActionDim, Levels: c.Levels, Codes: c.Codes,
		Iters: c.Iters, Restarts: c.Restarts, Seed: c.Seed, Norm: &norm})
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	res := &FitResult{Codebook: cb, Train: &rep}
	if len(heldChunks) > 0 {
		r, err := vq.Check(cb, heldChunks)
		if err != nil {
			return nil, err
		}
		if err := r.ScaleToActions(norm); err != nil {
			return nil, err
		}
		res.Heldout = &r
	}
	data, err := cb.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if _, err := vq.ParseCodebook(data); err != nil { // what we write must load
		return nil, fmt.Errorf("fitted codebook does not load back: %w", err)
	}
	res.Stats = Stats{Format: StatsFormat, Q01: q01, Q99: q99, Mask: mask, Chunk: h, Dim: sim.ActionDim,
		Episodes: len(train), Chunks: len(trainChunks), HeldoutEpisodes: len(held), HeldoutChunks: len(heldChunks),
		Heldout: []string{}, Padding: "repeat_last", Quantiles: "linear", Codebook: cb.Checksum()}
	for _, e := range held {
		res.Stats.Heldout = append(res.Stats.Heldout, e.Rel)
	}
	sj, err := json.MarshalIndent(res.Stats, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", c.Out, err)
	}
	res.CodebookPath, res.StatsPath = filepath.Join(c.Out, "codebook.json"), filepath.Join(c.Out, "stats.json")
	if err := writeFileAtomic(res.CodebookPath, data); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	if err := writeFileAtomic(res.StatsPath, append(sj, '\n')); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(w, "fitted in %v; wrote %s and %s (sha256 %s)\n\n", elapsed.Round(time.Millisecond), res.CodebookPath, res.StatsPath, cb.Checksum())
	return res, PrintReport(w, res.Stats, c.Codes, "TRAIN", res.Train, res.Heldout)
}

// CheckConf configures Check; each field is the `efferent tokenizer
// check` flag named in its comment, and errors name the flags.
type CheckConf struct {
	// Codebook is codebook.json (--codebook, required) and Stats the
	// stats.json fitted with it (--stats, required).
	Codebook, Stats string
	// Demos, IncludeFailures and MaxChunks are FitConf's (--demos,
	// --include-failures, --max-chunks ≥ 1).
	Demos           string
	IncludeFailures bool
	MaxChunks       int
}

// Check is `efferent tokenizer check`: it measures the codebook's
// reconstruction error and code usage on every chunk of the episodes
// under c.Demos, normalised by the stats file, and prints the report to w.
func Check(c CheckConf, w io.Writer) (vq.FitReport, error) {
	if c.Codebook == "" {
		return vq.FitReport{}, errors.New("--codebook is required")
	}
	if c.Stats == "" {
		return vq.FitReport{}, errors.New("--stats is required")
	}
	if c.MaxChunks < 1 {
		return vq.FitReport{}, fmt.Errorf("--max-chunks %d: want at least 1", c.MaxChunks)
	}
	cb, err := vq.Load(c.Codebook)
	if err != nil {
		return vq.FitReport{}, fmt.Errorf("--codebook: %w", err)
	}
	stats, norm, err := LoadStats(c.Stats)
	if err != nil {
		return vq.FitReport{}, err
	}
	if stats.Chunk != cb.Horizon || stats.Dim != cb.Dim {
		return vq.FitReport{}, fmt.Errorf("--stats %s is for chunks of %d×%d, --codebook %s for %d×%d",
			c.Stats, stats.Chunk, stats.Dim, c.Codebook, cb.Horizon, cb.Dim)
	}
	if cb.LatentDim != cb.Horizon*cb.Dim {
		return vq.FitReport{}, fmt.Errorf("--codebook %s has latent_dim %d, not horizon×dim = %d: it needs a latent decoder, which check does not run",
			c.Codebook, cb.LatentDim, cb.Horizon*cb.Dim)
	}
	eps, err := LoadEpisodes(c.Demos, c.IncludeFailures, cb.Horizon, c.MaxChunks)
	if err != nil {
		return vq.FitReport{}, err
	}
	chunks := Cut(eps, cb.Horizon, norm)
	rep, err := vq.Check(cb, chunks)
	if err != nil {
		return vq.FitReport{}, err
	}
	if err := rep.ScaleToActions(norm); err != nil {
		return vq.FitReport{}, err
	}
	fmt.Fprintf(w, "%s on %d chunks from %d episodes under %s\n\n", c.Codebook, len(chunks), len(eps), c.Demos)
	return rep, PrintReport(w, stats, cb.Codes, "DEMOS", &rep, nil)
}

// writeFileAtomic writes data to a temporary sibling and renames it over
// path, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
