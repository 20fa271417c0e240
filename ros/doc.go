// Package ros bridges efferent's control loop to a ROS 1 robot through
// goroslib (pure Go: efferent needs no ROS install). A Bridge is a
// control.Robot: Observe reads the robot's state and cameras from their
// topics, Apply hands each gated setpoint to the bridge's owner goroutine,
// which turns it into the profile's command (an end-effector pose
// integrated onto the measured one, joint positions, a twist, a command
// vector) and publishes it, never blocking the tick.
//
// The owner goroutine also runs the command watchdog (explicit hold
// commands when setpoints stop), reports status, and watches the master
// (on a goroutine of its own, so that a master slow to answer never delays
// a command).
//
// # Freshness
//
// Every input the observation needs has a maximum age (the profile's
// state.max_age, state.gripper_max_age, cameras.max_age and cameras.keys,
// defaults derived from each input's nominal rate; a Camera's MaxAge):
// the robot state topic, the gripper state topic, each camera topic and
// each non-ROS camera; the master counts as one too while it is lost. A
// Bridge is a control.Freshness: Stale names the first input whose newest
// message is older than its bound (or that has sent nothing since the
// bridge (re)connected) and its age, without allocating, and the control
// loop holds on it: it brakes through the motion gate, drops its chunks
// and asks the policy again only once Stale reports every input fresh.
// Observe's errors for such inputs wrap ErrNotReady and
// efferent.ErrStaleInput, a hold for the loop, not a failure. Ages come
// from header stamps where messages have them, never fresher than the
// arrival; see freshness.go for the guards against a publisher's clock.
//
// The owner goroutine checks freshness too, before every command, without
// relying on the loop: while an input is stale the quadruped gets explicit
// zero Twists, the arm's commanded pose may only slow down and stands
// still once the motion gate's stop time (robot.Profile.StopTime) has
// passed, joint positions hold the last command from then on, the gripper
// is left as it is. Each stale episode is logged once (and its end), the
// status topic says "held: stale input NAME AGE s" with stale_input and
// stale_age values, Stats counts the episodes and held commands, and
// Inputs reports every input's age for metrics.
//
// # Master restarts
//
// When the master dies (connection refused, or no answer for a second)
// the robot is held: the loss is counted once, hold commands keep flowing
// peer to peer, no stale command does. When it is back (or a new master
// is seen by its PID, a restart between two checks, which counts as a
// loss too) the node registers again without restarting the process:
// every publisher and subscriber is created anew, every input must
// deliver through the new connection, and the arm re-anchors on the first
// measured pose before it moves; the loop resumes from a fresh inference.
// ROS 1 nodes do not register with a new master by themselves: the robot's
// nodes must be restarted with it (as roslaunch does) for their topics to
// be found again.
package ros
