package eval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// job is one (task, episode) pair.
type job struct{ task, episode int }

type done struct {
	job
	res EpisodeResult
}

// Run runs conf.Episodes episodes of every task on conf.Workers workers and
// reports them. Jobs are handed out task-major (all episodes of task 0
// first, as openpi's LIBERO script runs them).
//
// When ctx ends, no new episode starts; Run waits for the running ones and
// returns the partial report (Complete false) with ctx's error, after
// writing the files. An episode that returned an error while ctx was done
// is counted as interrupted, not failed. A panicking episode is recovered
// and reported as that episode's error. Other errors: an invalid conf or
// task list (nil report), or a file that could not be written (the report
// is still returned).
func Run(ctx context.Context, conf Conf, tasks []TaskRef, run EpisodeFunc) (*Report, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	if len(tasks) == 0 {
		return nil, errors.New("eval: no tasks")
	}
	if run == nil {
		return nil, errors.New("eval: nil EpisodeFunc")
	}
	for i, t := range tasks {
		if t.MaxSteps < 0 {
			return nil, fmt.Errorf("eval: tasks[%d] (%s #%d): MaxSteps = %d, want >= 0", i, t.Suite, t.Index, t.MaxSteps)
		}
	}
	start := time.Now()
	total := len(tasks) * conf.Episodes
	workers := min(conf.Workers, total)

	jobs := make(chan job)
	results := make(chan done)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					continue // handed out just as ctx ended: do not start it
				}
				results <- done{j, runEpisode(ctx, run, w, tasks[j.task], j.episode)}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for t := range tasks {
			for e := range conf.Episodes {
				if ctx.Err() != nil {
					return
				}
				select {
				case jobs <- job{t, e}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	table := make([][]result, len(tasks))
	for t := range table {
		table[t] = make([]result, conf.Episodes)
	}
	bar := newProgress(conf.Progress, total, start)
	var finished, successes, interrupted int
	for d := range results {
		res := d.res
		if res.Err != nil && ctx.Err() != nil &&
			(errors.Is(res.Err, context.Canceled) || errors.Is(res.Err, context.DeadlineExceeded)) {
			interrupted++
			continue
		}
		if d.episode*len(tasks)+d.task >= conf.TraceEpisodes {
			res.Actions = nil // not traced: let it go now
		}
		table[d.task][d.episode] = result{ran: true, EpisodeResult: res}
		finished++
		if res.Err == nil && res.Success {
			successes++
		}
		bar.update(finished, successes, time.Now())
	}
	bar.finish()

	r := build(tasks, table, conf)
	r.Started = start.UTC().Round(0)
	r.WallSeconds = time.Since(start).Seconds()
	r.Interrupted = interrupted
	r.NotRun = total - finished - interrupted
	r.Complete = finished == total
	var ctxErr, fileErr error
	if !r.Complete {
		ctxErr = ctx.Err() // only ctx leaves episodes unrun
	}
	if conf.Out != "" {
		fileErr = r.WriteFiles(conf.Out)
	}
	return r, errors.Join(ctxErr, fileErr)
}

// runEpisode calls run, turning a panic into the episode's error: one bad
// episode in an hours-long evaluation should be reported, not lose every
// result so far.
func runEpisode(ctx context.Context, run EpisodeFunc, worker int, task TaskRef, episode int) (res EpisodeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = EpisodeResult{Err: fmt.Errorf("episode panicked: %v", p)}
		}
	}()
	return run(ctx, worker, task, episode)
}
