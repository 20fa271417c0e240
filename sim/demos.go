package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	"github.com/efferent/efferent"
)

// DemoFormat is the format version recorded in every demo's meta.json.
const DemoFormat = "efferent-demo/1"

// LeggedDemoFormat is the legged simulator's (sim/legged): ego.npy,
// state.npy [T,7], actions.npy [T,7] (its command vectors) and the same
// meta.json. ReadDemoActions reads both formats' actions; ReadDemo, the
// tabletop's cameras, only DemoFormat.
const LeggedDemoFormat = "efferent-legged-demo/1"

// DemoInitBase is the init index of a task's first demonstration episode:
// episode e uses init DemoInitBase+e, so demonstrations never share an
// initial state with an evaluation (inits 0 … NumInitStates−1).
const DemoInitBase = 1000

// DefaultDemoEpisodes is DemoConf.EpisodesPerTask's default.
const DefaultDemoEpisodes = 50

// DemoConf configures WriteDemos. Zero values mean the documented defaults.
type DemoConf struct {
	// Suite is the suite whose 10 tasks are demonstrated (required).
	Suite string
	// EpisodesPerTask is how many episodes the expert runs per task
	// (default 50); failed episodes are run but not written unless
	// KeepFailures is set, so at most 10×EpisodesPerTask are written.
	EpisodesPerTask int
	// Out is the root directory (required); episodes go to
	// Out/<suite>/<task index>_<episode>/.
	Out string
	// ImageSize is the side of the square images (default 224).
	ImageSize int
	// Downsample, when > 1, stores the images box-filtered by this factor
	// (each stored pixel the rounded mean of a Downsample×Downsample block),
	// e.g. 4: 224 → 56. A model whose first operation is the same average
	// pool then trains on what it will see at run time, at 1/16 of the
	// disk space. Default 1 (full size). Must divide ImageSize.
	Downsample int
	// ActionNoise, when > 0, perturbs the executed action's position dims
	// (0..2) by uniform noise in [−ActionNoise, ActionNoise] times the
	// expert's current speed fraction (seeded by the episode) while recording the expert's clean action: the demonstrations
	// then show how to recover from the small errors a learned policy makes
	// (DART-style noise injection). Default 0: no noise.
	ActionNoise float64
	// KeepFailures writes failed episodes too (meta.json says success
	// false).
	KeepFailures bool
}

// DemoMeta is a demo's meta.json.
type DemoMeta struct {
	Format      string `json:"format"` // DemoFormat
	Suite       string `json:"suite"`
	TaskIndex   int    `json:"task_index"`
	TaskName    string `json:"task_name"`
	Instruction string `json:"instruction"`
	Episode     int    `json:"episode"`
	InitIndex   int    `json:"init_index"`
	// Seed is Task.Seed(InitIndex) (a 64-bit integer: exact in Python,
	// not in JavaScript numbers).
	Seed      uint64 `json:"seed"`
	Success   bool   `json:"success"`
	Steps     int    `json:"steps"`      // T, the number of (observation, action) pairs
	ImageSize int    `json:"image_size"` // rendered size
	// Downsample is DemoConf.Downsample (stored side = ImageSize/Downsample;
	// 0 or 1: stored at full size).
	Downsample int     `json:"downsample,omitempty"`
	StepHz     float64 `json:"step_hz"`
}

// WriteDemos runs the expert on every task of c.Suite, EpisodesPerTask
// times each, rendering both cameras with r, and writes each successful
// episode (every episode with KeepFailures) as a directory
// Out/<suite>/<task index>_<episode>/ holding agent.npy, wrist.npy,
// state.npy, actions.npy and meta.json (see the package comment). An
// episode is written to a ".tmp" sibling and renamed into place when
// complete, replacing an older one. progress, if not nil, is called after
// every episode with the number of episodes run and the total. It returns
// the number of episodes written; on cancellation it returns ctx's error
// with the count so far.
func WriteDemos(ctx context.Context, c DemoConf, r Renderer, progress func(done, total int)) (written int, err error) {
	if c.EpisodesPerTask == 0 {
		c.EpisodesPerTask = DefaultDemoEpisodes
	}
	if c.EpisodesPerTask < 0 {
		return 0, fmt.Errorf("sim: EpisodesPerTask %d is negative", c.EpisodesPerTask)
	}
	if c.Out == "" {
		return 0, errors.New("sim: DemoConf.Out (output directory) is required")
	}
	if r == nil {
		return 0, errors.New("sim: WriteDemos needs a renderer")
	}
	tasks, err := Tasks(c.Suite)
	if err != nil {
		return 0, err
	}
	env, err := New(Conf{ImageSize: c.ImageSize}, r)
	if err != nil {
		return 0, err
	}
	if c.ActionNoise < 0 || c.ActionNoise > 1 || c.ActionNoise != c.ActionNoise {
		return 0, fmt.Errorf("sim: DemoConf.ActionNoise %v: want 0..1", c.ActionNoise)
	}
	if c.Downsample == 0 {
		c.Downsample = 1
	}
	if size := env.Conf().ImageSize; c.Downsample < 1 || size%c.Downsample != 0 {
		return 0, fmt.Errorf("sim: DemoConf.Downsample %d must be ≥ 1 and divide the image size %d", c.Downsample, size)
	}
	indices := make([]int, len(tasks))
	for i, t := range tasks {
		indices[i] = t.Index
	}
	x := NewExpert()
	return DemoEpisodes(ctx, c.Out, c.Suite, indices, c.EpisodesPerTask, progress, func(i, ep int, dir string) (bool, error) {
		return writeEpisode(ctx, env, x, tasks[i], ep, dir, c.KeepFailures, c.Downsample, c.ActionNoise)
	})
}

