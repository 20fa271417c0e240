package ros

import (
	"math"
	"time"

	"github.com/efferent/efferent/robot"
)

// armIntegrator turns ee_delta setpoints (per-tick Δxyz and Δaxis-angle in
// policy units) into the commanded end-effector pose: integrated onto the
// measured pose, never more than MaxLead ahead of it, never faster than
// the profile's speeds, never outside the workspace box.
type armIntegrator struct {
	prof   *robot.Profile
	dt     float64 // controller period, s
	target pose
	have   bool // target is anchored (a measured pose has been seen)

	// While an input is stale the commanded pose may only slow down: each
	// step at most as long as the one before (lastT, lastR: translation in
	// m, rotation in rad), and not at all from freezeAt on. The loop's
	// motion gate brakes within the limits meanwhile (robot.Profile.
	// StopTime bounds it, and freezeAt is that far after the onset), so
	// its braking passes unchanged; a producer that does not brake (a
	// loop that does not know the input is stale) cannot move the arm
	// faster than it already was, nor for longer than a controlled stop.
	stale        bool
	freezeAt     time.Time
	lastT, lastR float64
	// reanchor: anchor on the measured pose at the next motion (endStale).
	reanchor bool

	// Counters of the bounds that acted (owner goroutine only).
	speedClamps, leadClamps, workspaceClamps uint64
}

func newArmIntegrator(p *robot.Profile) *armIntegrator {
	return &armIntegrator{prof: p, dt: p.Period().Seconds()}
}

// anchor makes the measured pose the target (at start, and when the robot
// resumes after a hold imposed from outside, e.g. the master's loss).
func (a *armIntegrator) anchor(measured pose) {
	a.target, a.have = measured, true
	a.clampWorkspace()
}

// beginStale starts the braking envelope (see stale): no motion from
// freezeAt on.
func (a *armIntegrator) beginStale(freezeAt time.Time) {
	a.stale, a.freezeAt = true, freezeAt
}

// endStale ends the braking envelope: the inputs are fresh again. The
// target is anchored anew on the measured pose when motion resumes (the
// first setpoint that is not a hold: a fresh inference's): whatever it led
// by before (the lead bound lets it run up to max_lead ahead of an arm
// that was stopped, blocked or moved while nobody could see it) must not
// spring the arm then. Until that setpoint the held target stays.
func (a *armIntegrator) endStale() { a.stale, a.reanchor = false, true }

// step advances the target by v (nil or hold: no motion) and returns it.
// ok is false until a measured pose has anchored the target: nothing may
// be commanded before the robot's pose is known.
func (a *armIntegrator) step(measured pose, v []float64, hold bool, now time.Time) (pose, bool) {
	if !a.have {
		return pose{}, false
	}
	if hold || len(v) < 6 || a.stale && !now.Before(a.freezeAt) {
		a.lastT, a.lastR = 0, 0
		return a.target, true
	}
	act := a.prof.Action
	lim := a.prof.Limits
	dp := [3]float64{v[0] * act.TranslationScale, v[1] * act.TranslationScale, v[2] * act.TranslationScale}
	if n, maxStep := norm(dp), lim.MaxSpeed*a.dt; n > maxStep {
		for i := range dp {
			dp[i] *= maxStep / n
		}
		a.speedClamps++
	}
	dr := [3]float64{v[3] * act.RotationScale, v[4] * act.RotationScale, v[5] * act.RotationScale}
	if n, maxStep := norm(dr), lim.MaxRotationSpeed*a.dt; n > maxStep {
		for i := range dr {
			dr[i] *= maxStep / n
		}
		a.speedClamps++
	}
	if a.stale {
		capStep(&dp, a.lastT)
		capStep(&dr, a.lastR)
	}
	a.lastT, a.lastR = norm(dp), norm(dr)
	for i := range dp {
		a.target.p[i] += dp[i]
	}
	// Rotations are deltas in the base frame, as LIBERO's controller
	// applies them.
	a.target.q = quatFromAxisAngle(dr).mul(a.target.q).normalized()
	// Bounded lead: an impedance controller lags its equilibrium pose; a
	// target far ahead (the arm blocked, or slower than commanded) would
	// store a spring that releases at once.
	var lead [3]float64
	for i := range lead {
		lead[i] = a.target.p[i] - measured.p[i]
	}
	if n := norm(lead); n > act.MaxLead {
		for i := range lead {
			a.target.p[i] = measured.p[i] + lead[i]*act.MaxLead/n
		}
		a.leadClamps++
	}
	a.clampWorkspace()
	return a.target, true
}

func (a *armIntegrator) clampWorkspace() {
	lim := a.prof.Limits
	clamped := false
	for i := range 3 {
		if x := math.Min(math.Max(a.target.p[i], lim.WorkspaceMin[i]), lim.WorkspaceMax[i]); x != a.target.p[i] {
			a.target.p[i], clamped = x, true
		}
	}
	if clamped {
		a.workspaceClamps++
	}
}

func norm(v [3]float64) float64 { return math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2]) }

// capStep shortens d to at most maxLen.
func capStep(d *[3]float64, maxLen float64) {
	if n := norm(*d); n > maxLen {
		for i := range d {
			d[i] *= maxLen / n
		}
	}
}

// twistLimiter bounds a body-velocity command: each component within its
// cap and changing by at most MaxAccel per second, so a new chunk or a
// hold never steps the command; holding decelerates to zero.
type twistLimiter struct {
	prof  *robot.Profile
	dt    float64
	last  [3]float64
	clamp uint64
}

func newTwistLimiter(p *robot.Profile) *twistLimiter {
	return &twistLimiter{prof: p, dt: p.Period().Seconds()}
}

// step returns the command for v (vx, vy, wz), or, when hold, the next
// command on the way to zero.
func (t *twistLimiter) step(v []float64, hold bool) [3]float64 {
	l := t.prof.Limits
	var want [3]float64
	if !hold && len(v) >= 3 {
		caps := [3]float64{l.MaxVx, l.MaxVy, l.MaxWz}
		for i := range want {
			want[i] = math.Min(math.Max(v[i], -caps[i]), caps[i])
			if want[i] != v[i] {
				t.clamp++
			}
		}
	}
	dv := l.MaxAccel * t.dt
	for i := range want {
		t.last[i] += math.Min(math.Max(want[i]-t.last[i], -dv), dv)
	}
	return t.last
}

// stop forgets the last command: the next is computed from rest (after
// explicit zeros were sent by the watchdog).
func (t *twistLimiter) stop() { t.last = [3]float64{} }

// gripperLatch is the hysteresis between a policy's continuous gripper
// value and a binary open/close command sent only on a change.
type gripperLatch struct {
	threshold float64
	closed    bool
	known     bool
}

// update returns whether a command must be sent, and which.
func (g *gripperLatch) update(v float64) (send, closed bool) {
	switch {
	case v > g.threshold && (!g.known || !g.closed):
		g.closed, g.known = true, true
		return true, true
	case v < -g.threshold && (!g.known || g.closed):
		g.closed, g.known = false, true
		return true, false
	}
	return false, g.closed
}
