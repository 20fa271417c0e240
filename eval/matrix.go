package eval

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/efferent/efferent/control"
)

// KnownMode says whether m names a scheduler mode: replan, ensemble, async
// or rtc. Whether the mode can run with a given policy is found out by
// running it.
func KnownMode(m control.Mode) bool { return slices.Contains(control.Modes(), m) }

// modeNames lists the scheduler modes for messages: "replan, ensemble,
// async or rtc".
func modeNames() string {
	ms := control.Modes()
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = string(m)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ResolveModes gives the modes efferent eval runs: --mode's list when the
// flag was given (ParseModes), else the configured mode (default replan),
// which must be one KnownMode knows.
func ResolveModes(flag string, given bool, configured control.Mode) ([]control.Mode, error) {
	if given {
		return ParseModes(flag)
	}
	m := cmp.Or(configured, control.ModeReplan)
	if !KnownMode(m) {
		return nil, fmt.Errorf("run.scheduler.mode %q: want %s", m, modeNames())
	}
	return []control.Mode{m}, nil
}

// ParseModes parses --mode: a comma-separated list of scheduler modes
// (KnownMode), duplicates removed, order kept. The error names the flag and
// the element.
func ParseModes(s string) ([]control.Mode, error) {
	var modes []control.Mode
	for el := range strings.SplitSeq(s, ",") {
		m := control.Mode(strings.TrimSpace(el))
		if !KnownMode(m) {
			return nil, fmt.Errorf("--mode %q: unknown mode %q: want %s (comma-separated for several)", s, m, modeNames())
		}
		if !slices.Contains(modes, m) {
			modes = append(modes, m)
		}
	}
	return modes, nil
}

// ParseLatencies parses --latency: a comma-separated list of durations
// (time.ParseDuration), a bare number meaning milliseconds, so
// "0,50,150,300ms" is 0, 50, 150 and 300 ms. Duplicates are removed, order
// kept. Negative or unparsable elements are errors naming the flag and the
// element.
func ParseLatencies(s string) ([]time.Duration, error) {
	var lats []time.Duration
	for el := range strings.SplitSeq(s, ",") {
		v := strings.TrimSpace(el)
		if v != "" && strings.ContainsRune("0123456789.", rune(v[len(v)-1])) {
			v += "ms" // a bare number
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("--latency %q: element %q: want a duration such as 150ms (a bare number is milliseconds)", s, el)
		}
		if d < 0 {
			return nil, fmt.Errorf("--latency %q: element %q: want a latency ≥ 0", s, el)
		}
		if !slices.Contains(lats, d) {
			lats = append(lats, d)
		}
	}
	return lats, nil
}

// MatrixConf configures RunMatrix: one evaluation (the embedded SuiteConf:
// suites, episodes, policy, workers, rendering) under every scheduler mode
// × modelled inference latency.
type MatrixConf struct {
	// SuiteConf is every cell's evaluation, except that each cell sets
	// Scheduler.Mode and InferLatency, and writes its report into
	// Out/CellDir(mode, latency). Out (required) receives matrix.json,
	// matrix.txt, matrix.md and matrix.png.
	SuiteConf
	// Modes and Latencies span the matrix (each at least one; known modes,
	// latencies ≥ 0; duplicates are run once). Cells run mode-major, in
	// the order given.
	Modes     []control.Mode
	Latencies []time.Duration
	// RunCell evaluates one cell. Default RunSuites.
	RunCell func(context.Context, SuiteConf) (*Report, error)
}

// Matrix is the outcome of RunMatrix (matrix.json).
type Matrix struct {
	Policy          string         `json:"policy"`
	Suites          []string       `json:"suites"`
	EpisodesPerTask int            `json:"episodes_per_task"`
	Modes           []control.Mode `json:"modes"`
	LatenciesMS     []float64      `json:"latencies_ms"`
	// Baseline is the cell every Relative divides by, "replan@0ms", or ""
	// when the matrix has no such cell.
	Baseline string `json:"baseline"`
	// Cells are mode-major: every latency of Modes[0], then of Modes[1]…
	Cells []MatrixCell `json:"cells"`
	// Complete says no cell was cut short or left out by ctx (cells may
	// still have failed: see their Error).
	Complete    bool      `json:"complete"`
	Started     time.Time `json:"started"`
	WallSeconds float64   `json:"wall_seconds"`
}

// MatrixCell is one mode × latency evaluation, summarising the report in
// its Dir.
type MatrixCell struct {
	Mode      control.Mode `json:"mode"`
	LatencyMS float64      `json:"latency_ms"`
	// Dir is the cell's report directory, relative to the matrix's.
	Dir string `json:"dir"`
	// Error is why the cell failed (RunSuites' error: a mode the policy
	// cannot run, episodes that errored, an interruption); the numbers
	// are those of whatever report it wrote.
	Error string `json:"error,omitempty"`
	// Ran says the cell produced a report; Complete that every planned
	// episode of it ran.
	Ran      bool `json:"ran"`
	Complete bool `json:"complete"`

	Episodes    int      `json:"episodes"`
	Successes   int      `json:"successes"`
	SuccessRate float64  `json:"success_rate"`
	CI95        Interval `json:"ci95"`
	// Relative is SuccessRate divided by the baseline's (Matrix.Baseline);
	// null without a baseline, or when the baseline failed or had no
	// success.
	Relative *float64 `json:"relative"`
	// Suites are the per-suite successes, in the order run.
	Suites []MatrixSuite `json:"suites"`
	// MeanSteps is the mean episode length over the episodes that ran
	// without error; MeanStepsSuccess over the successful ones (0 when
	// none).
	MeanSteps        float64 `json:"mean_steps"`
	MeanStepsSuccess float64 `json:"mean_steps_success"`
	// HeldTicks, GapHeldTicks, ExpiredChunks, DroppedChunks: the
	// report's overall counts; the per-episode values are divided by
	// Episodes. GapHeldTicks are the held ticks after the arm first
	// moved: between chunks (the first chunk's wait is not among them).
	// SlowTicks are the ticks executed from chunks played slower than the
	// policy rate (async and rtc beyond max_lag_steps): the arm moved,
	// slower, where it would otherwise start a chunk further in.
	HeldTicks              int     `json:"held_ticks"`
	HeldTicksPerEpisode    float64 `json:"held_ticks_per_episode"`
	GapHeldTicks           int     `json:"held_ticks_between_chunks"`
	GapHeldTicksPerEpisode float64 `json:"held_ticks_between_chunks_per_episode"`
	SlowTicks              int     `json:"slow_ticks"`
	SlowTicksPerEpisode    float64 `json:"slow_ticks_per_episode"`
	ExpiredChunks          int     `json:"expired_chunks"`
	DroppedChunks          int     `json:"dropped_chunks"`
	ErrorCount             int     `json:"error_count"`
	// Inference call durations (the report's inference_latency).
	InferCalls int     `json:"infer_calls"`
	InferP50MS float64 `json:"infer_p50_ms"`
	InferP99MS float64 `json:"infer_p99_ms"`
}

// MatrixSuite is one suite's successes in a cell.
type MatrixSuite struct {
	Name        string   `json:"name"`
	Episodes    int      `json:"episodes"`
	Successes   int      `json:"successes"`
	SuccessRate float64  `json:"success_rate"`
	CI95        Interval `json:"ci95"`
}

// baselineMode and baselineLatency name the cell Relative divides by.
const (
	baselineMode    = control.ModeReplan
	baselineLatency = time.Duration(0)
)

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// msLabel writes a latency in milliseconds without needless decimals.
func msLabel(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// CellDir is the directory of a cell's report, e.g. "async-150ms".
func CellDir(mode control.Mode, latency time.Duration) string {
	return string(mode) + "-" + msLabel(ms(latency)) + "ms"
}

// RunMatrix evaluates every mode × latency cell with RunCell (the same
// suites, episodes and initial states each time), each writing its own
// report into Out/CellDir, then writes matrix.json, matrix.txt, matrix.md
// and matrix.png into Out. A cell that fails is recorded with its error
// and the others still run. RunMatrix fails on an invalid conf (nil
// matrix), and otherwise returns the matrix with an error only when every
// cell failed, when ctx ended (the remaining cells are recorded as not
// run), or when a matrix file could not be written.
func RunMatrix(ctx context.Context, c MatrixConf) (*Matrix, error) {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.RunCell == nil {
		c.RunCell = RunSuites
	}
	suites, err := ParseSuites(c.Suite)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Out == "":
		return nil, errors.New("eval: MatrixConf.Out: required")
	case len(c.Modes) == 0:
		return nil, errors.New("eval: MatrixConf.Modes: want at least one mode")
	case len(c.Latencies) == 0:
		return nil, errors.New("eval: MatrixConf.Latencies: want at least one latency")
	case c.Episodes < 1:
		return nil, fmt.Errorf("--episodes %d: want at least 1", c.Episodes)
	}
	var modes []control.Mode
	for _, m := range c.Modes {
		if !KnownMode(m) {
			return nil, fmt.Errorf("eval: mode %q: want %s", m, modeNames())
		}
		if !slices.Contains(modes, m) {
			modes = append(modes, m)
		}
	}
	var lats []time.Duration
	for _, l := range c.Latencies {
		if l < 0 {
			return nil, fmt.Errorf("eval: latency %v: want ≥ 0", l)
		}
		if !slices.Contains(lats, l) {
			lats = append(lats, l)
		}
	}

	start := time.Now()
	m := &Matrix{Policy: c.Policies.Name, Suites: suites, EpisodesPerTask: c.Episodes, Modes: modes, Complete: true}
	for _, l := range lats {
		m.LatenciesMS = append(m.LatenciesMS, ms(l))
	}
	if slices.Contains(modes, baselineMode) && slices.Contains(lats, baselineLatency) {
		m.Baseline = string(baselineMode) + "@" + msLabel(ms(baselineLatency)) + "ms"
	}
	total, failed := len(modes)*len(lats), 0
	for _, mode := range modes {
		for _, lat := range lats {
			cell := MatrixCell{Mode: mode, LatencyMS: ms(lat), Dir: CellDir(mode, lat)}
			if err := ctx.Err(); err != nil {
				cell.Error = "not run: " + err.Error()
				m.Cells, m.Complete = append(m.Cells, cell), false
				failed++
				continue
			}
			sc := c.SuiteConf
			sc.Scheduler.Mode, sc.InferLatency, sc.Out = mode, lat, filepath.Join(c.Out, cell.Dir)
			if c.Progress != nil {
				fmt.Fprintf(c.Progress, "cell %d/%d: %s at %s ms\n", len(m.Cells)+1, total, mode, msLabel(cell.LatencyMS))
			}
			rep, err := c.RunCell(ctx, sc)
			cell.fill(rep)
			if err != nil {
				cell.Error = err.Error()
				failed++
				c.Log.Warn("matrix cell failed", "mode", mode, "latency", lat, "err", err)
			}
			if cell.Ran && !cell.Complete {
				m.Complete = false // ctx ended within the cell
			}
			m.Cells = append(m.Cells, cell)
		}
	}
	m.relative()
	m.Started = start.UTC().Round(0)
	m.WallSeconds = time.Since(start).Seconds()
	fileErr := m.WriteFiles(c.Out)
	switch {
	case ctx.Err() != nil:
		return m, errors.Join(ctx.Err(), fileErr)
	case failed == total:
		return m, errors.Join(fmt.Errorf("eval: every cell of the matrix failed; %s: %s", m.Cells[0].Dir, m.Cells[0].Error), fileErr)
	}
	return m, fileErr
}

// fill copies a cell's numbers from its report (nil: none).
func (c *MatrixCell) fill(r *Report) {
	if r == nil {
		return
	}
	o := r.Overall
	c.Ran, c.Complete = true, r.Complete
	c.Episodes, c.Successes, c.SuccessRate, c.CI95, c.ErrorCount = o.Episodes, o.Successes, o.SuccessRate, o.CI95, o.ErrorCount
	c.HeldTicks, c.ExpiredChunks, c.DroppedChunks = o.HeldTicks, o.ExpiredChunks, o.DroppedChunks
	c.HeldTicksPerEpisode = float64(o.HeldTicks) / float64(max(o.Episodes, 1))
	c.GapHeldTicks = o.GapHeldTicks
	c.GapHeldTicksPerEpisode = float64(o.GapHeldTicks) / float64(max(o.Episodes, 1))
	c.SlowTicks = o.SlowTicks
	c.SlowTicksPerEpisode = float64(o.SlowTicks) / float64(max(o.Episodes, 1))
	c.Suites = make([]MatrixSuite, len(r.Suites))
	for i, s := range r.Suites {
		c.Suites[i] = MatrixSuite{Name: s.Name, Episodes: s.Episodes, Successes: s.Successes, SuccessRate: s.SuccessRate, CI95: s.CI95}
	}
	var steps, n, okSteps, ok int
	for _, t := range r.Tasks {
		for _, e := range t.Outcomes {
			if e.Error != "" {
				continue
			}
			steps, n = steps+e.Steps, n+1
			if e.Success {
				okSteps, ok = okSteps+e.Steps, ok+1
			}
		}
	}
	c.MeanSteps = float64(steps) / float64(max(n, 1))
	c.MeanStepsSuccess = float64(okSteps) / float64(max(ok, 1))
	c.InferCalls, c.InferP50MS, c.InferP99MS = r.Latency.Count, r.Latency.P50MS, r.Latency.P99MS
}

// relative sets every cell's Relative from the baseline cell.
func (m *Matrix) relative() {
	i := slices.IndexFunc(m.Cells, func(c MatrixCell) bool {
		return c.Mode == baselineMode && c.LatencyMS == ms(baselineLatency)
	})
	if i < 0 {
		return
	}
	b := m.Cells[i]
	if !b.Ran || b.Error != "" || b.Episodes == 0 || b.SuccessRate == 0 {
		return
	}
	for j := range m.Cells {
		if c := &m.Cells[j]; c.Ran && c.Episodes > 0 {
			r := c.SuccessRate / b.SuccessRate
			c.Relative = &r
		}
	}
}

// WriteJSON writes m as indented JSON.
func (m *Matrix) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// WriteFiles writes matrix.json, matrix.txt, matrix.md and matrix.png into
// dir (created if missing), trying every file and reporting every failure.
func (m *Matrix) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	var errs []error
	for name, fill := range map[string]func(*bytes.Buffer) error{
		"matrix.json": func(b *bytes.Buffer) error { return m.WriteJSON(b) },
		"matrix.txt":  func(b *bytes.Buffer) error { return m.WriteText(b) },
		"matrix.md":   func(b *bytes.Buffer) error { return m.WriteMarkdown(b) },
		"matrix.png":  func(b *bytes.Buffer) error { return png.Encode(b, MatrixChart(m)) },
	} {
		var b bytes.Buffer
		if err := fill(&b); err != nil {
			errs = append(errs, fmt.Errorf("eval: %s: %w", name, err))
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("eval: %w", err))
		}
	}
	return errors.Join(errs...)
}

