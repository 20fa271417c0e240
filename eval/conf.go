package eval

import (
	"fmt"
	"io"
	"runtime"
)

// Conf configures Run. Zero values mean the documented default.
type Conf struct {
	// Workers is how many episodes run at once, each worker with its own
	// index. Default min(runtime.NumCPU(), 4): each worker usually owns a
	// simulator, which is CPU-bound.
	Workers int
	// Episodes is the number of episodes per task. Default 10 (openpi's
	// LIBERO protocol uses 50; 10 is a quicker smoke evaluation).
	Episodes int
	// Out is the directory that receives report.json, report.txt,
	// success.png and actions.png (created if missing). Default "": no
	// files.
	Out string
	// Progress receives a progress bar, one line redrawn with \r. Default
	// nil: none.
	Progress io.Writer
	// TraceEpisodes is how many episodes keep their action trace for
	// plotting: episode 0 of the first tasks, then episode 1, and so on
	// (episode-major, so several traces cover several tasks). Default 1;
	// negative keeps none.
	TraceEpisodes int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Conf) WithDefaults() Conf {
	if c.Workers == 0 {
		c.Workers = min(runtime.NumCPU(), 4)
	}
	if c.Episodes == 0 {
		c.Episodes = 10
	}
	if c.TraceEpisodes == 0 {
		c.TraceEpisodes = 1
	}
	return c
}

// maxEpisodes bounds Conf.Episodes so that job indices and result tables
// stay small; LIBERO's protocol uses 50.
const maxEpisodes = 1_000_000

// Validate checks c after WithDefaults; an error names the field.
func (c Conf) Validate() error {
	if c.Workers < 1 || c.Workers > 1024 {
		return fmt.Errorf("eval: Conf.Workers = %d, want 1..1024", c.Workers)
	}
	if c.Episodes < 1 || c.Episodes > maxEpisodes {
		return fmt.Errorf("eval: Conf.Episodes = %d, want 1..%d", c.Episodes, maxEpisodes)
	}
	return nil
}
