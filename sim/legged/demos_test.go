package legged

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/efferent/efferent/sim"
)

// WriteDemos writes every task's successful expert episodes as arrays of
// one row per step (egocentric frames box-filtered, state, the command
// the expert sent) with a meta.json, readable by sim.ReadNPY; the last
// command of a true-premise episode stops the base at its goal.
func TestWriteDemos(t *testing.T) {
	out := t.TempDir()
	n, err := WriteDemos(context.Background(), DemoConf{Suite: SuiteGoto, EpisodesPerTask: 1, Out: out, ImageSize: 32, Downsample: 4}, &fakeRenderer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != TasksPerSuite {
		t.Fatalf("wrote %d episodes, want %d (the expert solves every task)", n, TasksPerSuite)
	}
	for i := range TasksPerSuite {
		dir := filepath.Join(out, SuiteGoto, fmt.Sprintf("%d_0", i))
		js, err := os.ReadFile(filepath.Join(dir, "meta.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m sim.DemoMeta
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		if m.Format != DemoFormat || !m.Success || m.Steps < 10 || m.InitIndex != sim.DemoInitBase || m.StepHz != DefaultStepHz {
			t.Fatalf("task %d meta %+v", i, m)
		}
		read := func(name string) *sim.NPY {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			a, err := sim.ReadNPY(f, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		ego, st, cmd := read("ego.npy"), read("state.npy"), read("actions.npy")
		if fmt.Sprint(ego.Shape) != fmt.Sprint([]int{m.Steps, 8, 8, 3}) || fmt.Sprint(st.Shape) != fmt.Sprint([]int{m.Steps, StateDim}) ||
			fmt.Sprint(cmd.Shape) != fmt.Sprint([]int{m.Steps, CommandDim}) {
			t.Fatalf("task %d shapes %v %v %v for %d steps", i, ego.Shape, st.Shape, cmd.Shape, m.Steps)
		}
		c, err := cmd.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if last := c[len(c)-CommandDim:]; last[CmdStop] < StopFlag && (abs(float64(last[CmdVX])) > 0.2 || abs(float64(last[CmdWZ])) > 0.2) {
			t.Errorf("task %d: the last command %v neither stops nor slows", i, last)
		}
	}
	// The actions are the tabletop's format's, for tokenizer fit.
	if a, err := sim.ReadDemoActions(filepath.Join(out, SuiteGoto, "0_0")); err != nil || a.T < 10 {
		t.Fatalf("sim.ReadDemoActions: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, SuiteGoto, "0_0.tmp")); !os.IsNotExist(err) {
		t.Errorf("a .tmp directory was left: %v", err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestWriteDemosErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []DemoConf{
		{Suite: SuiteGoto},                // no Out
		{Suite: "nope", Out: t.TempDir()}, // no such suite
		{Suite: SuiteGoto, Out: t.TempDir(), EpisodesPerTask: -1},
		{Suite: SuiteGoto, Out: t.TempDir(), ImageSize: 30, Downsample: 4}, // 4 does not divide 30
	} {
		if _, err := WriteDemos(ctx, c, &fakeRenderer{}, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := WriteDemos(ctx, DemoConf{Suite: SuiteGoto, Out: t.TempDir()}, nil, nil); err == nil {
		t.Error("no renderer accepted")
	}
}
