package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fake is a Limiter on a fake clock, its scheduled summaries held for
// the test to run.
type fake struct {
	*Limiter
	buf     *bytes.Buffer
	now     time.Time
	pending []func()
	delays  []time.Duration
}

func newFake(n int, every time.Duration) *fake {
	f := &fake{buf: &bytes.Buffer{}, now: time.Unix(1000, 0)}
	f.Limiter = New(slog.New(slog.NewTextHandler(f.buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})), n, every)
	f.Now = func() time.Time { return f.now }
	f.AfterFunc = func(d time.Duration, fn func()) {
		f.pending = append(f.pending, fn)
		f.delays = append(f.delays, d)
	}
	return f
}

// lines returns the lines written since the last call.
func (f *fake) lines() []string {
	s := strings.TrimSpace(f.buf.String())
	f.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// fire runs the scheduled summaries.
func (f *fake) fire() {
	p := f.pending
	f.pending, f.delays = nil, nil
	for _, fn := range p {
		fn()
	}
}

func TestLimiter(t *testing.T) {
	f := newFake(3, 10*time.Second)
	for i := range 10 {
		f.Warn(nil, "unauthorized", "unauthorized request", "i", i)
		f.now = f.now.Add(100 * time.Millisecond)
	}
	if got := f.lines(); len(got) != 3 || !strings.Contains(got[2], "i=2") {
		t.Fatalf("first interval wrote %q, want 3 lines", got)
	}
	if len(f.pending) != 1 || f.delays[0] != 10*time.Second-300*time.Millisecond {
		t.Fatalf("scheduled %d summaries after %v, want one at the window's end (9.7s)", len(f.pending), f.delays)
	}
	// Another kind has its own budget.
	f.Warn(nil, "forbidden", "forbidden host")
	if got := f.lines(); len(got) != 1 || !strings.Contains(got[0], "forbidden host") {
		t.Fatalf("other kind: %q", got)
	}
	// At the window's end the scheduled summary says how many were
	// suppressed.
	f.now = f.now.Add(10 * time.Second)
	f.fire()
	got := f.lines()
	if len(got) != 1 || !strings.Contains(got[0], "log lines suppressed") || !strings.Contains(got[0], "kind=unauthorized") ||
		!strings.Contains(got[0], "suppressed=7") || !strings.Contains(got[0], `like="unauthorized request"`) {
		t.Fatalf("summary %q, want one line: 7 unauthorized lines suppressed", got)
	}
	// A new window writes again, and nothing is summarised twice.
	f.Warn(nil, "unauthorized", "unauthorized request", "i", 10)
	if got := f.lines(); len(got) != 1 || !strings.Contains(got[0], "i=10") {
		t.Fatalf("new window: %q", got)
	}
	f.fire()
	if got := f.lines(); got != nil {
		t.Fatalf("nothing suppressed, yet %q", got)
	}
}

// A window that ends without its scheduled summary having run (a late
// timer) is summarised by the next line of its kind, before that line.
func TestLimiterRollsOnNextLine(t *testing.T) {
	f := newFake(1, time.Second)
	f.Warn(nil, "k", "a")
	f.Warn(nil, "k", "b")
	f.Warn(nil, "k", "c")
	f.now = f.now.Add(2 * time.Second)
	f.Warn(nil, "k", "d")
	got := f.lines()
	if len(got) != 3 || !strings.Contains(got[1], "suppressed=2") || !strings.Contains(got[2], "msg=d") {
		t.Fatalf("lines %q, want a, the summary of 2, d", got)
	}
	f.Warn(nil, "k", "e") // suppressed in the new window
	f.fire()              // the old timer: the new window is not over, so it reschedules
	if got := f.lines(); got != nil || len(f.pending) != 1 {
		t.Fatalf("early timer wrote %q, rescheduled %d", got, len(f.pending))
	}
	f.now = f.now.Add(time.Second)
	f.fire()
	if got := f.lines(); len(got) != 1 || !strings.Contains(got[0], "suppressed=1") {
		t.Fatalf("summary %q", got)
	}
}

// The logger passed to Warn is the one written to (its attributes kept).
func TestLimiterUsesCallersLogger(t *testing.T) {
	f := newFake(1, time.Second)
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil)).With("remote", "1.2.3.4:5")
	f.Warn(l, "k", "refused")
	if !strings.Contains(buf.String(), "remote=1.2.3.4:5") || f.buf.Len() != 0 {
		t.Fatalf("caller's logger got %q, the limiter's %q", buf.String(), f.buf.String())
	}
}
