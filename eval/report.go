package eval

import (
	"encoding/json"
	"io"
	"slices"
	"time"
)

// Report is the outcome of Run. Every field is a pure function of the
// episode results except Started, WallSeconds and Workers.
type Report struct {
	Tasks   []TaskReport  `json:"tasks"`
	Suites  []GroupReport `json:"suites"` // in order of first appearance
	Overall GroupReport   `json:"overall"`
	// Latency summarises every inference call of the counted episodes.
	Latency LatencyReport `json:"inference_latency"`

	EpisodesPerTask int `json:"episodes_per_task"`
	Workers         int `json:"workers"`
	// Complete says every planned episode ran. When false (ctx ended the
	// run), NotRun episodes were never started and Interrupted ones were cut
	// short by ctx; neither is counted in any rate.
	Complete    bool      `json:"complete"`
	NotRun      int       `json:"not_run"`
	Interrupted int       `json:"interrupted"`
	Started     time.Time `json:"started"`
	WallSeconds float64   `json:"wall_seconds"`
	// Traces are the action traces Conf.TraceEpisodes kept, in
	// (episode, task) order.
	Traces []Trace `json:"traces,omitempty"`
}

// TaskReport is one task's results.
type TaskReport struct {
	Task TaskRef `json:"task"`
	// Episodes counts the episodes that ran (failed and errored included).
	Episodes    int      `json:"episodes"`
	Successes   int      `json:"successes"`
	SuccessRate float64  `json:"success_rate"`
	CI95        Interval `json:"ci95"`
	// Length is over the episodes that ran without error.
	Length Lengths `json:"length"`
	// ErrorCount episodes could not run; FirstError is the error of the
	// lowest-numbered one, and Errors lists them all by episode.
	ErrorCount int            `json:"error_count"`
	FirstError string         `json:"first_error,omitempty"`
	Errors     []EpisodeError `json:"errors,omitempty"`
	// Outcomes has one entry per episode that ran, by episode number.
	Outcomes []Outcome `json:"outcomes"`
	// ExpiredChunks, DroppedChunks and HeldTicks sum the episodes'
	// counts (rig.EpisodeResult): chunks dropped because all of their
	// actions were past when they arrived, chunks thrown away otherwise
	// (stale, invalid, discarded), and control steps that held the arm;
	// GapHeldTicks those of HeldTicks after the arm first moved (between
	// chunks, not the wait for the first); SlowTicks the control steps
	// executed from chunks played slower than the policy rate.
	ExpiredChunks int `json:"expired_chunks"`
	DroppedChunks int `json:"dropped_chunks"`
	HeldTicks     int `json:"held_ticks"`
	GapHeldTicks  int `json:"held_ticks_between_chunks"`
	SlowTicks     int `json:"slow_ticks"`
}

// Lengths summarises episode lengths in steps. Median is the midpoint
// median.
type Lengths struct {
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	Max    int     `json:"max"`
}

// EpisodeError is an episode that could not run.
type EpisodeError struct {
	Episode int    `json:"episode"`
	Error   string `json:"error"`
}

// Outcome is one episode's result, without the bulky parts.
type Outcome struct {
	Episode int    `json:"episode"`
	Success bool   `json:"success"`
	Steps   int    `json:"steps"`
	Error   string `json:"error,omitempty"`
	// The episode's counts, as in TaskReport.
	ExpiredChunks int `json:"expired_chunks"`
	DroppedChunks int `json:"dropped_chunks"`
	HeldTicks     int `json:"held_ticks"`
	GapHeldTicks  int `json:"held_ticks_between_chunks"`
	SlowTicks     int `json:"slow_ticks"`
}

// GroupReport pools the episodes of several tasks (a suite, or all).
type GroupReport struct {
	Name        string   `json:"name"`
	Tasks       int      `json:"tasks"`
	Episodes    int      `json:"episodes"`
	Successes   int      `json:"successes"`
	SuccessRate float64  `json:"success_rate"`
	CI95        Interval `json:"ci95"`
	ErrorCount  int      `json:"error_count"`
	// Sums of the tasks' counts (TaskReport).
	ExpiredChunks int `json:"expired_chunks"`
	DroppedChunks int `json:"dropped_chunks"`
	HeldTicks     int `json:"held_ticks"`
	GapHeldTicks  int `json:"held_ticks_between_chunks"`
	SlowTicks     int `json:"slow_ticks"`
}

