package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/vq"
)

// Action chunks for the residual-VQ tokenizer.
//
// Chunks: for every episode (T actions of D = 7 dims) and every step t in
// 0..T−1, the chunk is actions[t : t+H]; steps past the episode's end
// repeat its LAST action (so an episode of T steps gives exactly T chunks,
// and the final chunks hold the robot at its last command). Training code
// must build its targets by the same rule.
//
// Statistics: q01 and q99 are the 1st and 99th percentiles of each action
// dim over every action of the training episodes (not the padded chunks),
// by linear interpolation between order statistics — numpy's default
// np.quantile(a, [0.01, 0.99], axis=0): with the n values sorted,
// position p·(n−1), interpolated between its neighbours. Dims 0–5 are
// normalised to x = clip(2(a − q01)/(q99 − q01) − 1, −1, 1) (0 when
// q99 = q01); dim 6, the gripper, passes through unchanged (mask false).
//
// Hold-out: an episode is held out when FNV-1a-64 of its path relative to
// --demos (slash-separated, e.g. "spatial/3_7") modulo 1 000 000 is below
// holdout × 1 000 000; the choice depends on nothing else, so it is stable
// when episodes are added. stats.json lists the held-out episodes.

const (
	// gripperDim is the action dim that is not normalised.
	gripperDim = 6
	// maxActionsBytes bounds one actions.npy's data.
	maxActionsBytes = 256 << 20
	// maxStatsBytes bounds stats.json.
	maxStatsBytes = 16 << 20
	// tokenizerStatsFormat is stats.json's format string.
	tokenizerStatsFormat = "efferent-action-stats/1"
)

// tokenizerStats is stats.json: the normalisation and chunking a codebook
// was fitted with.
type tokenizerStats struct {
	Format          string    `json:"format"`
	Q01             []float64 `json:"q01"`
	Q99             []float64 `json:"q99"`
	Mask            []bool    `json:"mask"`
	Chunk           int       `json:"chunk"`
	Dim             int       `json:"dim"`
	Episodes        int       `json:"episodes"`
	Chunks          int       `json:"chunks"`
	HeldoutEpisodes int       `json:"heldout_episodes"`
	HeldoutChunks   int       `json:"heldout_chunks"`
	Heldout         []string  `json:"heldout"`
	Padding         string    `json:"padding"`   // "repeat_last"
	Quantiles       string    `json:"quantiles"` // "linear"
	Codebook        string    `json:"codebook_sha256,omitempty"`

	codes int // codes per level, for the report
}

// demoEpisode is one episode's actions.
type demoEpisode struct {
	rel     string    // path relative to --demos, slash-separated
	actions []float32 // T × sim.ActionDim, row-major
}

func (e demoEpisode) steps() int { return len(e.actions) / sim.ActionDim }

func tokenizerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Fit and check residual-VQ action-chunk codebooks",
	}
	cmd.AddCommand(tokenizerFitCmd(), tokenizerCheckCmd())
	return cmd
}

func tokenizerFitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fit",
		Short: "Fit a residual-VQ codebook (efferent-vq/1) to demonstration action chunks",
		Long: `fit reads every episode directory under --demos (a directory holding
actions.npy and meta.json, as "efferent sim demos" writes), holds out a
deterministic fraction of the episodes, computes q01/q99 per action dim on
the rest, cuts every episode into chunks of --chunk steps (one per step; past
the end the last action repeats), normalises them (dims 0-5 to [-1, 1],
the gripper passes through) and fits --levels residual k-means levels of
--codes codes each. It writes codebook.json and stats.json to --out and
prints the reconstruction error per action dim and the code usage per level,
on the training and the held-out episodes.`,
		Args: cobra.NoArgs,
		RunE: runTokenizerFit,
	}
	f := cmd.Flags()
	f.String("demos", "", "demonstrations directory, searched recursively (required)")
	f.Int("chunk", 5, "chunk length H in steps")
	f.Int("levels", vq.DefaultFitLevels, "residual levels (tokens per chunk)")
	f.Int("codes", vq.DefaultFitCodes, "codes per level")
	f.Int("iters", vq.DefaultFitIters, "k-means iterations per level (at most)")
	f.Int("restarts", 1, "k-means++ runs per level; the best is kept")
	f.Uint64("seed", vq.DefaultFitSeed, "k-means++ seed")
	f.Float64("holdout", 0.1, "fraction of episodes held out for measuring, in [0, 1)")
	f.String("out", ".", "output directory for codebook.json and stats.json")
	addDemoFlags(f)
	return cmd
}

func tokenizerCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Measure a codebook's reconstruction error and code usage on demonstrations",
		Args:  cobra.NoArgs,
		RunE:  runTokenizerCheck,
	}
	f := cmd.Flags()
	f.String("codebook", "", "codebook.json (required)")
	f.String("stats", "", "stats.json written with it by tokenizer fit (required)")
	f.String("demos", "", "demonstrations directory, searched recursively (required)")
	addDemoFlags(f)
	return cmd
}

func addDemoFlags(f *pflag.FlagSet) {
	f.Bool("include-failures", false, "also use episodes whose meta.json says success false")
	f.Int("max-chunks", 1_000_000, "refuse demonstrations with more chunks (memory bound)")
}

func runTokenizerFit(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	demos, _ := f.GetString("demos")
	h, _ := f.GetInt("chunk")
	levels, _ := f.GetInt("levels")
	codes, _ := f.GetInt("codes")
	iters, _ := f.GetInt("iters")
	restarts, _ := f.GetInt("restarts")
	seed, _ := f.GetUint64("seed")
	holdout, _ := f.GetFloat64("holdout")
	out, _ := f.GetString("out")
	failures, _ := f.GetBool("include-failures")
	maxChunks, _ := f.GetInt("max-chunks")
	for _, c := range []struct {
		flag   string
		v, max int
	}{{"--chunk", h, 1024}, {"--levels", levels, 64}, {"--codes", codes, 1 << 16}, {"--iters", iters, 1 << 20},
		{"--restarts", restarts, 1024}, {"--max-chunks", maxChunks, math.MaxInt32}} {
		if c.v < 1 || c.v > c.max {
			return fmt.Errorf("%s %d: want 1..%d", c.flag, c.v, c.max)
		}
	}
	if n := levels * codes * h * sim.ActionDim; n > 1<<24 {
		return fmt.Errorf("--levels %d × --codes %d × --chunk %d × %d dims = %d codebook values, at most %d", levels, codes, h, sim.ActionDim, n, 1<<24)
	}
	if !(holdout >= 0 && holdout < 1) {
		return fmt.Errorf("--holdout %v: want a fraction in [0, 1)", holdout)
	}
	if seed == 0 {
		return errors.New("--seed 0: want a positive seed")
	}
	eps, err := loadDemoEpisodes(demos, failures, h, maxChunks)
	if err != nil {
		return err
	}
	var train, held []demoEpisode
	for _, e := range eps {
		if heldOut(e.rel, holdout) {
			held = append(held, e)
		} else {
			train = append(train, e)
		}
	}
	if len(train) == 0 {
		return fmt.Errorf("--holdout %v holds out all %d episodes under %s; lower it", holdout, len(eps), demos)
	}
	q01, q99 := actionQuantiles(train, sim.ActionDim)
	mask := make([]bool, sim.ActionDim)
	for j := range mask {
		mask[j] = j != gripperDim
	}
	norm, err := tokenizer.NewNormalizer(q01, q99, mask)
	if err != nil {
		return fmt.Errorf("--demos %s: action statistics: %w", demos, err)
	}
	trainChunks, heldChunks := actionChunks(train, h, norm), actionChunks(held, h, norm)
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "fitting %d×%d codes to %d chunks of %d×%d from %d episodes (%d held out: %d chunks)\n",
		levels, codes, len(trainChunks), h, sim.ActionDim, len(train), len(held), len(heldChunks))
	start := time.Now()
	cb, rep, err := vq.Fit(trainChunks, vq.FitConf{Horizon: h, Dim: sim.ActionDim, Levels: levels, Codes: codes,
		Iters: iters, Restarts: restarts, Seed: seed, Norm: &norm})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	var heldRep *vq.FitReport
	if len(heldChunks) > 0 {
		r, err := vq.Check(cb, heldChunks)
		if err != nil {
			return err
		}
		if err := r.ScaleToActions(norm); err != nil {
			return err
		}
		heldRep = &r
	}
	data, err := cb.MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := vq.ParseCodebook(data); err != nil { // what we write must load
		return fmt.Errorf("fitted codebook does not load back: %w", err)
	}
	stats := tokenizerStats{Format: tokenizerStatsFormat, Q01: q01, Q99: q99, Mask: mask, Chunk: h, Dim: sim.ActionDim,
		Episodes: len(train), Chunks: len(trainChunks), HeldoutEpisodes: len(held), HeldoutChunks: len(heldChunks),
		Heldout: []string{}, Padding: "repeat_last", Quantiles: "linear", Codebook: cb.Checksum(), codes: codes}
	for _, e := range held {
		stats.Heldout = append(stats.Heldout, e.rel)
	}
	sj, err := json.MarshalIndent(stats, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	cbPath, statsPath := filepath.Join(out, "codebook.json"), filepath.Join(out, "stats.json")
	if err := writeFileAtomic(cbPath, data); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := writeFileAtomic(statsPath, append(sj, '\n')); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(w, "fitted in %v; wrote %s and %s (sha256 %s)\n\n", elapsed.Round(time.Millisecond), cbPath, statsPath, cb.Checksum())
	return printTokenizerReport(w, stats, "TRAIN", &rep, heldRep)
}

