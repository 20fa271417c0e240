package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testTasks = []TaskRef{
	{Suite: "libero_spatial", Index: 0, Name: "pick_up_the_black_bowl", Instruction: "pick up the black bowl", MaxSteps: 220},
	{Suite: "libero_spatial", Index: 1, Name: "put_the_bowl_on_the_plate", Instruction: "put the bowl on the plate", MaxSteps: 220},
	{Suite: "libero_object", Index: 0, Name: "pick_up_the_ketchup", Instruction: "pick up the ketchup", MaxSteps: 280},
}

// pattern is the deterministic outcome of (task, episode).
func patternSuccess(task, ep int) bool { return (task*7+ep*3)%5 != 0 }
func patternError(task, ep int) bool   { return task == 1 && (ep == 2 || ep == 5) }
func patternSteps(task, ep int) int    { return 10 + 3*task + ep }
func patternLatency(task, ep, i int) time.Duration {
	return time.Duration((task+1)*(ep+1)*(i+1)) * time.Millisecond
}

func patternEpisode(_ context.Context, _ int, task TaskRef, ep int) EpisodeResult {
	t := slices.IndexFunc(testTasks, func(x TaskRef) bool { return x == task })
	if patternError(t, ep) {
		return EpisodeResult{Err: fmt.Errorf("simulator crashed in task %d episode %d", t, ep)}
	}
	res := EpisodeResult{Success: patternSuccess(t, ep), Steps: patternSteps(t, ep)}
	for i := range 3 {
		res.InferLatencies = append(res.InferLatencies, patternLatency(t, ep, i))
	}
	for s := range res.Steps {
		fs := float64(s)
		res.Actions = append(res.Actions, []float64{fs, 2 + float64(t) - 0.3*fs, -float64(ep) - 0.6*fs})
	}
	return res
}

// stable clears the fields that legitimately differ between runs.
func stable(r *Report) *Report {
	c := *r
	c.Started, c.WallSeconds, c.Workers = time.Time{}, 0, 0
	return &c
}