// DemoEpisodes runs episode for each of perTask episodes of each task of
// a suite (indices: the tasks' Index, in order), into the episode's
// directory out/<suite>/<task index>_<episode>, and counts those it kept;
// progress, if not nil, is called after every episode. Both simulators'
// WriteDemos run on it. On cancellation it returns ctx's error with the
// count so far.
func DemoEpisodes(ctx context.Context, out, suite string, indices []int, perTask int, progress func(done, total int),
	episode func(i, ep int, dir string) (kept bool, err error)) (written int, err error) {
	total, done := len(indices)*perTask, 0
	for i, index := range indices {
		for ep := range perTask {
			if err := ctx.Err(); err != nil {
				return written, err
			}
			ok, err := episode(i, ep, filepath.Join(out, suite, strconv.Itoa(index)+"_"+strconv.Itoa(ep)))
			if err != nil {
				return written, err
			}
			if ok {
				written++
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return written, nil
}

// writeEpisode runs one expert episode into dir and reports whether it
// was kept.
func writeEpisode(ctx context.Context, env *Env, x *Expert, t Task, ep int, dir string, keepFailures bool, ds int, noise float64) (kept bool, err error) {
	init := DemoInitBase + ep
	if err := env.Reset(t, init); err != nil {
		return false, err
	}
	x.Reset()
	size := env.Conf().ImageSize
	stored := size / ds
	pooled := make([]byte, stored*stored*3)
	d, err := CreateEpisodeDir(dir, []Array{
		{"agent.npy", DescrUint8, []int{stored, stored, 3}}, {"wrist.npy", DescrUint8, []int{stored, stored, 3}},
		{"state.npy", DescrFloat32, []int{StateDim}}, {"actions.npy", DescrFloat32, []int{ActionDim}},
	})
	if err != nil {
		return false, err
	}
	defer func() {
		if !kept {
			d.Abort()
		}
	}()
	var obs efferent.Observation
	act := make([]float64, ActionDim)
	exec := make([]float64, ActionDim)
	r := rng{s: seedOf("demo-noise", strconv.FormatUint(t.Seed(init), 10))}
	for !env.Done() {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if err := env.Observe(&obs); err != nil {
			return false, err
		}
		x.Act(env.World(), act)
		for i, b := range [][]byte{obs.Images[AgentViewKey].Pix, obs.Images[WristViewKey].Pix} {
			if ds > 1 {
				BoxFilter(pooled, b, size, ds)
				b = pooled
			}
			if err := d.Array(i).RowBytes(b); err != nil {
				return false, err
			}
		}
		if err := d.Array(2).RowFloats(obs.State); err != nil {
			return false, err
		}
		if err := d.Array(3).RowFloats(act); err != nil {
			return false, err
		}
		copy(exec, act)
		if noise > 0 {
			// Scaled by how fast the expert moves, so the noise vanishes
			// as it converges on a target (it needs to arrive within 1 mm).
			speed := max(math.Abs(act[0]), math.Abs(act[1]), math.Abs(act[2])) / ExpertSpeed
			for i := range 3 {
				exec[i] += r.uniform(-noise, noise) * min(speed, 1)
			}
		}
		if err := env.Step(exec); err != nil {
			return false, err
		}
	}
	success := env.Success()
	if !success && !keepFailures {
		return false, nil
	}
	meta := DemoMeta{
		Format: DemoFormat, Suite: t.Suite, TaskIndex: t.Index, TaskName: t.Name, Instruction: t.Instruction,
		Episode: ep, InitIndex: init, Seed: t.Seed(init), Success: success, Steps: env.Steps(),
		ImageSize: size, Downsample: ds, StepHz: env.Conf().StepHz,
	}
	if err := d.Commit(meta); err != nil {
		return false, err
	}
	return true, nil
}