func runTokenizerCheck(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	cbPath, _ := f.GetString("codebook")
	statsPath, _ := f.GetString("stats")
	demos, _ := f.GetString("demos")
	failures, _ := f.GetBool("include-failures")
	maxChunks, _ := f.GetInt("max-chunks")
	if cbPath == "" {
		return errors.New("--codebook is required")
	}
	if statsPath == "" {
		return errors.New("--stats is required")
	}
	if maxChunks < 1 {
		return fmt.Errorf("--max-chunks %d: want at least 1", maxChunks)
	}
	cb, err := vq.Load(cbPath)
	if err != nil {
		return fmt.Errorf("--codebook: %w", err)
	}
	stats, norm, err := loadTokenizerStats(statsPath)
	if err != nil {
		return err
	}
	if stats.Chunk != cb.Horizon || stats.Dim != cb.Dim {
		return fmt.Errorf("--stats %s is for chunks of %d×%d, --codebook %s for %d×%d", statsPath, stats.Chunk, stats.Dim, cbPath, cb.Horizon, cb.Dim)
	}
	if cb.LatentDim != cb.Horizon*cb.Dim {
		return fmt.Errorf("--codebook %s has latent_dim %d, not horizon×dim = %d: it needs a latent decoder, which check does not run", cbPath, cb.LatentDim, cb.Horizon*cb.Dim)
	}
	eps, err := loadDemoEpisodes(demos, failures, cb.Horizon, maxChunks)
	if err != nil {
		return err
	}
	chunks := actionChunks(eps, cb.Horizon, norm)
	stats.codes = cb.Codes
	rep, err := vq.Check(cb, chunks)
	if err != nil {
		return err
	}
	if err := rep.ScaleToActions(norm); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s on %d chunks from %d episodes under %s\n\n", cbPath, len(chunks), len(eps), demos)
	return printTokenizerReport(w, stats, "DEMOS", &rep, nil)
}