// matrixHeader is the columns of matrix.txt's and matrix.md's table.
var matrixHeader = []string{"mode", "latency", "success", "rate", "95% CI", "rel. to replan@0", "mean steps", "steps (ok)", "held/ep", "between/ep", "slow/ep", "expired", "dropped", "errors"}

// matrixRight says which columns are right-aligned in matrix.txt.
var matrixRight = []bool{false, true, true, true, false, true, true, true, true, true, true, true, true, true}

// rows gives the table's cells, one row per matrix cell.
func (m *Matrix) rows() [][]string {
	rows := make([][]string, len(m.Cells))
	for i, c := range m.Cells {
		rel := "-"
		if c.Relative != nil {
			rel = fmt.Sprintf("%.2f", *c.Relative)
		}
		if !c.Ran {
			rows[i] = []string{string(c.Mode), msLabel(c.LatencyMS) + " ms", "-", "-", "-", rel, "-", "-", "-", "-", "-", "-", "-", "-"}
			continue
		}
		okSteps := "-"
		if c.Successes > 0 {
			okSteps = fmt.Sprintf("%.1f", c.MeanStepsSuccess)
		}
		rows[i] = []string{string(c.Mode), msLabel(c.LatencyMS) + " ms", fmt.Sprintf("%d/%d", c.Successes, c.Episodes),
			pct(c.SuccessRate), ci(c.CI95), rel, fmt.Sprintf("%.1f", c.MeanSteps), okSteps,
			fmt.Sprintf("%.1f", c.HeldTicksPerEpisode), fmt.Sprintf("%.1f", c.GapHeldTicksPerEpisode), fmt.Sprintf("%.1f", c.SlowTicksPerEpisode), strconv.Itoa(c.ExpiredChunks), strconv.Itoa(c.DroppedChunks), strconv.Itoa(c.ErrorCount)}
	}
	return rows
}

