package rig

import (
	"slices"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/teleop"
)

// Recorded teleop commands go back into a teleop gate at their times: a
// takeover tick replays the teleoperator's command, not the chunk's.
func TestTeleopReplay(t *testing.T) {
	mux, err := teleop.New(teleop.Conf{Dim: 2, Gripper: -1})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(100, 0)
	g := &teleopReplay{mux: mux, cmds: []record.Teleop{
		{Time: t0.Add(10 * time.Millisecond).UnixNano(), Mode: "takeover", Values: []float64{0.5, -0.5}, Source: "keyboard"},
		{Time: t0.Add(30 * time.Millisecond).UnixNano(), Mode: "policy", Values: []float64{0, 0}, Source: "keyboard"},
	}}
	for i, want := range [][]float64{{1, 1}, {0.5, -0.5}, {0.5, -0.5}, {1, 1}} {
		sp := efferent.Setpoint{Time: t0.Add(time.Duration(i*10) * time.Millisecond), Values: []float64{1, 1}}
		g.Check(&sp)
		if !slices.Equal(sp.Values, want) {
			t.Fatalf("tick %d: %v, want %v", i, sp.Values, want)
		}
	}
}