// loadTokenizerStats reads and validates stats.json.
func loadTokenizerStats(path string) (tokenizerStats, tokenizer.Normalizer, error) {
	var s tokenizerStats
	data, err := readFileLimited(path, maxStatsBytes)
	if err != nil {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats %s: %w", path, err)
	}
	if s.Format != "" && s.Format != tokenizerStatsFormat {
		return s, tokenizer.Normalizer{}, fmt.Errorf("--stats %s: format %q, want %q", path, s.Format, tokenizerStatsFormat)
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

// loadDemoEpisodes finds and reads every episode under root, in path
// order; it skips failed episodes unless failures is set and refuses more
// than maxChunks chunks in all (each episode gives one chunk per step).
func loadDemoEpisodes(root string, failures bool, h, maxChunks int) ([]demoEpisode, error) {
	if root == "" {
		return nil, errors.New("--demos is required")
	}
	dirs, err := findEpisodeDirs(root)
	if err != nil {
		return nil, err
	}
	var eps []demoEpisode
	total, skipped := 0, 0
	for _, dir := range dirs {
		meta, actions, err := readEpisodeActions(dir)
		if err != nil {
			return nil, err
		}
		if !meta.Success && !failures {
			skipped++
			continue
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		e := demoEpisode{rel: filepath.ToSlash(rel), actions: actions}
		if total += e.steps(); total > maxChunks {
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

// findEpisodeDirs returns the directories under root (root included) that
// hold actions.npy and meta.json, sorted; ".tmp" directories (episodes
// being written) are skipped.
func findEpisodeDirs(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("--demos: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--demos %s: not a directory", root)
	}
	var dirs []string
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			return nil
		}
		if p != root && strings.HasSuffix(e.Name(), ".tmp") {
			return filepath.SkipDir
		}
		if isRegular(filepath.Join(p, "actions.npy")) && isRegular(filepath.Join(p, "meta.json")) {
			dirs = append(dirs, p)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("--demos %s: %w", root, err)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("--demos %s: no episode directories (with actions.npy and meta.json) found", root)
	}
	slices.Sort(dirs)
	return dirs, nil
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// readEpisodeActions reads an episode's meta.json and actions.npy (not its
// images), bounded in size, and checks that they agree.
func readEpisodeActions(dir string) (sim.DemoMeta, []float32, error) {
	var meta sim.DemoMeta
	mp := filepath.Join(dir, "meta.json")
	mb, err := readFileLimited(mp, sim.MaxDemoMeta)
	if err != nil {
		return meta, nil, err
	}
	if err := json.Unmarshal(mb, &meta); err != nil {
		return meta, nil, fmt.Errorf("%s: %w", mp, err)
	}
	if meta.Format != sim.DemoFormat {
		return meta, nil, fmt.Errorf("%s: format %q, want %q", mp, meta.Format, sim.DemoFormat)
	}
	ap := filepath.Join(dir, "actions.npy")
	af, err := os.Open(ap)
	if err != nil {
		return meta, nil, err
	}
	defer af.Close()
	st, err := af.Stat()
	if err != nil {
		return meta, nil, err
	}
	a, err := sim.ReadNPY(bufio.NewReader(af), min(st.Size(), maxActionsBytes))
	if err != nil {
		return meta, nil, fmt.Errorf("%s: %w", ap, err)
	}
	if a.Descr != sim.DescrFloat32 || len(a.Shape) != 2 || a.Shape[1] != sim.ActionDim || a.Shape[0] < 1 {
		return meta, nil, fmt.Errorf("%s: %s %v, want %s [T, %d] with T >= 1", ap, a.Descr, a.Shape, sim.DescrFloat32, sim.ActionDim)
	}
	if a.Shape[0] != meta.Steps {
		return meta, nil, fmt.Errorf("%s: %d actions, meta.json says %d steps", ap, a.Shape[0], meta.Steps)
	}
	actions, err := a.Float32()
	if err != nil {
		return meta, nil, fmt.Errorf("%s: %w", ap, err)
	}
	for i, v := range actions {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return meta, nil, fmt.Errorf("%s: step %d dim %d is %v", ap, i/sim.ActionDim, i%sim.ActionDim, v)
		}
	}
	return meta, actions, nil
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// heldOut reports whether the episode at rel (relative to --demos,
// slash-separated) is held out: FNV-1a-64(rel) mod 1e6 < frac·1e6.
func heldOut(rel string, frac float64) bool {
	h := fnv.New64a()
	h.Write([]byte(rel))
	return float64(h.Sum64()%1_000_000) < frac*1_000_000
}

// actionQuantiles returns the 1st and 99th percentiles of every action dim
// over all the episodes' actions, interpolated linearly between order
// statistics (numpy's default method).
func actionQuantiles(eps []demoEpisode, d int) (q01, q99 []float64) {
	n := 0
	for _, e := range eps {
		n += e.steps()
	}
	q01, q99 = make([]float64, d), make([]float64, d)
	vals := make([]float64, 0, n)
	for j := range d {
		vals = vals[:0]
		for _, e := range eps {
			for i := j; i < len(e.actions); i += d {
				vals = append(vals, float64(e.actions[i]))
			}
		}
		slices.Sort(vals)
		q01[j], q99[j] = quantile(vals, 0.01), quantile(vals, 0.99)
	}
	return q01, q99
}

// quantile is the q-quantile of sorted (non-empty) values, linear between
// the order statistics at floor and ceil of q·(n−1).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// actionChunks normalises every episode and cuts it into one chunk of h
// steps per step, repeating the episode's last action past its end. The
// chunks share one backing array.
func actionChunks(eps []demoEpisode, h int, norm tokenizer.Normalizer) [][]float32 {
	d := sim.ActionDim
	total := 0
	for _, e := range eps {
		total += e.steps()
	}
	buf := make([]float32, total*h*d)
	chunks := make([][]float32, 0, total)
	var a []float64
	for _, e := range eps {
		t := e.steps()
		a = a[:0]
		for _, v := range e.actions {
			a = append(a, float64(v))
		}
		norm.Normalize(a)
		for s := range t {
			c := buf[: h*d : h*d]
			buf = buf[h*d:]
			for k := range h {
				src := min(s+k, t-1) * d
				for j := range d {
					c[k*d+j] = float32(a[src+j])
				}
			}
			chunks = append(chunks, c)
		}
	}
	return chunks
}

// printTokenizerReport prints the per-dim errors (action units, normalised
// in parentheses) and the per-level code usage of rep (labelled set) and
// of held (may be nil).
func printTokenizerReport(w io.Writer, stats tokenizerStats, set string, train, held *vq.FitReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	hdr := "DIM\tQ01\tQ99\t" + set + " RMS\t" + set + " MAX\t"
	if held != nil {
		hdr += "HELD-OUT RMS\tHELD-OUT MAX\t"
	}
	fmt.Fprintln(tw, hdr)
	cell := func(a, n float64) string { return fmt.Sprintf("%.4g (%.3g)", a, n) }
	for j := range train.Dim {
		name := fmt.Sprint(j)
		if !stats.Mask[j] {
			name += " (unmasked)"
		}
		row := fmt.Sprintf("%s\t%.4g\t%.4g\t%s\t%s\t", name, stats.Q01[j], stats.Q99[j],
			cell(train.RMSAction[j], train.RMS[j]), cell(train.MaxAction[j], train.Max[j]))
		if held != nil {
			row += cell(held.RMSAction[j], held.RMS[j]) + "\t" + cell(held.MaxAction[j], held.Max[j]) + "\t"
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "errors in action units (normalised units in parentheses); residual RMS in normalised units")
	fmt.Fprintln(w)
	hdr = "LEVEL\tUSED\tPERPLEXITY\tRESIDUAL RMS\t"
	if train.Levels[0].Iters > 0 {
		hdr += "ITERS\tRESEEDED\t"
	}
	if held != nil {
		hdr += "HELD-OUT USED\tPERPLEXITY\tRESIDUAL RMS\t"
	}
	fmt.Fprintln(tw, hdr)
	for g, l := range train.Levels {
		row := fmt.Sprintf("%d\t%d/%d\t%.1f\t%.4g\t", g, l.Used, stats.codes, l.Perplexity, l.ResidualRMS)
		if train.Levels[0].Iters > 0 {
			row += fmt.Sprintf("%d\t%d\t", l.Iters, l.Reseeded)
		}
		if held != nil {
			hl := held.Levels[g]
			row += fmt.Sprintf("%d/%d\t%.1f\t%.4g\t", hl.Used, stats.codes, hl.Perplexity, hl.ResidualRMS)
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// writeFileAtomic writes data to a temporary sibling and renames it over
// path.
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
