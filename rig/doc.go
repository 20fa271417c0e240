// Package rig owns one robot's control path, assembled once.
//
// From a robot (the built-in simulator through SimRobot, or the ROS bridge),
// its profile and a policy, rig builds what every run, evaluation, replay
// and benchmark used to build by hand:
//
//   - the robot's action space (Space): the names and kinds of its action
//     dimensions and where the gripper is — LIBERO's 7-d layout is written
//     here and nowhere else;
//   - the gate chain (Gates.Chain), in its one fixed order: teleop, e-stop,
//     watchdog, limits, motion. The teleoperator's commands pass every gate
//     after the teleop gate like the policy's; every hold before the limits
//     gets its hold values from them; the motion gate, last, turns every
//     hold into a controlled stop;
//   - the control loop (NewLoop) on the right clock: real time (a nil
//     Clock is the system clock) or virtual time (Virtual);
//   - the false-premise pre-check (CheckPremise), which observes until the
//     checker decides while the robot holds still;
//   - the taps: the recorder with its run event (record.Run), the viewer
//     with teleop and instruction changes, the progress line, and the
//     Prometheus series.
//
// The built-in simulators are two: the tabletop (LIBERO's space) and the
// legged base (Quadruped, the QUART-style command vector at 50 Hz, its
// envelope gate LeggedLimits and its surround-camera premise check,
// LeggedPremiseChecker). A run picks one by its task; Simulator is what
// the loop drives of either.
//
// Run drives a robot from a Conf (the config file's run section and the
// flags over it) and Parts, the pieces the caller injects: ONNX Runtime,
// OpenCV and the renderer are cgo and live in leaf packages, so rig itself
// builds without cgo. Replay feeds a recording back through the same
// path. Episode runs one simulator episode; package eval runs many on top of
// it and imports rig, never the reverse.
//
// Package layering: cmd/efferent parses flags and injects; eval sits above
// rig; rig assembles server, viewer, control, policy, ros, sim, record,
// safety and teleop, none of which imports it.
package rig