// LatencyReport gives nearest-rank percentiles (see Percentile) of the
// inference call durations, in milliseconds.
type LatencyReport struct {
	Count  int     `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// Trace is one episode's executed actions.
type Trace struct {
	Task    TaskRef  `json:"task"`
	Episode int      `json:"episode"`
	Actions []Series `json:"actions"` // one row per step
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// result is one stored episode; ran is false for episodes never started
// or interrupted by ctx.
type result struct {
	ran bool
	EpisodeResult
}

// build computes the report from results[task][episode].
func build(tasks []TaskRef, results [][]result, conf Conf) *Report {
	r := &Report{EpisodesPerTask: conf.Episodes, Workers: conf.Workers, Tasks: make([]TaskReport, len(tasks))}
	var lat []time.Duration
	suiteIdx := map[string]int{}
	for t, task := range tasks {
		tr := &r.Tasks[t]
		tr.Task = task
		tr.Outcomes = []Outcome{}
		var lengths []int
		for e, res := range results[t] {
			if !res.ran {
				continue
			}
			tr.Episodes++
			o := Outcome{Episode: e, Steps: res.Steps, ExpiredChunks: res.ExpiredChunks, DroppedChunks: res.DroppedChunks, HeldTicks: res.HeldTicks, GapHeldTicks: res.GapHeldTicks, SlowTicks: res.SlowTicks}
			tr.ExpiredChunks += res.ExpiredChunks
			tr.DroppedChunks += res.DroppedChunks
			tr.HeldTicks += res.HeldTicks
			tr.GapHeldTicks += res.GapHeldTicks
			tr.SlowTicks += res.SlowTicks
			if res.Err != nil {
				o.Error = res.Err.Error()
				tr.ErrorCount++
				tr.Errors = append(tr.Errors, EpisodeError{Episode: e, Error: o.Error})
				if tr.FirstError == "" {
					tr.FirstError = o.Error
				}
			} else {
				o.Success = res.Success
				lengths = append(lengths, res.Steps)
			}
			if o.Success {
				tr.Successes++
			}
			tr.Outcomes = append(tr.Outcomes, o)
			lat = append(lat, res.InferLatencies...)
		}
		tr.SuccessRate = rate(tr.Successes, tr.Episodes)
		tr.CI95 = Wilson(tr.Successes, tr.Episodes)
		if len(lengths) > 0 {
			sum := 0
			for _, l := range lengths {
				sum += l
			}
			tr.Length = Lengths{Mean: float64(sum) / float64(len(lengths)), Median: median(lengths), Max: slices.Max(lengths)}
		}
		i, ok := suiteIdx[task.Suite]
		if !ok {
			i = len(r.Suites)
			suiteIdx[task.Suite] = i
			r.Suites = append(r.Suites, GroupReport{Name: task.Suite})
		}
		r.Suites[i].add(tr)
		r.Overall.add(tr)
	}
	r.Overall.Name = "overall"
	r.Latency = latency(lat)
	for e := range conf.Episodes {
		for t := range tasks {
			if res := results[t][e]; res.ran && res.Actions != nil {
				r.Traces = append(r.Traces, Trace{Task: tasks[t], Episode: e, Actions: series(res.Actions)})
			}
		}
	}
	return r
}

func (g *GroupReport) add(t *TaskReport) {
	g.Tasks++
	g.Episodes += t.Episodes
	g.Successes += t.Successes
	g.ErrorCount += t.ErrorCount
	g.ExpiredChunks += t.ExpiredChunks
	g.DroppedChunks += t.DroppedChunks
	g.HeldTicks += t.HeldTicks
	g.GapHeldTicks += t.GapHeldTicks
	g.SlowTicks += t.SlowTicks
	g.SuccessRate = rate(g.Successes, g.Episodes)
	g.CI95 = Wilson(g.Successes, g.Episodes)
}

func latency(d []time.Duration) LatencyReport {
	if len(d) == 0 {
		return LatencyReport{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	ms := func(v time.Duration) float64 { return float64(v) / float64(time.Millisecond) }
	return LatencyReport{
		Count:  len(d),
		MeanMS: ms(sum) / float64(len(d)),
		P50MS:  ms(Percentile(d, 50)),
		P99MS:  ms(Percentile(d, 99)),
		MaxMS:  ms(d[len(d)-1]),
	}
}

func series(rows [][]float64) []Series {
	s := make([]Series, len(rows))
	for i, row := range rows {
		s[i] = Series(row)
	}
	return s
}
