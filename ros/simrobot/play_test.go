package simrobot

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"

	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/sim"
)

// Play refuses what its flags got wrong before it connects to anything,
// naming the flag.
func TestPlayRejects(t *testing.T) {
	t.Setenv("ROS_MASTER_URI", "")
	good := PlayConf{Robot: "franka", Task: "put the red block in the blue bowl", Node: Conf{Master: "127.0.0.1:1"}}
	for _, c := range []struct {
		edit func(*PlayConf)
		want string
	}{
		{func(c *PlayConf) { c.Robot = "nope" }, "--robot: "},
		{func(c *PlayConf) { c.Task = "juggle" }, `--task "juggle": no such simulator task`},
		{func(c *PlayConf) { c.Suite = "nope" }, "--suite: "},
		{func(c *PlayConf) { c.Task, c.Suite = "juggle", sim.SuiteGoal }, `--task "juggle": not in suite goal`},
		{func(c *PlayConf) { c.Node.Episodes = -1 }, "--episodes -1 / --init 0"},
		{func(c *PlayConf) { c.Node.FirstInit = sim.NumInitStates }, "want episodes ≥ 0 and init in 0..49"},
		{func(c *PlayConf) { c.Node.Master = ""; os.Setenv("ROS_MASTER_URI", "nonsense") }, "ROS_MASTER_URI"},
	} {
		pc := good
		c.edit(&pc)
		if _, err := Play(context.Background(), pc); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want one containing %q", err, c.want)
		}
	}
}

// findTask finds a task by instruction or name, within a suite when one
// is given.
func TestFindTask(t *testing.T) {
	tk, err := findTask("put the red block in the blue bowl", "")
	if err != nil {
		t.Fatal(err)
	}
	if byName, err := findTask(tk.Name, tk.Suite); err != nil || byName.Instruction != tk.Instruction {
		t.Fatalf("%s in %s: %+v, %v", tk.Name, tk.Suite, byName, err)
	}
}

// Play runs the episodes and prints the tally, and takes fault toggles
// from its channel meanwhile.
func TestPlay(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof := franka(t)
	toggle := make(chan os.Signal) // unbuffered: a send is a receipt
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Play(ctx, PlayConf{Robot: "franka", Task: "put the red block in the blue bowl", Out: &out, Toggle: toggle,
			Node: Conf{Master: m.Addr, Episodes: 1, EpisodeTimeout: 300 * time.Millisecond, ResetHold: 100 * time.Millisecond,
				Drop: []string{StreamState}, FaultAfter: time.Hour, Log: quietLog()}})
		done <- result{len(res), err}
	}()
	select {
	case toggle <- syscall.SIGUSR1:
	case r := <-done: // say why, rather than wait for a toggle nobody takes
		t.Fatalf("Play returned before it took the toggle: %v (%d results)", r.err, r.n)
	case <-time.After(10 * time.Second):
		t.Fatal("Play did not take the toggle")
	}
	rostest.Publish(t, m.Node(t, "commander"), prof.Command.Topic, 5*time.Millisecond, func() *geometry_msgs.PoseStamped {
		ps := &geometry_msgs.PoseStamped{}
		h := sim.HomePos.Sub(FrankaBase)
		ps.Pose.Position = geometry_msgs.Point{X: h[0], Y: h[1], Z: h[2]}
		ps.Pose.Orientation = geometry_msgs.Quaternion{X: 1}
		return ps
	})
	r := <-done
	if r.err != nil || r.n != 1 || out.String() != "success 0/1\n" {
		t.Fatalf("Play: %v, %d results, printed %q", r.err, r.n, out.String())
	}
}
