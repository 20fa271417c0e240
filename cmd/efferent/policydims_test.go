package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"

	"github.com/efferent/efferent/internal/rostest"
)

// `efferent run --robot quadruped` with the bundled 7-d model is refused
// with the way to map it; with a profile file mapping three of its dims
// (action.policy_dims) it walks: /cmd_vel carries non-zero Twists.
func TestRunQuadrupedPolicyDims(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t) // skips in -short: loads the model
	obs := simObservation(t, "spatial/put_the_red_block_in_the_blue_bowl")
	m := rostest.Start(t, 0)
	robotSide := m.Node(t, "fake_legs")
	rostest.Publish(t, robotSide, "/joint_states", 10*time.Millisecond, func() *sensor_msgs.JointState {
		return &sensor_msgs.JointState{Name: []string{"hip"}, Position: []float64{0.1}}
	})
	publishCameras(t, robotSide, obs)
	run := func(robotRef string, d time.Duration) (string, error) {
		cmd, out := newRunCmd(t, "--robot", robotRef, "--task", obs.Prompt, "--ros-master", m.Addr,
			"--camera", "ros:/cam/agent", "--camera", "ros:/cam/wrist", "--log-level", "warn")
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	if _, err := run("quadruped", time.Minute); err == nil || !strings.Contains(err.Error(), "action: {policy_dims: [0, 1, 2]}") {
		t.Fatalf("--robot quadruped with a 7-d policy: %v, want the refusal saying how to map its dims", err)
	}
	file := filepath.Join(t.TempDir(), "legs.yaml")
	if err := os.WriteFile(file, []byte("base: quadruped\naction: {policy_dims: [0, 1, 5]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var moving atomic.Int64
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: m.Node(t, "observer"), Topic: "/cmd_vel",
		Callback: func(tw *geometry_msgs.Twist) {
			if tw.Linear.X != 0 || tw.Linear.Y != 0 || tw.Angular.Z != 0 {
				moving.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if out, err := run(file, 4*time.Second); err != nil {
		t.Fatalf("--robot %s: %v\n%s", file, err, out)
	}
	if moving.Load() == 0 {
		t.Fatal("no non-zero Twist: the policy's mapped dims did not reach /cmd_vel")
	}
	t.Logf("%d non-zero Twists", moving.Load())
}
