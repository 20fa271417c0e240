package efferent

import "errors"

// ErrStaleInput is wrapped by a robot's Observe when an input the
// observation needs (a camera, the robot state, the gripper state) is
// missing or older than its maximum age. It is not a failure of the run:
// the control loop holds the robot and observes again once the robot
// reports its inputs fresh.
var ErrStaleInput = errors.New("stale input")

// HoldStaleInput is the Setpoint.HoldReason (and the gates' verdict
// reason) while an input the loop observes is older than its maximum age:
// the robot holds and resumes only from a fresh inference on fresh data.
const HoldStaleInput = "stale_input"
