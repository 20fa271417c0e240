package rig

import (
	"testing"

	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/robot"
)

// A declared action space refuses the robots whose actions mean something
// else, where the dims alone would agree (LIBERO's 7 deltas on a 7-d
// command vector robot), and accepts its own.
func TestSpaceFits(t *testing.T) {
	load := func(name string) *robot.Profile {
		p, err := robot.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		space, robot string
		ok           bool
	}{
		{policy.SpaceLIBERO, "franka", true},
		{policy.SpaceLIBERO, "quadruped-command", false},
		{policy.SpaceLIBERO, "quadruped", false},
		{policy.SpaceQuadrupedCommand, "quadruped-command", true},
		{policy.SpaceQuadrupedCommand, "quadruped", true},
		{policy.SpaceQuadrupedCommand, "franka", false},
		{"", "quadruped-command", true}, // undeclared: the dims decide
	} {
		if err := spaceFits(tc.space, load(tc.robot)); (err == nil) != tc.ok {
			t.Errorf("space %q on %s: %v, want ok %v", tc.space, tc.robot, err, tc.ok)
		}
	}
}
