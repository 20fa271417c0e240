package rig

import (
	"strings"
	"testing"

	"github.com/efferent/efferent/robot"
)

// A policy whose action dims differ from the profile's is refused with the
// way to map them: the profile key, a file with `base:`, --robot FILE.
func TestDimMismatchSaysHowToMap(t *testing.T) {
	q, err := robot.Load("quadruped")
	if err != nil {
		t.Fatal(err)
	}
	msg := DimMismatch(q, "efferent-tiny", 7).Error()
	for _, want := range []string{"takes 3-dim actions (twist: vx, vy, wz), policy efferent-tiny produces 7",
		"`base: quadruped`", "`action: {policy_dims: [0, 1, 2]}`", "--robot FILE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q\nlacks %q", msg, want)
		}
	}
	f, _ := robot.Load("franka")
	if msg := DimMismatch(f, "p", 3).Error(); !strings.Contains(msg, "too few action dims") {
		t.Errorf("franka from a 3-d policy: %q", msg)
	}
	if msg := DimMismatch(f, "p", 8).Error(); !strings.Contains(msg, "policy_dims: [0, 1, 2, 3, 4, 5, 6]") {
		t.Errorf("franka from an 8-d policy: %q", msg)
	}
}
