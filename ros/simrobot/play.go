package simrobot

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// Play is `efferent sim ros` without its flags: it resolves the robot
// profile, the master and the task the way the command's flags name them,
// runs a Node, and reports, so that the command only reads its flags and
// wires the process's signals.

// PlayConf configures Play. The fields after Node are the `efferent sim
// ros` flags named in their comments, and errors name the flags.
type PlayConf struct {
	// Node is the node's configuration. Play sets its Profile and Task
	// from Robot and Task below; an empty Master is $ROS_MASTER_URI's
	// host:port, else Conf's default.
	Node Conf
	// Robot is the profile to play: a shipped profile's name (franka,
	// quadruped) or a profile YAML (--robot).
	Robot string
	// Task is a simulator task's instruction or name (--task), looked up
	// in Suite when that is set (--suite), else by sim.FindTask (the
	// Franka) or legged.FindTask (the quadruped). Default: sim.DefaultTask
	// or legged.DefaultTask.
	Task, Suite string
	// Idle keeps the node up after the last episode until ctx ends
	// (--idle).
	Idle bool
	// Out receives the "success k/N" line after the episodes (default:
	// nowhere).
	Out io.Writer
	// Toggle: every value received switches the faults off or on (the
	// command relays SIGUSR1 here); nil: never.
	Toggle <-chan os.Signal
}

// Play validates c, starts the node, runs its episodes until they are
// done or ctx ends, prints "success k/N" to c.Out when any episode ran,
// and with c.Idle waits for ctx to end. It returns the episodes' results.
func Play(ctx context.Context, c PlayConf) ([]EpisodeResult, error) {
	prof, err := robot.Load(c.Robot)
	if err != nil {
		return nil, fmt.Errorf("--robot: %w", err)
	}
	if c.Node.Master == "" {
		if c.Node.Master, err = ros.MasterFromEnv(); err != nil {
			return nil, err
		}
	}
	conf := c.Node
	conf.Profile = prof
	var instruction, suite string
	if c.Task == "" {
		c.Task = sim.DefaultTask
		if quadruped(prof) {
			c.Task = legged.DefaultTask
		}
	}
	if quadruped(prof) {
		t, err := findLeggedTask(c.Task, c.Suite)
		if err != nil {
			return nil, err
		}
		conf.Legged, instruction, suite = t, t.Instruction, t.Suite
	} else {
		t, err := findTask(c.Task, c.Suite)
		if err != nil {
			return nil, err
		}
		conf.Task, instruction, suite = t, t.Instruction, t.Suite
	}
	if c.Node.Episodes < 0 || c.Node.FirstInit < 0 || c.Node.FirstInit >= sim.NumInitStates {
		return nil, fmt.Errorf("--episodes %d / --init %d: want episodes ≥ 0 and init in 0..%d", c.Node.Episodes, c.Node.FirstInit, sim.NumInitStates-1)
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	node, err := New(conf)
	if err != nil {
		return nil, err
	}
	defer node.Close()
	conf = node.conf // with defaults
	if c.Toggle != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-done:
					return
				case <-c.Toggle:
					node.ToggleFaults()
				}
			}
		}()
	}
	conf.Log.Info("simulated robot up", "robot", prof.Name, "task", instruction, "suite", suite, "episodes", conf.Episodes,
		"init", conf.FirstInit, "pid", os.Getpid())
	results, err := node.Run(ctx)
	if err != nil {
		return nil, err
	}
	ok := 0
	for _, res := range results {
		if res.Success {
			ok++
		}
	}
	if len(results) > 0 {
		fmt.Fprintf(c.Out, "success %d/%d\n", ok, len(results))
	}
	if c.Idle && ctx.Err() == nil {
		conf.Log.Info("episodes done: idling until interrupted")
		<-ctx.Done()
	}
	return results, nil
}

// findTask resolves the --task flag (a task's instruction or name), within
// --suite when that is set, else by sim.FindTask.
func findTask(query, suite string) (sim.Task, error) {
	if suite != "" {
		ts, err := sim.Tasks(suite)
		if err != nil {
			return sim.Task{}, fmt.Errorf("--suite: %w", err)
		}
		for _, t := range ts {
			if t.Instruction == query || t.Name == query {
				return t, nil
			}
		}
		return sim.Task{}, fmt.Errorf("--task %q: not in suite %s (list them with `efferent sim tasks`)", query, suite)
	}
	t, ok := sim.FindTask(query)
	if !ok {
		return sim.Task{}, fmt.Errorf("--task %q: no such simulator task (list them with `efferent sim tasks`)", query)
	}
	return t, nil
}

// findLeggedTask is findTask for the legged simulator's tasks.
func findLeggedTask(query, suite string) (legged.Task, error) {
	if suite != "" {
		ts, err := legged.Tasks(suite)
		if err != nil {
			return legged.Task{}, fmt.Errorf("--suite: %w", err)
		}
		for _, t := range ts {
			if t.Instruction == query || t.Name == query {
				return t, nil
			}
		}
		return legged.Task{}, fmt.Errorf("--task %q: not in suite %s (list them with `efferent sim tasks`)", query, suite)
	}
	t, ok := legged.FindTask(query)
	if !ok {
		return legged.Task{}, fmt.Errorf("--task %q: no such legged simulator task (list them with `efferent sim tasks`)", query)
	}
	return t, nil
}
