package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/rig"
)

func runCommand(t *testing.T, cmd *cobra.Command, args ...string) string {
	t.Helper()
	cmd.Flags().String("config", "", "")
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// newRunCmd is `efferent run` with args, in-process, without the
// environment's configuration file, its output (logs) gathered in out.
func newRunCmd(t *testing.T, args ...string) (cmd *cobra.Command, out *bytes.Buffer) {
	t.Helper()
	t.Setenv("EFFERENT_CONFIG", "")
	cmd = runCmd()
	cmd.Flags().String("config", "", "")
	out = &bytes.Buffer{}
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SetArgs(args)
	return cmd, out
}

// A recording of a simulator run in virtual time is read back with the
// MCAP library and replays identically: the recorded chunks through the
// scheduler and gate give the recorded setpoints, and the bundled model on
// the recorded (lossless) frames gives the recorded chunks.
func TestRecordAndReplaySim(t *testing.T) {
	bundledConfig(t)
	path := filepath.Join(t.TempDir(), "run.mcap")
	runCommand(t, runCmd(), "--robot", "sim", "--fast", "--episodes", "2", "--record", path, "--record-images", "png", "--log-level", "warn")

	rec, err := record.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Episodes) != 2 {
		t.Fatalf("%d episodes in the recording, want 2", len(rec.Episodes))
	}
	for i, ep := range rec.Episodes {
		if ep.Start == nil || ep.End == nil || ep.End.Success == nil || len(ep.Setpoints) == 0 || len(ep.Chunks) == 0 {
			t.Fatalf("episode %d: start %v end %v, %d setpoints, %d chunks", i, ep.Start, ep.End, len(ep.Setpoints), len(ep.Chunks))
		}
		if len(ep.Observations) != len(ep.Chunks) {
			t.Fatalf("episode %d: %d observations, %d chunks", i, len(ep.Observations), len(ep.Chunks))
		}
		for key, frames := range ep.Frames {
			if len(frames) != len(ep.Observations) {
				t.Fatalf("episode %d: %d %s frames for %d observations", i, len(frames), key, len(ep.Observations))
			}
		}
	}

	out := runCommand(t, replayCmd(), path, "--log-level", "warn")
	for i, ep := range rec.Episodes {
		n := len(ep.Setpoints)
		if want := fmt.Sprintf("%d/%d setpoints identical", n, n); !strings.Contains(out, want) {
			t.Fatalf("episode %d (%d setpoints): replay says\n%s", i+1, n, out)
		}
	}
	out = runCommand(t, replayCmd(), path, "--policy", "auto", "--log-level", "warn")
	if strings.Count(out, "cosine 1.000, gripper agreement 1.000") != 2 || strings.Count(out, "max per dim   0.0000 0.0000 0.0000 0.0000 0.0000 0.0000 0.0000") != 2 {
		t.Fatalf("the same model on the recorded frames should reproduce the chunks:\n%s", out)
	}

	// The comparison can fail: a recorded chunk changed in memory no
	// longer reproduces the recorded setpoints.
	info, err := rec.Run()
	if err != nil {
		t.Fatal(err)
	}
	ep := rec.Episodes[0]
	ep.Chunks[0].Actions[0] += 0.5
	r, err := rig.ReplayControl(context.Background(), info, &ep)
	if err != nil {
		t.Fatal(err)
	}
	if r.Identical == r.Setpoints || r.FirstDiffering != 0 {
		t.Fatalf("a changed chunk replayed as %+v", r)
	}
}
