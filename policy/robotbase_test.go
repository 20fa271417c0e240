package policy_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/efferent/efferent/policy"
)

// efferent-tiny declares where efferent sim ros's Franka base lies in its
// training frame; a bad robot_base names the field.
func TestManifestRobotBase(t *testing.T) {
	data, err := os.ReadFile("../models/efferent-tiny/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if b := m.Metadata().RobotBase; len(b) != 3 || b[0] != -0.50 || b[1] != 0 || b[2] != 0.885 {
		t.Fatalf("robot_base %v, want [-0.50, 0, 0.885] (simrobot.FrankaBase)", b)
	}
	const line = "robot_base: [-0.50, 0.0, 0.885]"
	if !strings.Contains(string(data), line) {
		t.Fatalf("manifest has no %q", line)
	}
	for _, bad := range []string{"robot_base: [0.1, 0.2]", "robot_base: [.nan, 0, 0]", "robot_base: [1000, 0, 0]"} {
		_, err := policy.ParseManifest([]byte(strings.Replace(string(data), line, bad, 1)))
		if !errors.Is(err, policy.ErrManifest) || !strings.Contains(err.Error(), "observation.state.robot_base") {
			t.Errorf("%s: %v, want an error naming observation.state.robot_base", bad, err)
		}
	}
	// Without the key: no offset.
	m, err = policy.ParseManifest([]byte(strings.Replace(string(data), ", "+line, "", 1)))
	if err != nil || m.Metadata().RobotBase != nil {
		t.Fatalf("without robot_base: %v %v", m.Metadata().RobotBase, err)
	}
}
