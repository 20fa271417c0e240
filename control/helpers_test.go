package control_test

import (
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/safety"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	step = 50 * time.Millisecond // 20 Hz policy
	tick = time.Millisecond      // 1 kHz controller
)

var (
	abs = safety.Absolute
	dlt = safety.Delta
	bin = safety.Binary
)

// mkChunk returns an h×d chunk with a[k][j] = f(k, j).
func mkChunk(h, d int, seq uint64, obs time.Time, f func(k, j int) float64) *efferent.Chunk {
	c := &efferent.Chunk{Actions: make([]float64, h*d), H: h, D: d, Seq: seq, ObsTime: obs, StepPeriod: step}
	for k := range h {
		for j := range d {
			c.Actions[k*d+j] = f(k, j)
		}
	}
	return c
}

func newSched(tb testing.TB, conf control.SchedulerConf) *control.Scheduler {
	tb.Helper()
	s, err := control.NewScheduler(conf)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func tickAt(s *control.Scheduler, now time.Time) efferent.Setpoint {
	var sp efferent.Setpoint
	s.Tick(now, &sp)
	return sp
}

func at(n int, period time.Duration) time.Time { return t0.Add(time.Duration(n) * period) }

func near(a, b, tol float64) bool { d := a - b; return d <= tol && d >= -tol }
