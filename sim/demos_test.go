package sim

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/efferent/efferent"
)

func TestWriteReadDemos(t *testing.T) {
	dir := t.TempDir()
	var calls [][2]int
	n, err := WriteDemos(context.Background(), DemoConf{Suite: SuiteLong, EpisodesPerTask: 2, Out: dir, ImageSize: 16}, fakeRenderer{},
		func(done, total int) { calls = append(calls, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 || len(calls) != 20 || calls[19] != [2]int{20, 20} {
		t.Fatalf("written %d, progress %v", n, calls)
	}
	tasks, _ := Tasks(SuiteLong)
	for _, ti := range []int{0, 9} {
		d, err := ReadDemo(filepath.Join(dir, "long", strconv.Itoa(ti)+"_1"))
		if err != nil {
			t.Fatal(err)
		}
		m := d.Meta
		tk := tasks[ti]
		if m.Format != DemoFormat || m.Suite != "long" || m.TaskIndex != ti || m.TaskName != tk.Name || m.Instruction != tk.Instruction ||
			m.Episode != 1 || m.InitIndex != DemoInitBase+1 || m.Seed != tk.Seed(DemoInitBase+1) || !m.Success || m.ImageSize != 16 || m.StepHz != 20 {
			t.Fatalf("meta %+v", m)
		}
		if d.T != m.Steps || d.H != 16 || d.W != 16 || len(d.Agent) != d.T*16*16*3 || len(d.Wrist) != len(d.Agent) ||
			len(d.State) != d.T*StateDim || len(d.Actions) != d.T*ActionDim {
			t.Fatalf("demo T=%d H=%d W=%d, %d agent bytes", d.T, d.H, d.W, len(d.Agent))
		}
		// Re-running the expert reproduces the recorded states, images and
		// actions exactly (as float32).
		e := newEnv(t, Conf{ImageSize: 16})
		e.Reset(tk, m.InitIndex)
		x := NewExpert()
		var obs efferent.Observation
		a := make([]float64, ActionDim)
		for s := range d.T {
			e.Observe(&obs)
			x.Act(e.World(), a)
			for k := range StateDim {
				if float32(obs.State[k]) != d.State[s*StateDim+k] {
					t.Fatalf("task %d step %d: state %v, recorded %v", ti, s, obs.State, d.State[s*StateDim:(s+1)*StateDim])
				}
			}
			for k := range ActionDim {
				if float32(a[k]) != d.Actions[s*ActionDim+k] {
					t.Fatalf("task %d step %d: action %v, recorded %v", ti, s, a, d.Actions[s*ActionDim:(s+1)*ActionDim])
				}
			}
			if string(d.Agent[s*16*16*3:(s+1)*16*16*3]) != string(obs.Images[AgentViewKey].Pix) ||
				string(d.Wrist[s*16*16*3:(s+1)*16*16*3]) != string(obs.Images[WristViewKey].Pix) {
				t.Fatalf("task %d step %d: image differs", ti, s)
			}
			e.Step(a)
		}
		if !e.Done() || !e.Success() {
			t.Fatalf("task %d: episode not over after the recorded %d steps", ti, d.T)
		}
		// A learner sees float32 actions: replaying them still succeeds.
		e.Reset(tk, m.InitIndex)
		for s := range d.T {
			for k := range ActionDim {
				a[k] = float64(d.Actions[s*ActionDim+k])
				if math.Abs(a[k]) > 1 {
					t.Fatalf("action %v outside [-1, 1]", a)
				}
			}
			e.Step(a)
		}
		if !e.Success() {
			t.Fatalf("task %d: replayed float32 actions do not succeed", ti)
		}
	}
	// No temporary directories remain.
	left, _ := filepath.Glob(filepath.Join(dir, "long", "*.tmp"))
	if len(left) != 0 {
		t.Fatalf("left %v", left)
	}
}

func TestWriteDemosErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		conf DemoConf
		r    Renderer
		want string
	}{
		{DemoConf{Suite: "nope", Out: t.TempDir()}, fakeRenderer{}, `"nope"`},
		{DemoConf{Suite: SuiteGoal}, fakeRenderer{}, "Out"},
		{DemoConf{Suite: SuiteGoal, Out: t.TempDir()}, nil, "renderer"},
		{DemoConf{Suite: SuiteGoal, Out: t.TempDir(), EpisodesPerTask: -1}, fakeRenderer{}, "negative"},
		{DemoConf{Suite: SuiteGoal, Out: t.TempDir(), ImageSize: 1}, fakeRenderer{}, "ImageSize"},
	} {
		if _, err := WriteDemos(ctx, c.conf, c.r, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.conf, err, c.want)
		}
	}
	// Cancellation stops between episodes and reports what was written.
	cctx, cancel := context.WithCancel(ctx)
	n, err := WriteDemos(cctx, DemoConf{Suite: SuiteGoal, EpisodesPerTask: 3, Out: t.TempDir(), ImageSize: 8}, fakeRenderer{},
		func(done, total int) {
			if done == 4 {
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) || n != 4 {
		t.Fatalf("cancelled: %d written, %v", n, err)
	}
}

// failingRenderer fails after a number of frames.
type failingRenderer struct{ left int }

func (f *failingRenderer) Render(w *World, cam Camera, dst *efferent.Image) error {
	if f.left--; f.left < 0 {
		return errors.New("boom")
	}
	return fakeRenderer{}.Render(w, cam, dst)
}

func TestWriteDemosRendererError(t *testing.T) {
	dir := t.TempDir()
	_, err := WriteDemos(context.Background(), DemoConf{Suite: SuiteGoal, EpisodesPerTask: 1, Out: dir, ImageSize: 8}, &failingRenderer{left: 5}, nil)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("error %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "goal")); len(ents) != 0 {
		t.Fatalf("a failed episode left %d entries", len(ents))
	}
}

func TestReadDemoRejects(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteDemos(context.Background(), DemoConf{Suite: SuiteGoal, EpisodesPerTask: 1, Out: dir, ImageSize: 8}, fakeRenderer{}, nil); err != nil {
		t.Fatal(err)
	}
	ep := filepath.Join(dir, "goal", "0_0")
	if _, err := ReadDemo(ep); err != nil {
		t.Fatal(err)
	}
	// Truncate the actions: the shapes no longer agree.
	st, _ := os.ReadFile(filepath.Join(ep, "state.npy"))
	os.WriteFile(filepath.Join(ep, "actions.npy"), st, 0o644)
	if _, err := ReadDemo(ep); err == nil || !strings.Contains(err.Error(), "actions.npy") {
		t.Fatalf("mismatched actions: %v", err)
	}
	os.WriteFile(filepath.Join(ep, "meta.json"), []byte(`{"format": "other/9"}`), 0o644)
	if _, err := ReadDemo(ep); err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("wrong format: %v", err)
	}
	if _, err := ReadDemo(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("read a missing directory")
	}
}

func TestBoxFilter(t *testing.T) {
	// 4×4 RGB → 2×2: each output is the rounded mean of its 2×2 block.
	src := make([]byte, 4*4*3)
	for i := range src {
		src[i] = byte(i)
	}
	dst := make([]byte, 2*2*3)
	BoxFilter(dst, src, 4, 2)
	mean := func(y, x, c int) byte {
		s := 0
		for dy := range 2 {
			for dx := range 2 {
				s += int(src[((2*y+dy)*4+2*x+dx)*3+c])
			}
		}
		return byte((s + 2) / 4)
	}
	for y := range 2 {
		for x := range 2 {
			for c := range 3 {
				if got, want := dst[(y*2+x)*3+c], mean(y, x, c); got != want {
					t.Fatalf("(%d,%d,%d) = %d, want %d", y, x, c, got, want)
				}
			}
		}
	}
}
