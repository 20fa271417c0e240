package ros

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
)

// Freshness. Every input the observation needs (the robot state topic, the
// gripper state topic, each camera topic, each non-ROS camera) has a
// maximum age (robot.Profile's state.max_age, state.gripper_max_age,
// cameras.max_age or a Camera's MaxAge). Stale reports the first input
// whose newest message is older, in a fixed order: the master first (its
// loss makes every topic's future unknowable), then the robot state, the
// gripper state, the ROS cameras, the other cameras.
//
// How old a message is. A message with a header stamp is as old as the
// older of its stamp and its arrival: age = max(now − stamp, now −
// arrival). So a stamp from the future (a publisher's clock ahead) can never
// make a message look fresher than its arrival, and a message that was
// already old when it arrived (a lagging camera pipeline) is judged by its
// stamp. Two guards against a publisher's clock:
//   - a stamp that does not advance over the previous message's (a driver
//     re-sending its last frame, or replayed data) does not refresh the
//     input: the same data is not fresh data;
//   - a stamp older than its arrival by more than clockSkew(max age) (one
//     second at least, ten max ages) says the publisher's clock is behind
//     (an unsynchronised robot PC, sim time), not that the data is that
//     old: the message is judged by its arrival instead, and the offset is
//     counted (InputStatus.ClockSkews) and logged once per input.
//
// Messages without a header stamp, and non-ROS cameras (whose frames are
// noticed by their frame counter), are judged by arrival. After a
// (re)connection, an input has no message until one arrives through the
// new connection: its age is the time since the connection.

// clockSkew is how far behind its arrival a stamp may be before it is
// taken for the publisher's clock being off rather than for old data.
func clockSkew(maxAge time.Duration) time.Duration { return max(time.Second, 10*maxAge) }

// futureTolerance: a stamp at most this far ahead of its arrival is
// ordinary clock jitter between hosts, not counted as a clock offset (it
// is judged by its arrival all the same).
const futureTolerance = 50 * time.Millisecond

// input is one observed input's freshness. Its fields are guarded by
// Bridge.fmu (written by the subscriber callbacks and Stale), except the
// counters and frame (Bridge.mu's).
type input struct {
	name   string // precomputed, e.g. "camera observation/image (/cam/image_raw)"
	maxAge time.Duration
	// last is the time of the newest message since the (re)connection
	// (the older of its stamp and its arrival); zero: none yet.
	last time.Time
	// stamp is the newest message's header stamp (zero: none).
	stamp time.Time
	// frame is a ROS camera's latest image (nil for other inputs); src a
	// non-ROS camera, polled by its frame counter.
	frame  *frame
	src    camera.Source
	frames uint64
	// skew is the last clock offset seen (stamp behind its arrival by more
	// than clockSkew, or ahead by more than futureTolerance); skewLogged
	// (owner goroutine) once it has been logged.
	skew       time.Duration
	skewLogged bool

	holds, skews atomic.Uint64
}

// refresh records a message on in that arrived at arrival with header
// stamp (zero or the epoch: none) and returns the time it is judged by.
// The caller holds Bridge.fmu.
func (in *input) refresh(stamp, arrival time.Time) time.Time {
	if stamp.IsZero() || stamp.Unix() == 0 {
		in.last = arrival
		return arrival
	}
	if !in.stamp.IsZero() && !stamp.After(in.stamp) {
		return in.last // the same (or older) data again: not fresh
	}
	in.stamp = stamp
	e := stamp
	switch d := arrival.Sub(stamp); {
	case d < 0:
		e = arrival // never fresher than its arrival
		if d < -futureTolerance {
			in.skew = d
			in.skews.Add(1)
		}
	case d > clockSkew(in.maxAge):
		e = arrival
		in.skew = d
		in.skews.Add(1)
	}
	in.last = e
	return e
}

// age is how old in is at now, and whether it is stale; since is the
// (re)connection time, the age of an input without a message since.
func (in *input) age(now, since time.Time) (time.Duration, bool) {
	if in.last.IsZero() {
		return now.Sub(since), true
	}
	a := now.Sub(in.last)
	return a, a > in.maxAge
}

// InputStatus is one input's freshness, for metrics and status pages.
type InputStatus struct {
	// Name is the input as Stale names it (e.g. "robot state
	// (/franka_state_controller/franka_states)").
	Name string
	// MaxAge is its bound; Age its current age (since the connection
	// while no message has arrived: Received is then false).
	MaxAge, Age time.Duration
	Received    bool
	Stale       bool
	// Holds counts the commands the bridge sent held while this input was
	// the (first) stale one; ClockSkews the messages judged by arrival
	// because their stamp was off (see the package's freshness notes).
	Holds, ClockSkews uint64
}

