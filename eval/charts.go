package eval

import (
	"fmt"
	"image"
	"math"
)

// Chart sizes: at least 800×400 so that the 7×13 font stays legible when a
// report is viewed at its natural size.
const (
	minChartW = 800
	minChartH = 400
)

// SuccessChart draws the success rate of every task as a bar, coloured by
// suite, with its 95 % Wilson interval as a whisker, the overall rate as a
// dashed line, and the task labels rotated under the axis. The image grows
// wider with the number of tasks (at least 20 px per bar).
func SuccessChart(r *Report) *image.RGBA {
	n := max(len(r.Tasks), 1)
	labels := make([]string, len(r.Tasks))
	labelW := 0
	for i, t := range r.Tasks {
		labels[i] = shorten(fmt.Sprintf("%s #%d %s", orDash(t.Task.Suite), t.Task.Index, taskName(t.Task)), 40)
		labelW = max(labelW, textW(labels[i]))
	}
	const left, right = 76, 30
	top := 62
	multiSuite := len(r.Suites) > 1
	if multiSuite {
		top += 20 // a row for the suite legend
	}
	slot := max(20, (minChartW-left-right)/n)
	plotW := slot * n
	bottom := 10 + labelW + 32
	plotH := max(300, minChartH-top-bottom)
	W, H := max(minChartW, left+plotW+right), top+plotH+bottom
	c := newCanvas(W, H)
	yOf := func(v float64) int { return top + plotH - int(math.Round(v*float64(plotH))) }

	c.text(left, 12, fmt.Sprintf("Success rate per task, 95%% Wilson CI (%d episodes per task)", r.EpisodesPerTask), black)
	if multiSuite {
		x := left
		for i, s := range r.Suites {
			c.fill(image.Rect(x, 35, x+12, 47), paletteColor(i))
			c.text(x+16, 35, orDash(s.Name), black)
			x += 16 + textW(orDash(s.Name)) + 18
		}
	}
	// Grid and y ticks every 10 %.
	for i := 0; i <= 10; i++ {
		y := yOf(float64(i) / 10)
		c.line(left, y, left+plotW, y, gridGray, 1)
		c.line(left-5, y, left, y, axisGray, 1)
		c.textRight(left-8, y-textH/2, fmt.Sprintf("%d%%", 10*i), labelGray)
	}
	suiteOf := map[string]int{}
	for i, s := range r.Suites {
		suiteOf[s.Name] = i
	}
	bw := min(60, max(8, slot*6/10))
	for i, t := range r.Tasks {
		cx := left + i*slot + slot/2
		if t.Episodes > 0 {
			c.fill(image.Rect(cx-bw/2, yOf(t.SuccessRate), cx-bw/2+bw, yOf(0)), paletteColor(suiteOf[t.Task.Suite]))
			hi, lo := yOf(t.CI95.Hi), yOf(t.CI95.Lo)
			c.line(cx, hi, cx, lo, black, 2)
			c.line(cx-bw/4, hi, cx+bw/4, hi, black, 2)
			c.line(cx-bw/4, lo, cx+bw/4, lo, black, 2)
			if slot >= 28 {
				c.textCenter(cx, hi-textH-3, fmt.Sprintf("%.0f", 100*t.SuccessRate), black)
			}
		} else {
			c.textCenter(cx, yOf(0)-textH-3, "-", labelGray) // nothing ran
		}
		c.line(cx, yOf(0), cx, yOf(0)+4, axisGray, 1)
		// Rotated labels end just under the axis, like matplotlib's.
		c.textUp(cx-textH/2, yOf(0)+8+labelW-textW(labels[i]), labels[i], black)
	}
	if r.Overall.Episodes > 0 {
		y := yOf(r.Overall.SuccessRate)
		c.dashedH(left, left+plotW, y, overallRd, 2, 8)
		// Labelled in the header: over the bars it would hide whiskers.
		label := fmt.Sprintf("overall %.1f%% [%.1f, %.1f]", 100*r.Overall.SuccessRate, 100*r.Overall.CI95.Lo, 100*r.Overall.CI95.Hi)
		x := left + plotW - textW(label)
		c.text(x, 12, label, overallRd)
		c.dashedH(x-34, x-6, 12+textH/2, overallRd, 2, 8)
	}
	c.line(left, top, left, yOf(0), axisGray, 1)
	c.line(left, yOf(0), left+plotW, yOf(0), axisGray, 1)
	c.textUp(10, top+plotH/2-textW("success rate")/2, "success rate", black)
	c.textCenter(left+plotW/2, H-20, "task", black)
	return c.RGBA
}

