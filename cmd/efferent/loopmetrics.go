package main

import (
	"sync"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/metrics"
	"github.com/efferent/efferent/safety"
)

// loopTotals sums the control loops of a simulator run, one per episode
// (eval.EpisodeConf.OnLoop), for its /metrics: the counters go on across
// episodes as Prometheus expects of a counter.
type loopTotals struct {
	mu   sync.Mutex
	done control.Stats // the loops before cur
	cur  *control.Loop
}

// add makes l the current loop (the one before it is done).
func (t *loopTotals) add(l *control.Loop) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil {
		t.done = t.done.Plus(t.cur.Stats())
	}
	t.cur = l
}

// stats is the run's Stats so far.
func (t *loopTotals) stats() control.Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		return t.done
	}
	return t.done.Plus(t.cur.Stats())
}

// simCollector is a simulator run's series for the --serve server's
// /metrics: its loops' counters and the e-stop.
func simCollector(loops *loopTotals, estop *safety.EStop) (*metrics.Collector, error) {
	return metrics.New(metrics.Conf{Loop: loops.stats, EStop: estop.Status})
}
