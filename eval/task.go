package eval

import (
	"context"

	"github.com/efferent/efferent/rig"
)

// TaskRef names one task of a benchmark suite.
type TaskRef struct {
	// Suite is e.g. "libero_spatial"; tasks are grouped by it in reports.
	Suite string `json:"suite"`
	// Index is the task's index within its suite.
	Index int `json:"index"`
	// Name is a short identifier; Instruction the language prompt.
	Name        string `json:"name"`
	Instruction string `json:"instruction"`
	// MaxSteps is the episode's step budget (LIBERO: 220..520 by suite).
	MaxSteps int `json:"max_steps"`
}

// EpisodeResult is what one episode produced (rig.Episode's result).
type EpisodeResult = rig.EpisodeResult

// EpisodeFunc runs episode number episode (0-based) of task on worker
// (0..Workers-1). Calls with the same worker never overlap, so a worker can
// keep a simulator and a policy of its own. It must honour ctx; an episode
// cut short by ctx should return ctx's error, and is then left out of the
// counts (it did not fail, it did not finish).
type EpisodeFunc func(ctx context.Context, worker int, task TaskRef, episode int) EpisodeResult
