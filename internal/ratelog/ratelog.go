// Package ratelog bounds how many log lines one kind of event may write,
// so that a flood of bad requests cannot flood the log: at most N lines
// per kind in each interval, then, once the interval is over, one line
// saying how many were suppressed. What is suppressed is only the line:
// callers still count every event in their metrics.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter writes WARN lines, at most N per kind per interval. The zero
// value is not usable; use New. It is safe for concurrent use.
type Limiter struct {
	log   *slog.Logger
	n     int
	every time.Duration

	// Now is the clock (default time.Now) and AfterFunc schedules the
	// suppressed-lines summary (default time.AfterFunc); tests replace
	// them before the first Warn.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func())

	mu    sync.Mutex
	kinds map[string]*window
}

// window is one kind's current interval.
type window struct {
	start      time.Time
	written    int
	suppressed int
	msg        string // the last suppressed line's message
	scheduled  bool   // a summary is scheduled for this window's end
}

// New returns a Limiter writing to log (nil: slog.Default()) at most n
// lines (at least 1) per kind in every interval every (at least 1 ms).
func New(log *slog.Logger, n int, every time.Duration) *Limiter {
	if log == nil {
		log = slog.Default()
	}
	return &Limiter{log: log, n: max(n, 1), every: max(every, time.Millisecond), Now: time.Now,
		AfterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) }, kinds: map[string]*window{}}
}

// Warn writes msg with args at WARN level to log (nil: the Limiter's own)
// unless kind has already written N lines in this interval; then the line
// is counted, and a summary naming kind and the count is written when the
// interval ends. kind must be a fixed string of the caller's, never data
// from a client: each kind is remembered.
func (l *Limiter) Warn(log *slog.Logger, kind, msg string, args ...any) {
	if log == nil {
		log = l.log
	}
	now := l.Now()
	l.mu.Lock()
	w := l.kinds[kind]
	if w == nil {
		w = &window{start: now}
		l.kinds[kind] = w
	}
	sum := l.roll(kind, w, now)
	write := w.written < l.n
	if write {
		w.written++
	} else {
		w.suppressed++
		w.msg = msg
		if !w.scheduled {
			w.scheduled = true
			l.AfterFunc(w.start.Add(l.every).Sub(now), func() { l.flush(kind) })
		}
	}
	l.mu.Unlock()
	sum()
	if write {
		log.Warn(msg, args...)
	}
}

// roll starts a new window when w's interval is over, returning the
// summary of the old one to write (outside the lock).
func (l *Limiter) roll(kind string, w *window, now time.Time) func() {
	if now.Sub(w.start) < l.every {
		return func() {}
	}
	n, msg := w.suppressed, w.msg
	// A summary still scheduled finds the new window and reschedules
	// itself if that one suppresses lines too.
	*w = window{start: now, scheduled: w.scheduled}
	return l.summary(kind, msg, n)
}

// flush writes the summary of kind's window if its interval is over (the
// scheduled call at the window's end).
func (l *Limiter) flush(kind string) {
	l.mu.Lock()
	w := l.kinds[kind]
	w.scheduled = false
	sum := func() {}
	if l.Now().Sub(w.start) >= l.every {
		sum = l.summary(kind, w.msg, w.suppressed)
		w.suppressed, w.msg = 0, ""
	} else if w.suppressed > 0 {
		// A new window began since it was scheduled: schedule its own.
		w.scheduled = true
		l.AfterFunc(w.start.Add(l.every).Sub(l.Now()), func() { l.flush(kind) })
	}
	l.mu.Unlock()
	sum()
}

func (l *Limiter) summary(kind, msg string, n int) func() {
	if n == 0 {
		return func() {}
	}
	return func() {
		l.log.LogAttrs(context.Background(), slog.LevelWarn, "log lines suppressed", slog.String("kind", kind),
			slog.Int("suppressed", n), slog.String("like", msg), slog.Duration("interval", l.every),
			slog.Int("max_per_interval", l.n))
	}
}
