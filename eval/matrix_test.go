package eval

import (
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

func TestParseLatencies(t *testing.T) {
	ms := time.Millisecond
	for in, want := range map[string][]time.Duration{
		"0":               {0},
		"150ms":           {150 * ms},
		"0,50,150,300ms":  {0, 50 * ms, 150 * ms, 300 * ms},
		"1s, 250 ,2.5":    {time.Second, 250 * ms, 2500 * time.Microsecond},
		"50,50ms,0.05s,0": {50 * ms, 0},
	} {
		got, err := ParseLatencies(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseLatencies(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, elem := range map[string]string{"0,abc,50": "abc", "-5": "-5", "0,-50ms": "-50ms", "0,,50": "", "": "", "1e3": "1e3", "NaN": "NaN"} {
		_, err := ParseLatencies(in)
		if err == nil || !strings.Contains(err.Error(), "--latency") || !strings.Contains(err.Error(), `element "`+elem+`"`) {
			t.Errorf("ParseLatencies(%q): %v, want an error naming --latency and %q", in, err, elem)
		}
	}
}

func TestParseModes(t *testing.T) {
	got, err := ParseModes("replan, async,replan,ensemble,rtc")
	if want := []control.Mode{control.ModeReplan, control.ModeAsync, control.ModeEnsemble, "rtc"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseModes: %v, %v; want %v", got, err, want)
	}
	for in, bad := range map[string]string{"replan,bogus": "bogus", "": "", "async,": "", "Replan": "Replan"} {
		_, err := ParseModes(in)
		if err == nil || !strings.Contains(err.Error(), "--mode") || !strings.Contains(err.Error(), `unknown mode "`+bad+`"`) {
			t.Errorf("ParseModes(%q): %v, want an error naming --mode and %q", in, err, bad)
		}
	}
}

func TestParseSuitesLists(t *testing.T) {
	for in, want := range map[string][]string{
		"spatial":                {"spatial"},
		"all":                    sim.Suites(),
		"spatial,object":         {"spatial", "object"},
		"object, spatial,object": {"object", "spatial"},
		"long,all":               {"long", "spatial", "object", "goal"},
		"quadruped":              legged.Suites(),
		"quadruped-posture":      {"quadruped-posture"},
	} {
		got, err := ParseSuites(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseSuites(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, bad := range map[string]string{"nope": "nope", "spatial,nope": `"nope"`, "spatial,": `""`, "": `""`} {
		_, err := ParseSuites(in)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), strings.Join(sim.Suites(), ", ")) {
			t.Errorf("ParseSuites(%q): %v, want an error naming %s and listing the suites", in, err, bad)
		}
	}
	// One policy drives one robot: the two simulators' suites do not mix.
	if _, err := ParseSuites("spatial,quadruped-goto"); err == nil || !strings.Contains(err.Error(), "separately") {
		t.Errorf("a tabletop and a legged suite together: %v, want refused", err)
	}
	if s, _ := ParseSuites("quadruped"); !Legged(s) {
		t.Error("Legged(quadruped) is false")
	}
	if s, _ := ParseSuites("all"); Legged(s) {
		t.Error("Legged(all) is true")
	}
}

// readReport reads a cell's report.json.
func readReport(t *testing.T, dir string) *Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// The expert through the real loop (RunSuites), 2 modes × 2 latencies on
// one suite, one episode per task: every cell in order, each equal to its
// own report, relative to replan@0, and every matrix file written.
func TestRunMatrixExpert(t *testing.T) {
	pols, err := rig.ResolvePolicy(context.Background(), "expert", rig.PolicyConf{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	modes := []control.Mode{control.ModeReplan, control.ModeAsync}
	lats := []time.Duration{0, 100 * time.Millisecond}
	m, err := RunMatrix(context.Background(), MatrixConf{
		SuiteConf: SuiteConf{Suite: sim.SuiteSpatial, Episodes: 1, Workers: 2, Out: out, Policies: pols, NoRender: true},
		Modes:     modes, Latencies: lats,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantDirs := []string{"replan-0ms", "replan-100ms", "async-0ms", "async-100ms"}
	if len(m.Cells) != len(wantDirs) || m.Baseline != "replan@0ms" || !m.Complete || m.Policy != "expert" ||
		!slices.Equal(m.Suites, []string{"spatial"}) || !slices.Equal(m.LatenciesMS, []float64{0, 100}) {
		t.Fatalf("matrix %+v", m)
	}
	base := m.Cells[0]
	if base.SuccessRate == 0 || base.Error != "" {
		t.Fatalf("replan@0: %+v; the expert should succeed", base)
	}
	for i, c := range m.Cells {
		if c.Dir != wantDirs[i] || c.Mode != modes[i/2] || c.LatencyMS != float64(lats[i%2]/time.Millisecond) {
			t.Fatalf("cell %d: %s %s %v, want %s", i, c.Dir, c.Mode, c.LatencyMS, wantDirs[i])
		}
		r := readReport(t, filepath.Join(out, c.Dir))
		o := r.Overall
		if !c.Ran || c.Episodes != 10 || c.Episodes != o.Episodes || c.Successes != o.Successes || c.SuccessRate != o.SuccessRate ||
			c.CI95 != o.CI95 || c.HeldTicks != o.HeldTicks || c.ExpiredChunks != o.ExpiredChunks ||
			c.DroppedChunks != o.DroppedChunks || c.ErrorCount != o.ErrorCount || c.Complete != r.Complete {
			t.Fatalf("%s: cell %+v, report overall %+v", c.Dir, c, o)
		}
		if c.HeldTicksPerEpisode != float64(o.HeldTicks)/float64(o.Episodes) ||
			c.InferP50MS != r.Latency.P50MS || c.InferP99MS != r.Latency.P99MS || c.InferCalls != r.Latency.Count {
			t.Fatalf("%s: cell %+v, report latency %+v", c.Dir, c, r.Latency)
		}
		if len(c.Suites) != 1 || c.Suites[0].Name != "spatial" || c.Suites[0].Successes != r.Suites[0].Successes ||
			c.Suites[0].Episodes != r.Suites[0].Episodes {
			t.Fatalf("%s: suites %+v, report %+v", c.Dir, c.Suites, r.Suites)
		}
		var steps, n, okSteps, ok int
		for _, tr := range r.Tasks {
			for _, e := range tr.Outcomes {
				if e.Error == "" {
					steps, n = steps+e.Steps, n+1
					if e.Success {
						okSteps, ok = okSteps+e.Steps, ok+1
					}
				}
			}
		}
		if n > 0 && c.MeanSteps != float64(steps)/float64(n) || ok > 0 && c.MeanStepsSuccess != float64(okSteps)/float64(ok) {
			t.Fatalf("%s: mean steps %v / %v, want %d/%d, %d/%d", c.Dir, c.MeanSteps, c.MeanStepsSuccess, steps, n, okSteps, ok)
		}
		if c.Relative == nil || *c.Relative != c.SuccessRate/base.SuccessRate {
			t.Fatalf("%s: relative %v, want %v / %v", c.Dir, c.Relative, c.SuccessRate, base.SuccessRate)
		}
		if (c.Error != "") != (c.ErrorCount > 0) {
			t.Fatalf("%s: error %q with %d errored episodes", c.Dir, c.Error, c.ErrorCount)
		}
	}
	if *base.Relative != 1 {
		t.Fatalf("baseline relative %v", *base.Relative)
	}

	// The files.
	var back Matrix
	data, err := os.ReadFile(filepath.Join(out, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil || len(back.Cells) != 4 || back.Cells[3].Dir != "async-100ms" {
		t.Fatalf("matrix.json: %v, %+v", err, back)
	}
	for _, name := range []string{"matrix.txt", "matrix.md"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"rel. to replan@0", "replan", "async", "100 ms", "held/ep", "expired", "dropped"} {
			if !strings.Contains(string(b), want) {
				t.Fatalf("%s lacks %q:\n%s", name, want, b)
			}
		}
		t.Logf("%s:\n%s", name, b)
	}
	f, err := os.Open(filepath.Join(out, "matrix.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != matrixChartW || b.Dy() != matrixChartH {
		t.Fatalf("matrix.png is %v, want %dx%d", b, matrixChartW, matrixChartH)
	}
}

// fakeCell runs the pattern episodes (Run) into the cell's directory, with
// a success rate that falls with the latency, and fails the rtc cells as a
// policy that cannot run the mode would.
func fakeCell(ctx context.Context, c SuiteConf) (*Report, error) {
	if c.Scheduler.Mode == "rtc" {
		return nil, errors.New("rtc: this policy cannot do real-time chunking")
	}
	cut := int(c.InferLatency / (10 * time.Millisecond))
	run := func(ctx context.Context, w int, task TaskRef, ep int) EpisodeResult {
		res := patternEpisode(ctx, w, task, ep)
		if ep < cut {
			res.Success, res.HeldTicks = false, 3
		}
		return res
	}
	return Run(ctx, Conf{Workers: 1, Episodes: c.Episodes, Out: c.Out}, testTasks, run)
}

func TestRunMatrixCellErrors(t *testing.T) {
	out := t.TempDir()
	m, err := RunMatrix(context.Background(), MatrixConf{
		SuiteConf: SuiteConf{Suite: "spatial,object", Episodes: 4, Out: out},
		Modes:     []control.Mode{"rtc", control.ModeReplan, control.ModeAsync},
		Latencies: []time.Duration{20 * time.Millisecond, 0},
		RunCell:   fakeCell,
	})
	if err != nil {
		t.Fatalf("one failed mode must not fail the matrix: %v", err)
	}
	var dirs []string
	for _, c := range m.Cells {
		dirs = append(dirs, c.Dir)
	}
	if want := []string{"rtc-20ms", "rtc-0ms", "replan-20ms", "replan-0ms", "async-20ms", "async-0ms"}; !slices.Equal(dirs, want) {
		t.Fatalf("cells %v, want %v", dirs, want)
	}
	for _, c := range m.Cells[:2] {
		if c.Ran || !strings.Contains(c.Error, "real-time chunking") || c.Relative != nil {
			t.Fatalf("rtc cell %+v", c)
		}
	}
	base := m.Cells[3]
	for _, c := range m.Cells[2:] {
		if !c.Ran || c.Relative == nil || *c.Relative != c.SuccessRate/base.SuccessRate {
			t.Fatalf("cell %+v (baseline rate %v)", c, base.SuccessRate)
		}
		// The pattern's simulated errors are episode errors: Run's report
		// has them, and only RunSuites turns them into a cell error.
		if c.ErrorCount == 0 || len(c.Suites) != 2 {
			t.Fatalf("cell %+v", c)
		}
	}
	if m.Cells[2].SuccessRate >= base.SuccessRate || m.Cells[2].HeldTicksPerEpisode == 0 {
		t.Fatalf("20 ms %+v vs 0 ms %+v", m.Cells[2], base)
	}
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	txt := b.String()
	for _, want := range []string{"Success per suite:", "libero_spatial", "libero_object", "Errors:", "rtc-0ms: rtc: this policy cannot"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("matrix.txt lacks %q:\n%s", want, txt)
		}
	}
	t.Logf("matrix.txt:\n%s", txt)
	if _, err := os.Stat(filepath.Join(out, "matrix.png")); err != nil {
		t.Fatal(err)
	}

	// No replan@0: no baseline, relative null in matrix.json.
	m, err = RunMatrix(context.Background(), MatrixConf{
		SuiteConf: SuiteConf{Suite: "spatial", Episodes: 2, Out: t.TempDir()},
		Modes:     []control.Mode{control.ModeAsync}, Latencies: []time.Duration{0, 50 * time.Millisecond}, RunCell: fakeCell,
	})
	if err != nil || m.Baseline != "" || m.Cells[0].Relative != nil {
		t.Fatalf("no baseline: %v, %+v", err, m)
	}
	var js strings.Builder
	if err := m.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"relative": null`) {
		t.Fatalf("matrix.json without a baseline: %v\n%s", err, js.String())
	}

	// Every cell failed: an error, and the matrix files still written.
	out = t.TempDir()
	m, err = RunMatrix(context.Background(), MatrixConf{
		SuiteConf: SuiteConf{Suite: "spatial", Episodes: 1, Out: out},
		Modes:     []control.Mode{"rtc"}, Latencies: []time.Duration{0, 50 * time.Millisecond}, RunCell: fakeCell,
	})
	if err == nil || !strings.Contains(err.Error(), "every cell") || len(m.Cells) != 2 {
		t.Fatalf("all cells failed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "matrix.json")); err != nil {
		t.Fatal(err)
	}

	// ctx ended: the cells left are recorded as not run.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m, err = RunMatrix(ctx, MatrixConf{
		SuiteConf: SuiteConf{Suite: "spatial", Episodes: 1, Out: t.TempDir()},
		Modes:     []control.Mode{control.ModeReplan}, Latencies: []time.Duration{0}, RunCell: fakeCell,
	})
	if !errors.Is(err, context.Canceled) || m.Complete || !strings.HasPrefix(m.Cells[0].Error, "not run") {
		t.Fatalf("cancelled: %v, %+v", err, m)
	}
}

func TestRunMatrixRefusesBadConf(t *testing.T) {
	ok := SuiteConf{Suite: "spatial", Episodes: 1, Out: t.TempDir()}
	for name, c := range map[string]struct {
		conf MatrixConf
		want string
	}{
		"suite":    {MatrixConf{SuiteConf: SuiteConf{Suite: "nope", Episodes: 1, Out: ok.Out}, Modes: []control.Mode{"replan"}, Latencies: []time.Duration{0}}, `"nope"`},
		"out":      {MatrixConf{SuiteConf: SuiteConf{Suite: "spatial", Episodes: 1}, Modes: []control.Mode{"replan"}, Latencies: []time.Duration{0}}, "Out"},
		"modes":    {MatrixConf{SuiteConf: ok, Latencies: []time.Duration{0}}, "Modes"},
		"mode":     {MatrixConf{SuiteConf: ok, Modes: []control.Mode{"fast"}, Latencies: []time.Duration{0}}, `"fast"`},
		"lats":     {MatrixConf{SuiteConf: ok, Modes: []control.Mode{"replan"}}, "Latencies"},
		"negative": {MatrixConf{SuiteConf: ok, Modes: []control.Mode{"replan"}, Latencies: []time.Duration{-time.Millisecond}}, "-1ms"},
		"episodes": {MatrixConf{SuiteConf: SuiteConf{Suite: "spatial", Out: ok.Out}, Modes: []control.Mode{"replan"}, Latencies: []time.Duration{0}}, "--episodes"},
	} {
		c.conf.RunCell = fakeCell
		m, err := RunMatrix(context.Background(), c.conf)
		if err == nil || m != nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, c.want)
		}
	}
}
