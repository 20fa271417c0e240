package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func patternReport(t *testing.T, conf Conf) *Report {
	t.Helper()
	if conf.Workers == 0 {
		conf.Workers = 2
	}
	if conf.Episodes == 0 {
		conf.Episodes = 8
	}
	r, err := Run(context.Background(), conf, testTasks, patternEpisode)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestJSONRoundTrip(t *testing.T) {
	r := patternReport(t, Conf{TraceEpisodes: 2})
	r.Traces[1].Actions[3][1] = math.NaN() // a policy's NaN must not break the report
	r.Traces[1].Actions[4][2] = math.Inf(1)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.Traces[1].Actions[3][1]) || !math.IsNaN(back.Traces[1].Actions[4][2]) {
		t.Fatalf("non-finite trace values came back as %v, %v; want NaN (null)", back.Traces[1].Actions[3][1], back.Traces[1].Actions[4][2])
	}
	// NaN != NaN: compare the rest with them cleared.
	r.Traces[1].Actions[3][1], back.Traces[1].Actions[3][1] = 0, 0
	r.Traces[1].Actions[4][2], back.Traces[1].Actions[4][2] = 0, 0
	if !reflect.DeepEqual(r, &back) {
		t.Fatalf("round trip changed the report:\n%+v\n%+v", r, &back)
	}

	// The field names a script would use.
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	task1 := m["tasks"].([]any)[1].(map[string]any)
	if task1["task"].(map[string]any)["name"] != "put_the_bowl_on_the_plate" || task1["error_count"].(float64) != 2 ||
		!strings.Contains(task1["first_error"].(string), "episode 2") || len(task1["errors"].([]any)) != 2 {
		t.Fatalf("task 1 JSON %v", task1)
	}
	ci := task1["ci95"].(map[string]any)
	if want := Wilson(int(task1["successes"].(float64)), 8); ci["lo"] != want.Lo || ci["hi"] != want.Hi {
		t.Fatalf("ci95 %v, want %+v", ci, want)
	}
	lat := m["inference_latency"].(map[string]any)
	for _, k := range []string{"count", "p50_ms", "p99_ms", "max_ms", "mean_ms"} {
		if _, ok := lat[k]; !ok {
			t.Fatalf("inference_latency lacks %s: %v", k, lat)
		}
	}
	for _, k := range []string{"suites", "overall", "complete", "wall_seconds", "episodes_per_task", "traces"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("report lacks %s", k)
		}
	}
}

func TestWriteText(t *testing.T) {
	r := patternReport(t, Conf{})
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	txt := buf.String()
	for _, want := range []string{
		"3 tasks x 8 episodes", "95% CI", "pick_up_the_black_bowl", "libero_object total", "overall",
		"nearest-rank", "p99", "Errors (2 episodes", "first (episode 2): simulator crashed in task 1 episode 2",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text report lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "INCOMPLETE") {
		t.Errorf("a complete run reported as incomplete")
	}
	r.Complete, r.NotRun = false, 5
	buf.Reset()
	_ = r.WriteText(&buf)
	if !strings.Contains(buf.String(), "INCOMPLETE") {
		t.Errorf("an incomplete run is not marked:\n%s", buf.String())
	}
}

// pngColors decodes a PNG and counts its pixels by colour.
func pngColors(t *testing.T, path string) (image.Rectangle, map[color.RGBA]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	hist := map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			hist[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	return b, hist
}

// ink counts the pixels that are not the white background.
func ink(hist map[color.RGBA]int) int {
	n := 0
	for c, k := range hist {
		if c != white {
			n += k
		}
	}
	return n
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	r := patternReport(t, Conf{Out: dir})
	for _, name := range []string{"report.json", "report.txt", "success.png", "actions.png"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	js, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || back.Overall != r.Overall {
		t.Fatalf("report.json: %v, overall %+v", err, back.Overall)
	}

	b, hist := pngColors(t, filepath.Join(dir, "success.png"))
	if b.Dx() < 800 || b.Dy() < 400 {
		t.Fatalf("success.png is %v, want at least 800x400", b)
	}
	// Bars in each suite's colour, and text and whiskers in black.
	if ink(hist) < 5000 || hist[paletteColor(0)] < 1000 || hist[paletteColor(1)] < 500 || hist[black] < 500 {
		t.Fatalf("success.png: %d non-background pixels, suites %d and %d, black %d",
			ink(hist), hist[paletteColor(0)], hist[paletteColor(1)], hist[black])
	}

	b, hist = pngColors(t, filepath.Join(dir, "actions.png"))
	if b.Dx() != 1000 || b.Dy() != 500 {
		t.Fatalf("actions.png is %v, want 1000x500", b)
	}
	// A line across the plot per dimension (a legend swatch is 60 pixels).
	for d := range 3 {
		if n := hist[paletteColor(d)]; n < 500 {
			t.Fatalf("actions.png: %d pixels in dim %d's colour", n, d)
		}
	}
	if hist[black] < 500 {
		t.Fatalf("actions.png: %d black (text) pixels", hist[black])
	}
}

func TestSuccessChartGrowsWithTasks(t *testing.T) {
	r := &Report{EpisodesPerTask: 1}
	for i := range 80 {
		r.Tasks = append(r.Tasks, TaskReport{Task: TaskRef{Suite: "libero_90", Index: i, Name: strings.Repeat("x", i)}})
	}
	img := SuccessChart(r)
	if b := img.Bounds(); b.Dx() < 80*20 || b.Dy() < 400 {
		t.Fatalf("80 tasks: %v", b)
	}
}

func TestNoTraceNoActionsPNG(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), Conf{Episodes: 2, Out: dir, TraceEpisodes: -1}, testTasks, patternEpisode); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "actions.png")); !os.IsNotExist(err) {
		t.Fatalf("actions.png without a trace: %v", err)
	}
}
