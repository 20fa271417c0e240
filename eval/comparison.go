package eval

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/efferent/efferent/compare"
)

// Comparison is what WriteComparison writes (compare.Comparison).
type Comparison = compare.Comparison

// ComparisonChart draws, per action dim, the mean absolute error and the
// RMSE as bars and the largest error as a mark, and beside them two
// gauges: the mean cosine similarity of the motion dims (−1..1) and the
// gripper agreement (0..100 %).
func ComparisonChart(c Comparison) *image.RGBA {
	s := c.Summary
	const W, H = minChartW, 460
	const left, top, bottom, gaugeW = 70, 74, 60, 210
	plotW, plotH := W-left-gaugeW-30, H-top-bottom
	cv := newCanvas(W, H)
	title := orDash(c.Title)
	if c.Episode > 0 {
		title += fmt.Sprintf(", episode %d", c.Episode)
	}
	if c.Task != "" {
		title += ": " + c.Task
	}
	cv.text(left, 12, shorten(title, (W-left)/face.Advance-2), black)
	cv.text(left, 30, fmt.Sprintf("%d pairs compared (one per controller tick)", s.N), labelGray)

	D := len(s.MAE)
	hi := 0.0
	for d := range D {
		for _, v := range []float64{s.MAE[d], s.RMSE[d], at(s.MaxAbs, d)} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				hi = math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		hi = 1
	}
	yt, ystep := niceTicks(0, hi, 6)
	hi = math.Max(hi, yt[len(yt)-1])
	yOf := func(v float64) int { return top + plotH - int(math.Round(v/hi*float64(plotH))) }
	for _, v := range yt {
		y := yOf(v)
		cv.line(left, y, left+plotW, y, gridGray, 1)
		cv.textRight(left-8, y-textH/2, tickLabel(v, ystep), labelGray)
	}
	// Legend.
	lx := left
	for i, name := range []string{"mean |error|", "RMSE"} {
		cv.fill(image.Rect(lx, 50, lx+12, 62), paletteColor(i))
		cv.text(lx+16, 50, name, black)
		lx += 16 + textW(name) + 18
	}
	cv.line(lx, 56, lx+12, 56, black, 3)
	cv.text(lx+16, 50, "largest |error|", black)

	slot := plotW / max(D, 1)
	bw := min(28, max(4, slot*3/10))
	for d := range D {
		cx := left + d*slot + slot/2
		for i, v := range []float64{s.MAE[d], s.RMSE[d]} {
			if math.IsNaN(v) {
				continue
			}
			x0 := cx - bw + i*bw
			cv.fill(image.Rect(x0, yOf(v), x0+bw-1, yOf(0)), paletteColor(i))
		}
		if m := at(s.MaxAbs, d); !math.IsNaN(m) {
			cv.line(cx-bw, yOf(m), cx+bw, yOf(m), black, 3)
		}
		cv.textCenter(cx, yOf(0)+8, c.DimName(d), black)
	}
	cv.line(left, top, left, yOf(0), axisGray, 1)
	cv.line(left, yOf(0), left+plotW, yOf(0), axisGray, 1)
	cv.textUp(10, top+plotH/2-textW("error")/2, "error", black)
	cv.textCenter(left+plotW/2, H-24, "action dim", black)

	// Gauges.
	gx := left + plotW + 40
	gauge := func(y int, label string, v, lo, hi float64, show, loLabel, hiLabel string) {
		cv.text(gx, y, label, black)
		r := image.Rect(gx, y+18, gx+gaugeW-40, y+34)
		cv.fill(r, gridGray)
		if !math.IsNaN(v) {
			x := r.Min.X + int(math.Round((v-lo)/(hi-lo)*float64(r.Dx())))
			zero := r.Min.X + int(math.Round((0-lo)/(hi-lo)*float64(r.Dx())))
			col := paletteColor(2)
			if v < 0 {
				col = overallRd
			}
			cv.fill(image.Rect(min(x, zero), r.Min.Y, max(x, zero), r.Max.Y), col)
		}
		cv.textCenter(gx+(gaugeW-40)/2, y+40, show, black)
		cv.text(r.Min.X, y+56, loLabel, labelGray)
		cv.textRight(r.Max.X, y+56, hiLabel, labelGray)
	}
	cos := "no motion compared"
	if !math.IsNaN(s.Cosine) {
		cos = fmt.Sprintf("%.3f over %d pairs", s.Cosine, s.CosineN)
	}
	gauge(top, "cosine of motion", s.Cosine, -1, 1, cos, "-1 opposite", "1 same")
	grip := "no gripper"
	if !math.IsNaN(s.GripperAgreement) {
		grip = fmt.Sprintf("%.1f %%", 100*s.GripperAgreement)
	}
	gauge(top+110, "gripper agreement", s.GripperAgreement, 0, 1, grip, "0 %", "100 %")
	if s.N == 0 {
		cv.textCenter(left+plotW/2, top+plotH/2, "nothing compared", labelGray)
	}
	return cv.RGBA
}

