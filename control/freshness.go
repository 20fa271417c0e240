package control

import "time"

// Freshness is implemented by a Robot whose inputs can go stale: ROS
// topics, camera streams. The loop asks on every tick, before it schedules
// anything; while an input is stale it holds the robot (the setpoint's
// HoldReason is efferent.HoldStaleInput, so the gates brake to a stop),
// forgets its chunks and the inferences in flight, and asks the policy
// again only once every input is fresh: motion resumes from a fresh
// inference on fresh data, never from the old chunk.
type Freshness interface {
	// Stale reports the first input (in a fixed order) with no message
	// younger than its maximum age at now: its name, precomputed (e.g.
	// "camera observation/image (/cam/image_raw)"), and its age (the time
	// since its last message, or since the robot (re)connected when none
	// has arrived since), or stale = false when every input is fresh.
	// Called on every controller tick: it must not allocate, and must not
	// block beyond a short mutex.
	Stale(now time.Time) (input string, age time.Duration, stale bool)
}
