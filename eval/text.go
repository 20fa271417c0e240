package eval

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes r as a readable table: one row per task, then suite and
// overall totals (with the expired chunks and held ticks), inference latency, and every task that had errors.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	planned := len(r.Tasks) * r.EpisodesPerTask
	fmt.Fprintf(&b, "Evaluation: %d tasks x %d episodes, %d workers, wall %s, started %s\n",
		len(r.Tasks), r.EpisodesPerTask, r.Workers,
		time.Duration(r.WallSeconds*float64(time.Second)).Round(time.Second), r.Started.Format(time.RFC3339))
	if !r.Complete {
		fmt.Fprintf(&b, "INCOMPLETE: %d of %d episodes ran; %d not started, %d interrupted (not counted)\n",
			planned-r.NotRun-r.Interrupted, planned, r.NotRun, r.Interrupted)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "suite\t#\ttask\tsuccess\trate\t95% CI\tsteps mean\tmedian\tmax\texpired\theld\terrors")
	for _, t := range r.Tasks {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d/%d\t%s\t%s\t%.1f\t%.1f\t%d\t%d\t%d\t%d\n",
			orDash(t.Task.Suite), t.Task.Index, shorten(taskName(t.Task), 48), t.Successes, t.Episodes,
			pct(t.SuccessRate), ci(t.CI95), t.Length.Mean, t.Length.Median, t.Length.Max, t.ExpiredChunks, t.HeldTicks, t.ErrorCount)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t") // a gap that keeps one alignment block
	for _, g := range append(append([]GroupReport(nil), r.Suites...), r.Overall) {
		name := orDash(g.Name)
		if g.Name != "overall" {
			name += " total"
		}
		fmt.Fprintf(tw, "%s\t\t%d tasks\t%d/%d\t%s\t%s\t\t\t\t%d\t%d\t%d\n",
			name, g.Tasks, g.Successes, g.Episodes, pct(g.SuccessRate), ci(g.CI95), g.ExpiredChunks, g.HeldTicks, g.ErrorCount)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	l := r.Latency
	fmt.Fprintf(&b, "\nInference latency over %d calls (nearest-rank): p50 %.2f ms  p99 %.2f ms  max %.2f ms  mean %.2f ms\n",
		l.Count, l.P50MS, l.P99MS, l.MaxMS, l.MeanMS)

	if r.Overall.ErrorCount > 0 {
		fmt.Fprintf(&b, "\nErrors (%d episodes could not run; counted as failures):\n", r.Overall.ErrorCount)
		for _, t := range r.Tasks {
			if t.ErrorCount == 0 {
				continue
			}
			fmt.Fprintf(&b, "  %s #%d %s: %d of %d episodes; first (episode %d): %s\n",
				orDash(t.Task.Suite), t.Task.Index, taskName(t.Task), t.ErrorCount, t.Episodes,
				t.Errors[0].Episode, oneLine(t.FirstError))
		}
	}
	// tabwriter pads cells, which leaves trailing blanks on short rows.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

func pct(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

func ci(iv Interval) string { return fmt.Sprintf("[%.1f, %.1f]", 100*iv.Lo, 100*iv.Hi) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// taskName is the name, else the instruction.
func taskName(t TaskRef) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Instruction
}

// shorten cuts s to n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// oneLine keeps an error (openpi sends whole tracebacks) on one line, and
// short: the full text is in report.json.
func oneLine(s string) string {
	return shorten(strings.Join(strings.Fields(s), " "), 200)
}
