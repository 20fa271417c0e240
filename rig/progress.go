package rig

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/efferent/efferent"
)

// progress draws one status line, redrawn in place, from the tick tap.
type progress struct {
	w                      io.Writer
	env                    Simulator
	maxSteps               int // the task's
	episode, every, n      int
	held, clamped, refused int
	drawn                  bool
}

func (p *progress) tick(_ *efferent.Setpoint, v efferent.Verdict) {
	switch v.Kind {
	case efferent.Held:
		p.held++
	case efferent.Clamped:
		p.clamped++
	case efferent.Refused:
		p.refused++
	}
	p.n++
	if p.n%p.every == 0 {
		p.draw()
	}
}

func (p *progress) draw() {
	if p.w == nil {
		return
	}
	fmt.Fprintf(p.w, "\repisode %d  step %d/%d  success %-5v  held %d  clamped %d  refused %d ",
		p.episode, p.env.Steps(), p.maxSteps, p.env.Success(), p.held, p.clamped, p.refused)
	p.drawn = true
}

func (p *progress) finish() {
	if p.n > 0 {
		p.draw()
	}
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// logEpisode logs an episode's end with its counts.
func logEpisode(log *slog.Logger, n, init int, res EpisodeResult, wall time.Duration, p *progress) {
	var p50 time.Duration
	if len(res.InferLatencies) > 0 {
		sorted := slices.Clone(res.InferLatencies)
		slices.Sort(sorted)
		p50 = sorted[(len(sorted)-1)/2]
	}
	log.Info("episode finished", "episode", n, "init", init, "success", res.Success, "steps", res.Steps,
		"wall", wall.Round(time.Millisecond), "inferences", len(res.InferLatencies), "infer_p50", p50,
		"held", p.held, "clamped", p.clamped, "refused", p.refused,
		"expired_chunks", res.ExpiredChunks, "dropped_chunks", res.DroppedChunks, "held_ticks", res.HeldTicks,
		"slow_ticks", res.SlowTicks)
}
