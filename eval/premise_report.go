package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes r, samples included, as indented JSON.
func (r *PremiseReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the per-suite table of r, then every sample the checker
// got wrong (a false premise not refused, a true premise not passed).
func (r *PremiseReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "False-premise check: %d samples (%d initial states per task, true and false premise), %d frames each, present ≥ %.2f, absent ≤ %.2f, wall %.1f s\n",
		len(r.Samples), r.EpisodesPerTask, r.Frames, r.Present, r.Absent, r.WallSeconds)
	if !r.Complete {
		b.WriteString("INCOMPLETE: interrupted; only the samples that ran are counted\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "suite\ttrue: ok\trefused\tclarify\tfalse: refused\tok\tclarify\tnamed right\tprecision\trecall\tfalse refusals\terrors")
	for _, c := range append(append([]PremiseCounts(nil), r.Suites...), r.Overall) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%d\n", c.Name, c.TrueOK, c.TrueRefused, c.TrueClarify,
			c.FalseRefused, c.FalseOK, c.FalseClarify, c.FalseNamed, pct(c.Precision), pct(c.Recall), pct(c.FalseRefusalRate), c.Errors)
	}
	tw.Flush()
	var wrong []string
	for _, s := range r.Samples {
		ok := (s.FalsePremise && s.Decision == "refuse") || (!s.FalsePremise && s.Decision == "ok")
		if ok && s.Error == "" {
			continue
		}
		what := string(s.Decision)
		switch {
		case s.Error != "":
			what = "error: " + s.Error
		case s.Decision == "refuse":
			what += ": " + strings.Join(s.Named, ", ")
		case s.Decision == "clarify":
			what += ": " + s.Question
		}
		wrong = append(wrong, fmt.Sprintf("  %s init %d: %s", s.Task, s.Init, what))
	}
	if len(wrong) > 0 {
		fmt.Fprintf(&b, "\nNot as labelled (%d):\n%s\n", len(wrong), strings.Join(wrong, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFiles writes report.json and report.txt into dir (created if
// missing).
func (r *PremiseReport) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	write := func(name string, fill func(io.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		err = fill(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("eval: %s: %w", name, err)
		}
		return nil
	}
	return errors.Join(write("report.json", r.WriteJSON), write("report.txt", r.WriteText))
}
