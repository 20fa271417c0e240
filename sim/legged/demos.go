package legged

import (
	"context"
	"errors"
	"fmt"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

// DemoFormat is the format recorded in every legged demonstration's
// meta.json (the fields of sim.DemoMeta; the arrays below).
const DemoFormat = sim.LeggedDemoFormat

// DemoConf configures WriteDemos. Zero values mean the documented
// defaults.
type DemoConf struct {
	// Suite is the suite whose 8 tasks are demonstrated (required).
	Suite string
	// EpisodesPerTask is how many episodes the expert runs per task
	// (default sim.DefaultDemoEpisodes, 50). Episode e starts from init
	// sim.DemoInitBase+e, never an evaluation's.
	EpisodesPerTask int
	// Out is the root directory (required); episodes go to
	// Out/<suite>/<task index>_<episode>/.
	Out string
	// ImageSize is the side of the egocentric images (default 224).
	ImageSize int
	// Downsample, when > 1, stores the images box-filtered by this factor
	// (sim.BoxFilter); it must divide ImageSize. Default 1.
	Downsample int
	// KeepFailures writes failed episodes too (meta.json says success
	// false).
	KeepFailures bool
}

// WriteDemos runs the expert on every task of c.Suite, EpisodesPerTask
// times each, rendering the egocentric camera with r, and writes each
// successful episode (every one with KeepFailures) as a directory
// Out/<suite>/<task index>_<episode>/ holding ego.npy (uint8 [T,S,S,3]),
// state.npy (float32 [T,StateDim]), actions.npy (float32
// [T,CommandDim]: the expert's command vector at each observation, the
// robot's actions; sim.ReadDemoActions and efferent tokenizer fit read
// them) and meta.json. progress, if not nil, is called after every episode. It
// returns the number of episodes written; on cancellation ctx's error
// with the count so far.
func WriteDemos(ctx context.Context, c DemoConf, r Renderer, progress func(done, total int)) (written int, err error) {
	if c.EpisodesPerTask == 0 {
		c.EpisodesPerTask = sim.DefaultDemoEpisodes
	}
	switch {
	case c.EpisodesPerTask < 0:
		return 0, fmt.Errorf("legged: DemoConf.EpisodesPerTask %d is negative", c.EpisodesPerTask)
	case c.Out == "":
		return 0, errors.New("legged: DemoConf.Out (output directory) is required")
	case r == nil:
		return 0, fmt.Errorf("legged: WriteDemos: %w", ErrNoRenderer)
	}
	tasks, err := Tasks(c.Suite)
	if err != nil {
		return 0, err
	}
	env, err := New(Conf{ImageSize: c.ImageSize}, r)
	if err != nil {
		return 0, err
	}
	if c.Downsample == 0 {
		c.Downsample = 1
	}
	if size := env.Conf().ImageSize; c.Downsample < 1 || size%c.Downsample != 0 {
		return 0, fmt.Errorf("legged: DemoConf.Downsample %d must be ≥ 1 and divide the image size %d", c.Downsample, size)
	}
	indices := make([]int, len(tasks))
	for i, t := range tasks {
		indices[i] = t.Index
	}
	x := NewExpert()
	return sim.DemoEpisodes(ctx, c.Out, c.Suite, indices, c.EpisodesPerTask, progress, func(i, ep int, dir string) (bool, error) {
		return writeEpisode(ctx, env, x, tasks[i], ep, dir, c.KeepFailures, c.Downsample)
	})
}

// writeEpisode runs one expert episode into dir and reports whether it
// was kept.
func writeEpisode(ctx context.Context, env *Env, x *Expert, t Task, ep int, dir string, keepFailures bool, ds int) (kept bool, err error) {
	init := sim.DemoInitBase + ep
	if err := env.Reset(t, init); err != nil {
		return false, err
	}
	size := env.Conf().ImageSize
	stored := size / ds
	pooled := make([]byte, stored*stored*3)
	d, err := sim.CreateEpisodeDir(dir, []sim.Array{
		{Name: "ego.npy", Descr: sim.DescrUint8, Tail: []int{stored, stored, 3}},
		{Name: "state.npy", Descr: sim.DescrFloat32, Tail: []int{StateDim}},
		{Name: "actions.npy", Descr: sim.DescrFloat32, Tail: []int{CommandDim}},
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
	cmd := make([]float64, CommandDim)
	for !env.Done() {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if err := env.Observe(&obs); err != nil {
			return false, err
		}
		cmd = x.Act(env, cmd)
		b := obs.Images[ImageKey].Pix
		if ds > 1 {
			sim.BoxFilter(pooled, b, size, ds)
			b = pooled
		}
		if err := d.Array(0).RowBytes(b); err != nil {
			return false, err
		}
		if err := d.Array(1).RowFloats(obs.State); err != nil {
			return false, err
		}
		if err := d.Array(2).RowFloats(cmd); err != nil {
			return false, err
		}
		if err := env.Step(cmd); err != nil {
			return false, err
		}
	}
	success := env.Success()
	if !success && !keepFailures {
		return false, nil
	}
	meta := sim.DemoMeta{
		Format: DemoFormat, Suite: t.Suite, TaskIndex: t.Index, TaskName: t.Name, Instruction: t.Instruction,
		Episode: ep, InitIndex: init, Seed: t.Seed(init), Success: success, Steps: env.Steps(),
		ImageSize: size, Downsample: ds, StepHz: env.Conf().StepHz,
	}
	if err := d.Commit(meta); err != nil {
		return false, err
	}
	return true, nil
}
