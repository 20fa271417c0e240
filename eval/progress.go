package eval

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws one status line, redrawn in place with \r, so a long
// evaluation shows where it is without flooding a log.
type progress struct {
	w       io.Writer
	total   int
	start   time.Time
	lastLen int
}

const barWidth = 24

func newProgress(w io.Writer, total int, start time.Time) *progress {
	p := &progress{w: w, total: total, start: start}
	p.update(0, 0, start)
	return p
}

// update redraws the line for done episodes with ok successes at now.
func (p *progress) update(done, ok int, now time.Time) {
	if p.w == nil {
		return
	}
	elapsed := now.Sub(p.start)
	filled := 0
	if p.total > 0 {
		filled = done * barWidth / p.total
	}
	line := fmt.Sprintf("[%s%s] %d/%d  ok %d (%.1f%%)",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		done, p.total, ok, 100*rate(ok, done))
	if done > 0 && elapsed > 0 {
		perSec := float64(done) / elapsed.Seconds()
		eta := time.Duration(float64(p.total-done) / perSec * float64(time.Second))
		line += fmt.Sprintf("  %.2f ep/s  elapsed %s  eta %s", perSec, clock(elapsed), clock(eta))
	} else {
		line += fmt.Sprintf("  elapsed %s", clock(elapsed))
	}
	// Pad over the remains of a longer previous line.
	pad := max(0, p.lastLen-len(line))
	p.lastLen = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

// finish ends the line.
func (p *progress) finish() {
	if p.w != nil {
		fmt.Fprintln(p.w)
	}
}

// clock formats d as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
