package eval

import (
	"cmp"
	"fmt"
	"image"
	"math"
	"slices"
	"strings"
)

// matrixChart's size and layout: two panels of the same x axis.
const (
	matrixChartW = 900
	matrixChartH = 740
	mxLeft       = 80
	mxRight      = 30
	mxPanelH     = 260
	mxTop1       = 84
	mxTop2       = mxTop1 + mxPanelH + 80
	mxPad        = 16 // inside the axes, so that end points clear them
)

// MatrixChart draws matrix.png: the success rate (with its 95 % Wilson
// interval) against the modelled inference latency, one line and colour
// per mode, and below it the held ticks between chunks per episode against
// the latency.
// A cell that failed is drawn as a cross, one that did not run not at all.
func MatrixChart(m *Matrix) *image.RGBA {
	c := newCanvas(matrixChartW, matrixChartH)
	plotW := matrixChartW - mxLeft - mxRight
	title := fmt.Sprintf("Latency matrix: policy %s, %s, episodes per task %d", orDash(m.Policy), joinOr(m.Suites, "-"), m.EpisodesPerTask)
	c.text(mxLeft, 12, shorten(title, (matrixChartW-mxLeft)/face.Advance-2), black)
	// Legend.
	x := mxLeft
	for i, mode := range m.Modes {
		col := paletteColor(i)
		c.line(x, 42, x+22, 42, col, 2)
		c.dot(x+11, 42, col, 7)
		c.text(x+28, 36, string(mode), black)
		x += 28 + textW(string(mode)) + 22
	}

	xhi := 0.0
	for _, l := range m.LatenciesMS {
		xhi = max(xhi, l)
	}
	xt, xstep := niceTicks(0, xhi, 8)
	xhi = xt[len(xt)-1]
	xOf := func(v float64) int {
		return mxLeft + mxPad + int(math.Round(v/xhi*float64(plotW-2*mxPad)))
	}

	heldHi := 0.0
	for _, cell := range m.Cells {
		if cell.Ran {
			heldHi = max(heldHi, cell.GapHeldTicksPerEpisode)
		}
	}
	ht, hstep := niceTicks(0, heldHi, 5)
	heldHi = ht[len(ht)-1]

	panel := func(top int, caption string, ticks []float64, hi float64, label func(float64) string) func(float64) int {
		yOf := func(v float64) int {
			return top + mxPanelH - mxPad - int(math.Round(v/hi*float64(mxPanelH-2*mxPad)))
		}
		c.text(mxLeft, top-textH-6, caption, black)
		for _, v := range ticks {
			y := yOf(v)
			c.line(mxLeft, y, mxLeft+plotW, y, gridGray, 1)
			c.line(mxLeft-5, y, mxLeft, y, axisGray, 1)
			c.textRight(mxLeft-8, y-textH/2, label(v), labelGray)
		}
		for _, v := range xt {
			x := xOf(v)
			c.line(x, top, x, top+mxPanelH, gridGray, 1)
			c.line(x, top+mxPanelH, x, top+mxPanelH+5, axisGray, 1)
			c.textCenter(x, top+mxPanelH+8, tickLabel(v, xstep), labelGray)
		}
		c.line(mxLeft, top, mxLeft, top+mxPanelH, axisGray, 1)
		c.line(mxLeft, top+mxPanelH, mxLeft+plotW, top+mxPanelH, axisGray, 1)
		c.textCenter(mxLeft+plotW/2, top+mxPanelH+26, "modelled inference latency (ms)", black)
		return yOf
	}
	successY := panel(mxTop1, "Success rate (95% Wilson CI)", []float64{0, .2, .4, .6, .8, 1}, 1,
		func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) })
	c.textUp(10, mxTop1+mxPanelH/2-textW("success rate")/2, "success rate", black)
	heldY := panel(mxTop2, "Held ticks between chunks per episode (steps without an action after the arm first moved)", ht, heldHi,
		func(v float64) string { return tickLabel(v, hstep) })
	c.textUp(10, mxTop2+mxPanelH/2-textW("between / episode")/2, "between / episode", black)

	for i, mode := range m.Modes {
		col := paletteColor(i)
		var cells []MatrixCell
		for _, cell := range m.Cells {
			if cell.Mode == mode && cell.Ran && cell.Episodes > 0 {
				cells = append(cells, cell)
			}
		}
		slices.SortStableFunc(cells, func(a, b MatrixCell) int { return cmp.Compare(a.LatencyMS, b.LatencyMS) })
		// Whiskers side by side, so that modes at the same point stay apart.
		off := (2*i - (len(m.Modes) - 1)) * 2
		for k, cell := range cells {
			x := xOf(cell.LatencyMS)
			if k > 0 {
				prev := cells[k-1]
				px := xOf(prev.LatencyMS)
				c.line(px, successY(prev.SuccessRate), x, successY(cell.SuccessRate), col, 2)
				c.line(px, heldY(prev.GapHeldTicksPerEpisode), x, heldY(cell.GapHeldTicksPerEpisode), col, 2)
			}
			lo, hi := successY(cell.CI95.Lo), successY(cell.CI95.Hi)
			c.line(x+off, lo, x+off, hi, col, 1)
			c.line(x+off-3, lo, x+off+3, lo, col, 1)
			c.line(x+off-3, hi, x+off+3, hi, col, 1)
		}
		for _, cell := range cells {
			x := xOf(cell.LatencyMS)
			for _, y := range []int{successY(cell.SuccessRate), heldY(cell.GapHeldTicksPerEpisode)} {
				if cell.Error != "" {
					c.line(x-4, y-4, x+4, y+4, col, 2)
					c.line(x-4, y+4, x+4, y-4, col, 2)
				} else {
					c.dot(x, y, col, 7)
				}
			}
		}
	}
	if slices.ContainsFunc(m.Cells, func(c MatrixCell) bool { return c.Error != "" }) {
		c.textRight(mxLeft+plotW, 36, "x: cell with errors (matrix.txt)", labelGray)
	}
	return c.RGBA
}

// joinOr joins s with ", ", or gives empty when s is.
func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	return strings.Join(s, ", ")
}