func at(xs []float64, i int) float64 {
	if i < len(xs) {
		return xs[i]
	}
	return math.NaN()
}

// WriteComparison writes base+".json", base+".png" and base+".html" (the
// chart and a table of every number, self-contained), creating the
// directory. It tries every file and reports every failure.
func WriteComparison(base string, c Comparison) error {
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, ComparisonChart(c)); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	s := c.Summary
	j, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	type row struct {
		Dim            string
		MAE, RMSE, Max string
	}
	rows := make([]row, len(s.MAE))
	f := func(x float64) string {
		if math.IsNaN(x) {
			return "–"
		}
		return fmt.Sprintf("%.4f", x)
	}
	for d := range rows {
		rows[d] = row{c.DimName(d), f(s.MAE[d]), f(s.RMSE[d]), f(at(s.MaxAbs, d))}
	}
	var h bytes.Buffer
	err = comparisonPage.Execute(&h, map[string]any{
		"C": c, "S": s, "Rows": rows, "Cosine": f(s.Cosine), "Gripper": f(s.GripperAgreement),
		"PNG": template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBuf.Bytes())),
	})
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	var errs []error
	for ext, data := range map[string][]byte{".json": append(j, '\n'), ".png": pngBuf.Bytes(), ".html": h.Bytes()} {
		if err := os.WriteFile(base+ext, data, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("eval: %w", err))
		}
	}
	return errors.Join(errs...)
}

var comparisonPage = template.Must(template.New("comparison").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.C.Title}}{{if .C.Episode}}, episode {{.C.Episode}}{{end}}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}td,th{padding:2px 10px;text-align:right}th:first-child,td:first-child{text-align:left}table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}</style>
</head><body>
<h1>{{.C.Title}}{{if .C.Episode}}, episode {{.C.Episode}}{{end}}</h1>
{{if .C.Task}}<p>task: {{.C.Task}}{{if .C.Instruction}} — “{{.C.Instruction}}”{{end}}</p>{{end}}
<p>{{.S.N}} pairs compared · cosine similarity of the motion dims {{.Cosine}} (over {{.S.CosineN}} pairs where both move) · gripper agreement {{.Gripper}}</p>
<img src="{{.PNG}}" alt="comparison chart" width="800">
<table><tr><th>dim</th><th>mean |error|</th><th>RMSE</th><th>largest |error|</th></tr>
{{range .Rows}}<tr><td>{{.Dim}}</td><td>{{.MAE}}</td><td>{{.RMSE}}</td><td>{{.Max}}</td></tr>
{{end}}</table>
<p>Errors are in the action's units (the simulator: LIBERO's normalised delta action, −1..1 per dim). The cosine compares the direction of motion of the two streams, tick by tick; gripper agreement is the fraction of ticks where both command the gripper the same way (open or closed).</p>
</body></html>
`))
