package rig

import (
	"context"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/ros/simrobot"
)

// statePolicy records the state it was asked about.
type statePolicy struct {
	md   policy.Metadata
	seen []float64
}

func (p *statePolicy) Infer(_ context.Context, obs *efferent.Observation, _ *efferent.Chunk) error {
	p.seen = append([]float64(nil), obs.State...)
	return nil
}
func (p *statePolicy) Metadata() policy.Metadata { return p.md }
func (p *statePolicy) Close() error              { return nil }

// On a ROS robot the model sees the measured position moved into its
// training frame by observation.state.robot_base, and the caller's
// observation keeps the measured one; without the key nothing changes.
func TestRobotBasePolicy(t *testing.T) {
	inner := &statePolicy{md: policy.Metadata{RobotBase: []float64{-0.5, 0, 0.885}}}
	pol := withRobotBase(inner)
	obs := &efferent.Observation{State: []float64{0.38, 0.01, 0.26, 3.14, 0, 0, 0.04, -0.04}}
	if err := pol.Infer(context.Background(), obs, &efferent.Chunk{}); err != nil {
		t.Fatal(err)
	}
	want := []float64{-0.12, 0.01, 1.145, 3.14, 0, 0, 0.04, -0.04}
	for i := range want {
		if d := inner.seen[i] - want[i]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("the model saw %v, want %v", inner.seen, want)
		}
	}
	if obs.State[0] != 0.38 {
		t.Fatalf("the caller's state changed: %v", obs.State)
	}
	plain := &statePolicy{}
	if withRobotBase(plain) != policy.Policy(plain) {
		t.Fatal("a model without robot_base was wrapped")
	}
}

// The bundled model's robot_base is where efferent sim ros puts the
// Franka's base in the simulator's world.
func TestRobotBaseMatchesSimRobot(t *testing.T) {
	fsys, source, err := models.Resolve("efferent-tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.LoadManifest(fsys, source)
	if err != nil {
		t.Fatal(err)
	}
	b := m.Metadata().RobotBase
	if len(b) != 3 || b[0] != simrobot.FrankaBase[0] || b[1] != simrobot.FrankaBase[1] || b[2] != simrobot.FrankaBase[2] {
		t.Fatalf("efferent-tiny robot_base %v, simrobot.FrankaBase %v", b, simrobot.FrankaBase)
	}
}