// suiteNames are the suites of the cells' reports, in order of first
// appearance.
func (m *Matrix) suiteNames() []string {
	var names []string
	for _, c := range m.Cells {
		for _, s := range c.Suites {
			if !slices.Contains(names, s.Name) {
				names = append(names, s.Name)
			}
		}
	}
	return names
}

// suiteRows gives one row per suite and mode: the suite's successes at
// each latency. Nil with a single suite.
func (m *Matrix) suiteRows() (header []string, rows [][]string) {
	names := m.suiteNames()
	if len(names) < 2 {
		return nil, nil
	}
	header = []string{"suite", "mode"}
	for _, l := range m.LatenciesMS {
		header = append(header, msLabel(l)+" ms")
	}
	for _, s := range names {
		for _, mode := range m.Modes {
			row := []string{s, string(mode)}
			for _, l := range m.LatenciesMS {
				v := "-"
				for _, c := range m.Cells {
					if c.Mode != mode || c.LatencyMS != l {
						continue
					}
					if k := slices.IndexFunc(c.Suites, func(x MatrixSuite) bool { return x.Name == s }); k >= 0 {
						x := c.Suites[k]
						v = fmt.Sprintf("%d/%d %s", x.Successes, x.Episodes, pct(x.SuccessRate))
					}
				}
				row = append(row, v)
			}
			rows = append(rows, row)
		}
	}
	return header, rows
}