// Stale implements control.Freshness: the first input older than its
// maximum age at now (the master while it is lost), its age, or
// stale=false. It allocates nothing; it takes the bridge's state mutex and
// reads each non-ROS camera's counters.
func (b *Bridge) Stale(now time.Time) (string, time.Duration, bool) {
	b.fmu.Lock()
	defer b.fmu.Unlock()
	i, age := b.staleLocked(now)
	if i < 0 {
		return "", 0, false
	}
	return b.inputs[i].name, age, true
}

// staleLocked is Stale's work: the index of the first stale input (-1:
// none) and its age. The caller holds b.fmu.
func (b *Bridge) staleLocked(now time.Time) (int, time.Duration) {
	b.pollSourcesLocked(now)
	for i, in := range b.inputs {
		if i == 0 {
			if !b.masterOK {
				return 0, now.Sub(b.lostAt)
			}
			continue
		}
		if a, stale := in.age(now, b.since); stale {
			return i, a
		}
	}
	return -1, 0
}

// pollSourcesLocked notices new frames of the non-ROS cameras by their
// frame counters (cheap: Latest would copy the image), dating them by
// when they were noticed; Observe refines that by the frame's capture
// time. The caller holds b.fmu.
func (b *Bridge) pollSourcesLocked(now time.Time) {
	for _, in := range b.inputs {
		if in.src == nil {
			continue
		}
		if n := in.src.Stats().Frames; n != in.frames {
			in.frames, in.last = n, now
		}
	}
}

// Inputs reports every input's freshness (allocates: not for the tick).
func (b *Bridge) Inputs() []InputStatus {
	now := time.Now()
	b.fmu.Lock()
	defer b.fmu.Unlock()
	b.pollSourcesLocked(now)
	out := make([]InputStatus, len(b.inputs))
	for i, in := range b.inputs {
		a, stale := in.age(now, b.since)
		recv := !in.last.IsZero()
		if i == 0 {
			a, stale, recv = 0, !b.masterOK, true
			if stale {
				a = now.Sub(b.lostAt)
			}
		}
		out[i] = InputStatus{Name: in.name, MaxAge: in.maxAge, Age: a, Received: recv, Stale: stale,
			Holds: in.holds.Load(), ClockSkews: in.skews.Load()}
	}
	return out
}

// staleError is Observe's error while an input is stale: every stale
// input named with its age. It wraps ErrNotReady and efferent.ErrStaleInput
// (the control loop holds, it does not stop). The caller holds b.mu and
// b.fmu.
func (b *Bridge) staleError(now time.Time) error {
	var list []string
	for i, in := range b.inputs {
		switch {
		case i == 0 && !b.masterOK:
			list = append(list, fmt.Sprintf("%s lost %.2f s ago", in.name, now.Sub(b.lostAt).Seconds()))
		case i == 0:
		case in.last.IsZero():
			why := ""
			if in.frame != nil && in.frame.err != "" {
				why = " (last message unusable: " + in.frame.err + ")"
			}
			list = append(list, fmt.Sprintf("%s: no message since connected %.2f s ago%s", in.name, now.Sub(b.since).Seconds(), why))
		default:
			if a, stale := in.age(now, b.since); stale {
				list = append(list, fmt.Sprintf("%s %.2f s old (max %v)", in.name, a.Seconds(), in.maxAge))
			}
		}
	}
	if list == nil {
		return nil
	}
	return fmt.Errorf("%w: %w: %s", ErrNotReady, efferent.ErrStaleInput, strings.Join(list, "; "))
}

// refresh is input.refresh under b.fmu.
func (b *Bridge) refresh(in *input, stamp, arrival time.Time) time.Time {
	b.fmu.Lock()
	defer b.fmu.Unlock()
	return in.refresh(stamp, arrival)
}

// resetInputsLocked (the caller holds b.fmu) forgets every input's messages at a (re)connection:
// the new connection must deliver before the robot moves again.
func (b *Bridge) resetInputsLocked(now time.Time) {
	b.since = now
	for _, in := range b.inputs {
		if in.src == nil {
			in.last, in.stamp = time.Time{}, time.Time{}
		}
	}
}
