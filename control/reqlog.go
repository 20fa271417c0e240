package control

import "time"

// reqLogSize is how many requests reqLog remembers: more than can be in
// flight at once (one), plus the requests dropped while it was (ensemble
// asks every step; a chunk answers at most a few steps late before it
// expires).
const reqLogSize = 16

// reqLog remembers, for the last requests, when each was made and the
// delta dims' emitted sums (Scheduler.cum) then, so that a chunk can be
// reanchored by the motion executed since its observation even when later
// requests were made (and dropped) while it was inferred. Preallocated:
// add and at allocate nothing.
type reqLog struct {
	t    [reqLogSize]time.Time
	cum  [reqLogSize][]float64
	head int // next slot to write
	n    int
}

func newReqLog(d int) reqLog {
	var l reqLog
	for i := range l.cum {
		l.cum[i] = make([]float64, d)
	}
	return l
}

func (l *reqLog) clear() { l.head, l.n = 0, 0 }

// add records a request made at t, when the sums were cum.
func (l *reqLog) add(t time.Time, cum []float64) {
	l.t[l.head] = t
	copy(l.cum[l.head], cum)
	l.head = (l.head + 1) % reqLogSize
	l.n = min(l.n+1, reqLogSize)
}

// at returns the sums at the request that observed at obs: the earliest
// logged request made at or after obs (the loop requests on the tick it
// observes; a robot that stamps its own capture time stamps it before).
func (l *reqLog) at(obs time.Time) ([]float64, bool) {
	for i := range l.n {
		k := (l.head - l.n + i + reqLogSize) % reqLogSize
		if !l.t[k].Before(obs) {
			return l.cum[k], true
		}
	}
	return nil, false
}
