package simrobot

import (
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"

	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/sim/legged"
)

// The quadruped is the legged simulator (sim/legged), stepped at its
// command rate from the latest command the driver sent: a Twist (twist
// profiles: velocities at the nominal height and gait) or a command
// vector (command_vector profiles: the whole QUART-style command).

// quadruped reports whether p is played by the legged simulator.
func quadruped(p *robot.Profile) bool {
	return p.Action.Mapping == robot.MappingTwist || p.Action.Mapping == robot.MappingCommandVector
}

// legs is the quadruped's simulator and its stepping (Run's goroutine).
type legs struct {
	env *legged.Env
	acc time.Duration // physics time since the last legged step
	cmd []float64
}

// baseJoints name the quadruped's joint states: the legged simulator's
// state, odometry and body, as joints (sim/legged's StateDim order), so
// that the bridge's state (the joints' positions in order) is the state
// its models were trained on.
var baseJoints = []string{"base_x", "base_y", "base_yaw", "base_vx", "base_vy", "base_wz", "base_height"}

func newLegs(task legged.Task, init int) (*legs, error) {
	env, err := legged.New(legged.Conf{NoRender: true}, nil)
	if err != nil {
		return nil, err
	}
	if err := env.Reset(task, init); err != nil {
		return nil, err
	}
	return &legs{env: env, cmd: make([]float64, legged.CommandDim)}, nil
}

// physics advances the quadruped by dt, one legged step per command
// period: the latest command while tracking and fresh (a Twist or command
// vector older than TwistTimeout counts as none, as drivers stop when
// commands stop), the stop flag otherwise.
func (n *Node) legsPhysics(dt time.Duration, tracking bool, now time.Time) error {
	l := n.legs
	l.acc += dt
	period := time.Duration(float64(time.Second) / l.env.Conf().StepHz)
	if l.acc < period {
		return nil
	}
	l.acc -= period
	n.mu.Lock()
	tw, vec, at := n.twist, n.vec, n.twistAt
	n.mu.Unlock()
	cmd := l.cmd
	switch {
	case !tracking || at.IsZero() || now.Sub(at) > TwistTimeout:
		clear(cmd)
		cmd[legged.CmdHeight], cmd[legged.CmdGaitHz], cmd[legged.CmdSwing] = legged.NominalHeight, 2, 0.08
		cmd[legged.CmdStop] = 1
	case n.prof.Action.Mapping == robot.MappingCommandVector:
		copy(cmd, vec[:])
	default:
		cmd[legged.CmdVX], cmd[legged.CmdVY], cmd[legged.CmdWZ] = tw[0], tw[1], tw[2]
		cmd[legged.CmdHeight], cmd[legged.CmdGaitHz], cmd[legged.CmdSwing], cmd[legged.CmdStop] = legged.NominalHeight, 2, 0.08, 0
	}
	return l.env.Step(cmd)
}

// onCommandVector takes a command vector (command_vector profiles).
func (n *Node) onCommandVector(m *std_msgs.Float64MultiArray) {
	if len(m.Data) != legged.CommandDim {
		return
	}
	var v [legged.CommandDim]float64
	for i, x := range m.Data {
		if x != x || x > 100 || x < -100 {
			return
		}
		v[i] = x
	}
	n.mu.Lock()
	n.vec, n.twistAt = v, time.Now()
	n.commands++
	n.mu.Unlock()
}

// legsState is the quadruped's joint state message.
func (n *Node) legsState(now time.Time) *sensor_msgs.JointState {
	return &sensor_msgs.JointState{Header: std_msgs.Header{Stamp: now}, Name: baseJoints,
		Position: n.legs.env.State(make([]float64, 0, legged.StateDim))}
}