func (m *Matrix) title() string {
	return fmt.Sprintf("Latency matrix: policy %s, suites %s, episodes per task %d, %d modes x %d latencies (modelled inference latency, virtual time)",
		orDash(m.Policy), strings.Join(m.Suites, ", "), m.EpisodesPerTask, len(m.Modes), len(m.LatenciesMS))
}

func (m *Matrix) relNote() string {
	switch {
	case m.Baseline == "":
		return "rel.: no replan@0 cell in the matrix"
	case slices.ContainsFunc(m.Cells, func(c MatrixCell) bool { return c.Relative != nil }):
		return "rel.: success rate / the success rate of " + m.Baseline
	}
	return "rel.: the baseline " + m.Baseline + " failed or had no success"
}

// WriteText writes matrix.txt: a fixed-width table with one row per cell,
// grouped by mode, then each suite's successes when there are several,
// then the cells' errors.
func (m *Matrix) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nwall %s, started %s\n", m.title(),
		time.Duration(m.WallSeconds*float64(time.Second)).Round(time.Second), m.Started.Format(time.RFC3339))
	if !m.Complete {
		b.WriteString("INCOMPLETE: not every cell ran to the end\n")
	}
	b.WriteString("\n")
	rows := m.rows()
	var groups [][][]string
	for i, r := range rows {
		if i == 0 || m.Cells[i].Mode != m.Cells[i-1].Mode {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], r)
	}
	writeFixed(&b, matrixHeader, groups, matrixRight)
	b.WriteString(m.relNote() + "; held/ep: held ticks per episode, between/ep: those after the arm first moved (between chunks); " +
		"slow/ep: ticks per episode executed from chunks played slower than the policy rate (max_lag_steps); " +
		"steps: mean episode length (episodes without error; (ok): successful ones)\n")
	if h, srows := m.suiteRows(); h != nil {
		b.WriteString("\nSuccess per suite:\n")
		right := make([]bool, len(h))
		for i := 2; i < len(h); i++ {
			right[i] = true
		}
		writeFixed(&b, h, [][][]string{srows}, right)
	}
	if slices.ContainsFunc(m.Cells, func(c MatrixCell) bool { return c.Error != "" }) {
		b.WriteString("\nErrors:\n")
		for _, c := range m.Cells {
			if c.Error != "" {
				fmt.Fprintf(&b, "  %s: %s\n", c.Dir, oneLine(c.Error))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFixed writes a table with columns padded to their widest cell (two
// spaces apart), right-aligned where right says, groups separated by a
// blank line and no trailing blanks.
func writeFixed(b *strings.Builder, header []string, groups [][][]string, right []bool) {
	width := make([]int, len(header))
	measure := func(row []string) {
		for i, s := range row {
			width[i] = max(width[i], len([]rune(s)))
		}
	}
	measure(header)
	for _, g := range groups {
		for _, r := range g {
			measure(r)
		}
	}
	line := func(row []string) {
		var l strings.Builder
		for i, s := range row {
			if i > 0 {
				l.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(s)))
			if right[i] {
				l.WriteString(pad + s)
			} else {
				l.WriteString(s + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	line(header)
	for i, g := range groups {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, r := range g {
			line(r)
		}
	}
}

// WriteMarkdown writes matrix.md: the tables of matrix.txt in Markdown.
func (m *Matrix) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", m.title())
	writeMD(&b, matrixHeader, m.rows(), matrixRight)
	fmt.Fprintf(&b, "\n%s.\n", m.relNote())
	if h, rows := m.suiteRows(); h != nil {
		b.WriteString("\nSuccess per suite:\n\n")
		right := make([]bool, len(h))
		for i := 2; i < len(h); i++ {
			right[i] = true
		}
		writeMD(&b, h, rows, right)
	}
	if slices.ContainsFunc(m.Cells, func(c MatrixCell) bool { return c.Error != "" }) {
		b.WriteString("\nErrors:\n\n")
		for _, c := range m.Cells {
			if c.Error != "" {
				fmt.Fprintf(&b, "- `%s`: %s\n", c.Dir, mdEscape(oneLine(c.Error)))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMD(b *strings.Builder, header []string, rows [][]string, right []bool) {
	row := func(r []string) {
		for _, s := range r {
			b.WriteString("| " + mdEscape(s) + " ")
		}
		b.WriteString("|\n")
	}
	row(header)
	for i := range header {
		if right[i] {
			b.WriteString("|---:")
		} else {
			b.WriteString("|---")
		}
	}
	b.WriteString("|\n")
	for _, r := range rows {
		row(r)
	}
}

// mdEscape keeps a cell's text from ending the cell or starting markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "'").Replace(s)
}
