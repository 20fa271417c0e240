// Package ros bridges efferent's control loop to a ROS 1 robot through
// goroslib (pure Go: efferent needs no ROS install). A Bridge is a
// control.Robot: Observe reads the robot's state and cameras from their
// topics, Apply hands each gated setpoint to the bridge's owner goroutine,
// which turns it into the profile's command (an end-effector pose
// integrated onto the measured one, joint positions, a twist, a command
// vector) and publishes it, never blocking the tick.
//
// The owner goroutine also runs the command watchdog (explicit hold
// commands when setpoints stop), reports status, and watches the master:
// when it dies the robot is held (hold commands keep flowing peer to peer,
// no stale command does), and when it is back the node registers again,
// without restarting the process.
package ros
