// Package robot describes the robots efferent drives: a Profile (YAML; the
// shipped ones are franka, quadruped and sim) says how fast the controller
// runs, how a policy's action maps onto a command, what the limits and the
// home pose are, and which ROS topics and message types carry commands,
// state and status. Every name in a profile can be overridden by a user's
// own file. The package holds data and its validation only; package ros
// drives the topics and package safety enforces the limits.
package robot