// ActionsChart plots every action dimension of one trace against the step,
// one colour per dimension, with a legend. Non-finite values break the line.
func ActionsChart(tr Trace) *image.RGBA {
	const W, H = 1000, 500
	const left, right, top, bottom = 80, 120, 44, 56
	plotW, plotH := W-left-right, H-top-bottom
	c := newCanvas(W, H)
	T, D := len(tr.Actions), 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range tr.Actions {
		D = max(D, len(row))
		for _, v := range row {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if lo > hi { // no finite value
		lo, hi = -1, 1
	}
	if lo == hi {
		pad := max(1, math.Abs(lo)*0.1)
		lo, hi = lo-pad, hi+pad
	}
	yt, ystep := niceTicks(lo, hi, 8)
	lo, hi = math.Min(lo, yt[0]), math.Max(hi, yt[len(yt)-1])
	lo, hi = math.Floor(lo/ystep)*ystep, math.Ceil(hi/ystep)*ystep
	yt, _ = niceTicks(lo, hi, 8)
	xmax := float64(max(T-1, 1))
	xOf := func(i float64) int { return left + int(math.Round(i/xmax*float64(plotW))) }
	yOf := func(v float64) int { return top + plotH - int(math.Round((v-lo)/(hi-lo)*float64(plotH))) }

	title := fmt.Sprintf("Executed actions: %s #%d %s, episode %d (%d steps)",
		orDash(tr.Task.Suite), tr.Task.Index, taskName(tr.Task), tr.Episode, T)
	c.text(left, 14, shorten(title, (W-left)/face.Advance-2), black)
	for _, v := range yt {
		y := yOf(v)
		c.line(left, y, left+plotW, y, gridGray, 1)
		c.line(left-5, y, left, y, axisGray, 1)
		c.textRight(left-8, y-textH/2, tickLabel(v, ystep), labelGray)
	}
	xt, xstep := niceTicks(0, xmax, 10)
	xstep = math.Max(1, xstep)
	for _, v := range xt {
		if v != math.Trunc(v) {
			continue // steps are whole
		}
		x := xOf(v)
		c.line(x, top, x, top+plotH, gridGray, 1)
		c.line(x, top+plotH, x, top+plotH+5, axisGray, 1)
		c.textCenter(x, top+plotH+8, tickLabel(v, xstep), labelGray)
	}
	if lo < 0 && hi > 0 {
		c.line(left, yOf(0), left+plotW, yOf(0), labelGray, 1)
	}
	for d := range D {
		col := paletteColor(d)
		px, py, have := 0, 0, false
		for i, row := range tr.Actions {
			if d >= len(row) || math.IsNaN(row[d]) || math.IsInf(row[d], 0) {
				have = false
				continue
			}
			x, y := xOf(float64(i)), yOf(row[d])
			if have {
				c.line(px, py, x, y, col, 2)
			} else {
				c.dot(x, y, col, 3) // a lone point still shows
			}
			px, py, have = x, y, true
		}
		// Legend.
		ly := top + 4 + d*18
		if ly+textH <= top+plotH {
			c.fill(image.Rect(left+plotW+14, ly+5, left+plotW+34, ly+8), col)
			c.text(left+plotW+40, ly, fmt.Sprintf("dim %d", d), black)
		}
	}
	c.line(left, top, left, top+plotH, axisGray, 1)
	c.line(left, top+plotH, left+plotW, top+plotH, axisGray, 1)
	c.textCenter(left+plotW/2, H-22, "step", black)
	c.textUp(10, top+plotH/2-textW("action value")/2, "action value", black)
	if T == 0 {
		c.textCenter(left+plotW/2, top+plotH/2, "no actions recorded", labelGray)
	}
	return c.RGBA
}