func TestRunCountsDoNotDependOnWorkers(t *testing.T) {
	const episodes = 12
	var reports []*Report
	for _, workers := range []int{1, 4} {
		// Calls on one worker must never overlap.
		busy := make([]atomic.Bool, workers)
		run := func(ctx context.Context, w int, task TaskRef, ep int) EpisodeResult {
			if w < 0 || w >= workers {
				t.Errorf("worker %d out of range", w)
				return EpisodeResult{}
			}
			if busy[w].Swap(true) {
				t.Errorf("worker %d used by two episodes at once", w)
			}
			defer busy[w].Store(false)
			return patternEpisode(ctx, w, task, ep)
		}
		r, err := Run(context.Background(), Conf{Workers: workers, Episodes: episodes}, testTasks, run)
		if err != nil {
			t.Fatalf("workers %d: %v", workers, err)
		}
		if r.Workers != workers {
			t.Fatalf("report says %d workers, ran %d", r.Workers, workers)
		}
		reports = append(reports, r)
	}
	var a, b bytes.Buffer
	if err := stable(reports[0]).WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	if err := stable(reports[1]).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatalf("reports differ between 1 and 4 workers:\n%s\n---\n%s", a.String(), b.String())
	}

	r := reports[0]
	var allLat []time.Duration
	totalOK, totalErr := 0, 0
	suiteOK := map[string]int{}
	for ti, tr := range r.Tasks {
		ok, errs, lens := 0, 0, []int{}
		var firstErr string
		for e := range episodes {
			for i := range 3 {
				if !patternError(ti, e) {
					allLat = append(allLat, patternLatency(ti, e, i))
				}
			}
			switch {
			case patternError(ti, e):
				errs++
				if firstErr == "" {
					firstErr = fmt.Sprintf("simulator crashed in task %d episode %d", ti, e)
				}
			case patternSuccess(ti, e):
				ok++
				lens = append(lens, patternSteps(ti, e))
			default:
				lens = append(lens, patternSteps(ti, e))
			}
		}
		if tr.Task != testTasks[ti] || tr.Episodes != episodes || tr.Successes != ok || tr.ErrorCount != errs || tr.FirstError != firstErr {
			t.Fatalf("task %d: %+v; want %d/%d, %d errors, first %q", ti, tr, ok, episodes, errs, firstErr)
		}
		if tr.SuccessRate != float64(ok)/episodes || tr.CI95 != Wilson(ok, episodes) {
			t.Fatalf("task %d: rate %v CI %+v", ti, tr.SuccessRate, tr.CI95)
		}
		if tr.Length.Max != slices.Max(lens) || tr.Length.Median != median(lens) {
			t.Fatalf("task %d: lengths %+v from %v", ti, tr.Length, lens)
		}
		if len(tr.Outcomes) != episodes {
			t.Fatalf("task %d: %d outcomes", ti, len(tr.Outcomes))
		}
		for e, o := range tr.Outcomes {
			if o.Episode != e || o.Success != (patternSuccess(ti, e) && !patternError(ti, e)) || (o.Error != "") != patternError(ti, e) {
				t.Fatalf("task %d outcome %d: %+v", ti, e, o)
			}
		}
		totalOK += ok
		totalErr += errs
		suiteOK[testTasks[ti].Suite] += ok
	}
	// Errors are listed, by episode, and count as failures.
	if errs := r.Tasks[1].Errors; len(errs) != 2 || errs[0].Episode != 2 || errs[1].Episode != 5 ||
		!strings.Contains(errs[1].Error, "episode 5") {
		t.Fatalf("task 1 errors %+v, want episodes 2 and 5", errs)
	}
	if r.Overall.Episodes != 3*episodes || r.Overall.Successes != totalOK || r.Overall.ErrorCount != totalErr ||
		r.Overall.CI95 != Wilson(totalOK, 3*episodes) || r.Overall.Tasks != 3 {
		t.Fatalf("overall %+v, want %d/%d with %d errors", r.Overall, totalOK, 3*episodes, totalErr)
	}
	if len(r.Suites) != 2 || r.Suites[0].Name != "libero_spatial" || r.Suites[0].Tasks != 2 ||
		r.Suites[0].Successes != suiteOK["libero_spatial"] || r.Suites[1].Successes != suiteOK["libero_object"] {
		t.Fatalf("suites %+v", r.Suites)
	}
	slices.Sort(allLat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	if l := r.Latency; l.Count != len(allLat) || l.P50MS != ms(Percentile(allLat, 50)) ||
		l.P99MS != ms(Percentile(allLat, 99)) || l.MaxMS != ms(allLat[len(allLat)-1]) {
		t.Fatalf("latency %+v from %d values", l, len(allLat))
	}
	if !r.Complete || r.NotRun != 0 || r.Interrupted != 0 {
		t.Fatalf("complete %v not run %d interrupted %d", r.Complete, r.NotRun, r.Interrupted)
	}
	// Default TraceEpisodes: only task 0's episode 0 keeps its actions.
	if len(r.Traces) != 1 || r.Traces[0].Task != testTasks[0] || r.Traces[0].Episode != 0 ||
		len(r.Traces[0].Actions) != patternSteps(0, 0) {
		t.Fatalf("traces %+v", r.Traces)
	}
}

func TestRunTraceSelection(t *testing.T) {
	r, err := Run(context.Background(), Conf{Workers: 2, Episodes: 3, TraceEpisodes: 4}, testTasks, patternEpisode)
	if err != nil {
		t.Fatal(err)
	}
	// Episode-major: episode 0 of each of the three tasks, then task 0's
	// episode 1.
	var got []string
	for _, tr := range r.Traces {
		got = append(got, fmt.Sprintf("%s/%d:%d", tr.Task.Suite, tr.Task.Index, tr.Episode))
	}
	want := []string{"libero_spatial/0:0", "libero_spatial/1:0", "libero_object/0:0", "libero_spatial/0:1"}
	if !slices.Equal(got, want) {
		t.Fatalf("traced %v, want %v", got, want)
	}
	r, err = Run(context.Background(), Conf{Workers: 2, Episodes: 3, TraceEpisodes: -1}, testTasks, patternEpisode)
	if err != nil || len(r.Traces) != 0 {
		t.Fatalf("TraceEpisodes -1: %d traces, %v", len(r.Traces), err)
	}
}

func TestRunCancelStopsDispatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	run := func(ctx context.Context, w int, task TaskRef, ep int) EpisodeResult {
		if calls.Add(1) == 4 {
			cancel() // this episode still completes and counts
		}
		return EpisodeResult{Success: true, Steps: 1}
	}
	r, err := Run(ctx, Conf{Workers: 1, Episodes: 10}, testTasks, run)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	// One worker: after the 4th episode no other starts.
	if n := calls.Load(); n != 4 {
		t.Fatalf("%d episodes ran after cancel at the 4th", n)
	}
	if r.Complete || r.Overall.Episodes != 4 || r.Overall.Successes != 4 || r.NotRun != 26 || r.Interrupted != 0 {
		t.Fatalf("partial report: complete %v overall %+v not run %d interrupted %d", r.Complete, r.Overall, r.NotRun, r.Interrupted)
	}
	if r.Tasks[0].Episodes != 4 || r.Tasks[1].Episodes != 0 || r.Tasks[1].CI95 != (Interval{0, 1}) {
		t.Fatalf("tasks %+v", r.Tasks)
	}
}

func TestRunCancelInterruptsRunningEpisodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started sync.WaitGroup
	started.Add(2)
	run := func(ctx context.Context, w int, task TaskRef, ep int) EpisodeResult {
		started.Done()
		<-ctx.Done()
		return EpisodeResult{Err: fmt.Errorf("episode stopped: %w", ctx.Err())}
	}
	go func() {
		started.Wait() // both workers are inside an episode
		cancel()
	}()
	r, err := Run(ctx, Conf{Workers: 2, Episodes: 5}, testTasks, run)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if r.Interrupted != 2 || r.NotRun != 13 || r.Overall.Episodes != 0 || r.Overall.ErrorCount != 0 || r.Complete {
		t.Fatalf("interrupted %d not run %d overall %+v", r.Interrupted, r.NotRun, r.Overall)
	}
}

func TestRunPanicIsAnError(t *testing.T) {
	run := func(ctx context.Context, w int, task TaskRef, ep int) EpisodeResult {
		if task.Index == 1 && ep == 0 {
			panic("index out of range")
		}
		return EpisodeResult{Success: true}
	}
	r, err := Run(context.Background(), Conf{Workers: 2, Episodes: 2}, testTasks, run)
	if err != nil {
		t.Fatal(err)
	}
	if tr := r.Tasks[1]; tr.ErrorCount != 1 || !strings.Contains(tr.FirstError, "index out of range") || tr.Successes != 1 {
		t.Fatalf("task 1 %+v", tr)
	}
}

func TestRunProgress(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Run(context.Background(), Conf{Workers: 3, Episodes: 4, Progress: &buf}, testTasks, patternEpisode); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("progress must be one redrawn line ending in a newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
	if len(lines) != 1+12+1 || lines[0] != "" { // leading \r, initial draw, one per episode
		t.Fatalf("%d redraws: %q", len(lines), out)
	}
	last := lines[len(lines)-1]
	for _, want := range []string{"[########################]", "12/12", "ok ", "ep/s", "elapsed", "eta 0:00"} {
		if !strings.Contains(last, want) {
			t.Fatalf("last progress line %q lacks %q", last, want)
		}
	}
	if !strings.Contains(lines[1], "0/12") {
		t.Fatalf("first draw %q", lines[1])
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	ok := func(context.Context, int, TaskRef, int) EpisodeResult { return EpisodeResult{} }
	for name, c := range map[string]struct {
		conf  Conf
		tasks []TaskRef
		run   EpisodeFunc
		want  string
	}{
		"workers":  {Conf{Workers: -1}, testTasks, ok, "Conf.Workers"},
		"episodes": {Conf{Episodes: -5}, testTasks, ok, "Conf.Episodes"},
		"no tasks": {Conf{}, nil, ok, "no tasks"},
		"nil func": {Conf{}, testTasks, nil, "nil EpisodeFunc"},
		"steps":    {Conf{}, []TaskRef{{Suite: "s", MaxSteps: -1}}, ok, "MaxSteps"},
	} {
		r, err := Run(context.Background(), c.conf, c.tasks, c.run)
		if err == nil || r != nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, c.want)
		}
	}
}

func BenchmarkRun(b *testing.B) {
	for b.Loop() {
		if _, err := Run(context.Background(), Conf{Workers: 2, Episodes: 25}, testTasks, patternEpisode); err != nil {
			b.Fatal(err)
		}
	}
}
