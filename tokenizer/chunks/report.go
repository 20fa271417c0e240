package chunks

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/efferent/efferent/tokenizer/vq"
)

// PrintReport prints two tables to w: per action dim, the statistics and
// the errors of train (labelled set) and of held (nil: no such columns),
// in action units with normalised units in parentheses; and per level the
// code usage (of codes per level), perplexity and residual RMS, with the
// iteration counts when train comes from a fit.
func PrintReport(w io.Writer, stats Stats, codes int, set string, train, held *vq.FitReport) error {
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
		row := fmt.Sprintf("%d\t%d/%d\t%.1f\t%.4g\t", g, l.Used, codes, l.Perplexity, l.ResidualRMS)
		if train.Levels[0].Iters > 0 {
			row += fmt.Sprintf("%d\t%d\t", l.Iters, l.Reseeded)
		}
		if held != nil {
			hl := held.Levels[g]
			row += fmt.Sprintf("%d/%d\t%.1f\t%.4g\t", hl.Used, codes, hl.Perplexity, hl.ResidualRMS)
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}
