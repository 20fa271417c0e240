package eval

import (
	"encoding/json"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/efferent/efferent/compare"
)

// TestReportHTML: report.html holds both charts, as images the browser
// can show without the PNG files, and the text report.
func TestReportHTML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	patternReport(t, Conf{Out: dir})
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	txt, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
	if n := strings.Count(html, `src="data:image/png;base64,`); n != 2 {
		t.Fatalf("report.html has %d embedded charts, want 2", n)
	}
	first := strings.SplitN(string(txt), "\n", 2)[0]
	if !strings.Contains(html, "% success over") || !strings.Contains(html, template.HTMLEscapeString(first)) {
		t.Fatalf("report.html lacks the headline or the text report's first line %q", first)
	}
}

// TestWriteComparison: the comparison summary as a chart (bars per dim in
// the error colours, gauges), JSON with NaN as null, and an HTML page
// with the chart embedded and every number.
func TestWriteComparison(t *testing.T) {
	st, err := compare.New(compare.Conf{Dim: 7, Gripper: 6})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		x := float64(i%10) / 10
		st.Add([]float64{x, 0.5, 0, 0, 0, 0.1, 1}, []float64{x + 0.2, 0.4, 0, 0, 0, -0.1, -1 + 2*float64(i%2)})
	}
	c := Comparison{Title: "policy vs teleoperator", Episode: 3, Task: "spatial/put_the_red_block", Instruction: "put the red block in the blue bowl",
		Dims: []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}, Summary: st.Summary()}
	base := filepath.Join(t.TempDir(), "out", "comparison-ep3")
	if err := WriteComparison(base, c); err != nil {
		t.Fatal(err)
	}
	b, hist := pngColors(t, base+".png")
	if b.Dx() != 800 || b.Dy() != 460 {
		t.Fatalf("chart %v", b)
	}
	// MAE and RMSE bars, the agreement gauges' fill.
	if hist[paletteColor(0)] < 300 || hist[paletteColor(1)] < 300 || hist[paletteColor(2)] < 300 || hist[black] < 300 {
		t.Fatalf("chart colours: mae %d rmse %d gauge %d black %d", hist[paletteColor(0)], hist[paletteColor(1)], hist[paletteColor(2)], hist[black])
	}
	js, _ := os.ReadFile(base + ".json")
	var back struct {
		Summary struct {
			N                int       `json:"n"`
			MAE              []float64 `json:"mae"`
			Cosine           *float64  `json:"cosine"`
			GripperAgreement *float64  `json:"gripper_agreement"`
		} `json:"summary"`
		Dims []string `json:"dims"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	s := back.Summary
	if s.N != 50 || math.Abs(s.MAE[0]-0.2) > 1e-9 || s.GripperAgreement == nil || *s.GripperAgreement != 0.5 || len(back.Dims) != 7 {
		t.Fatalf("json %s", js)
	}
	html, _ := os.ReadFile(base + ".html")
	for _, want := range []string{"episode 3", "put the red block in the blue bowl", "data:image/png;base64,", "<td>gripper</td>", "0.2000"} {
		if !strings.Contains(string(html), want) {
			t.Fatalf("comparison html lacks %q", want)
		}
	}

	// Nothing compared: NaN cosine and agreement become null, and the chart says so.
	empty, _ := compare.New(compare.Conf{Dim: 3, Gripper: -1})
	if err := WriteComparison(base+"-empty", Comparison{Title: "x", Summary: empty.Summary()}); err != nil {
		t.Fatal(err)
	}
	js, _ = os.ReadFile(base + "-empty.json")
	if !strings.Contains(string(js), `"cosine": null`) || !strings.Contains(string(js), `"gripper_agreement": null`) {
		t.Fatalf("empty json %s", js)
	}
}
