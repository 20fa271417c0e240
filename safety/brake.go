package safety

import "math"

// The motion gate's per-axis mathematics. Each limited axis is a discrete
// chain of integrators at the controller period dt:
//
//	a' = a + j·dt     |j| ≤ J     (s = J·dt: the most a may change per tick)
//	v' = v + a'·dt    |a'| ≤ A
//	x' = x + v'·dt    |v'| ≤ V,  Min ≤ x' ≤ Max
//
// so the finite differences of the emitted positions are exactly v, a and
// j: bounding the state bounds what a controller downstream sees.
//
// Bounding one tick is not enough: a state can respect every limit and
// still be unable to stop before the position limit, or to shed its
// acceleration before the velocity limit. So the gate moves only to safe
// states. A state is safe when the braking policy brakeAcc, applied from it
// tick after tick, comes to rest (v = a = 0 exactly) without leaving the
// limits — checked by simulating it (rollout). brakeAcc is a pure function
// of (v, a), so the braking run from the state after one braking tick is
// the tail of the run from before it: braking from a safe state leads to a
// safe state. The gate therefore always has a safe move — brake — and it
// starts safe (at rest, within the limits), so by induction every emitted
// state is safe and no limit is ever exceeded, whatever the input.

// axisLimits are one axis's bounds in physical units.
type axisLimits struct {
	lo, hi     float64 // position; ±Inf when unbounded
	vmax, amax float64 // |v| ≤ vmax, |a| ≤ amax
	s          float64 // |Δa| per tick ≤ s (J·dt)
	dt         float64
	steps      int // rollouts longer than this are not safe (see newAxisLimits)
}

func newAxisLimits(lo, hi, v, a, j, dt float64) axisLimits {
	s := 2 * a // no jerk bound: a may go from −A to A in one tick
	if j > 0 {
		s = min(j*dt, 2*a)
	}
	// The longest braking run: ramp a from +A to −A (2A/s ticks), shed a
	// velocity of at most V + A²dt/s at A per tick, ramp back (A/s), and
	// the last few ticks that take rounding residues to exactly zero.
	steps := 3*a/s + (v+a*a*dt/s)/(a*dt) + 64
	return axisLimits{lo: lo, hi: hi, vmax: v, amax: a, s: s, dt: dt, steps: int(math.Ceil(2 * steps))}
}

// brakeAcc is the braking policy: the acceleration for the next tick that
// slows |v| down the fastest while still being able to ramp the
// acceleration back to zero exactly as v reaches zero (no overshoot), within
// the acceleration and jerk bounds. A state with v = a = 0 stays so.
//
// The no-overshoot acceleration: after a' = −(m·s + r), 0 ≤ r < s, ramping
// back at s per tick reaches zero after m more ticks having changed v by
// −dt·(s·m(m+1)/2 + (m+1)·r); equating that with v gives m and r.
func (l *axisLimits) brakeAcc(v, a float64) float64 {
	sign := 1.0
	if v < 0 || (v == 0 && a < 0) {
		sign, v, a = -1, -v, -a
	}
	w := v / l.dt
	m := math.Floor((math.Sqrt(1+8*w/l.s) - 1) / 2)
	if m > 0 && l.s*m*(m+1)/2 > w { // rounding of the square root
		m--
	}
	if l.s*(m+1)*(m+2)/2 <= w {
		m++
	}
	r := (w - l.s*m*(m+1)/2) / (m + 1)
	want := -(m*l.s + r)
	acc := min(max(want, a-l.s, -l.amax), a+l.s, l.amax)
	return sign * acc
}

// rollout brakes from (x, v, a) to rest and returns where it stops; ok is
// false when the run leaves [lo, hi] or exceeds the velocity bound, or does
// not come to rest within the axis's step budget.
func (l *axisLimits) rollout(x, v, a, lo, hi, vmax float64) (stop float64, ok bool) {
	for range l.steps {
		if v == 0 && a == 0 {
			return x, true
		}
		a = l.brakeAcc(v, a)
		v += a * l.dt
		x += v * l.dt
		if x < lo || x > hi || math.Abs(v) > vmax {
			return x, false
		}
	}
	return x, false
}

// axis is one limited axis's state: position x, velocity v and
// acceleration a of what was emitted, in physical units.
type axis struct {
	axisLimits
	x, v, a float64
}

// next returns the state after one tick with acceleration acc.
func (s *axis) next(acc float64) (x, v float64) {
	v = s.v + acc*s.dt
	return s.x + v*s.dt, v
}

// envelope is the position range a move may use: the limits, widened to
// include the current position when the axis starts outside them (it is
// then allowed back in, never further out).
func (s *axis) envelope() (lo, hi float64) {
	return min(s.lo, s.x), max(s.hi, s.x)
}

// accRange is the accelerations allowed for the next tick by the jerk,
// acceleration and velocity bounds alone.
func (s *axis) accRange() (lo, hi float64) {
	lo = max(s.a-s.s, -s.amax, (-s.vmax-s.v)/s.dt)
	hi = min(s.a+s.s, s.amax, (s.vmax-s.v)/s.dt)
	return lo, hi
}

// safe reports whether accelerating at acc this tick leads to a safe state.
func (s *axis) safe(acc float64) bool {
	lo, hi := s.envelope()
	x, v := s.next(acc)
	if x < lo || x > hi || math.Abs(v) > s.vmax {
		return false
	}
	if s.clearlySafe(x, v, acc, lo, hi) {
		return true
	}
	_, ok := s.rollout(x, v, acc, lo, hi, s.vmax)
	return ok
}

// clearlySafe is a conservative shortcut for the rollout, which costs a few
// hundred steps: far from the position limits and well below the velocity
// bound, the braking run cannot reach them. While the braking policy ramps
// the acceleration toward the braking direction (by s per tick), the speed
// changes by at most dt·|a|(|a|/s + 1) — up when a points along v, through
// a reversal when it points against; the run then lasts at most the time
// to shed that speed at full deceleration plus the ramps, covering at most
// its continuous-time distance v²/2A plus the speed times the ramp ticks.
// A margin of 1.5 and 4 ticks, in both directions, covers the discrete
// policy's shortfall (TestClearlySafeImpliesRollout checks it).
func (s *axis) clearlySafe(x, v, a, lo, hi float64) bool {
	aa := math.Abs(a)
	vb := math.Abs(v) + s.dt*aa*(aa/s.s+1)
	if vb > 0.9*s.vmax {
		return false
	}
	d := 1.5*(vb*vb/(2*s.amax)+vb*s.dt*((2*s.amax+aa)/s.s+4)) + s.dt*vb
	return x+d < hi && x-d > lo
}

// apply moves the state by one tick at acc.
func (s *axis) apply(acc float64) {
	s.x, s.v = s.next(acc)
	s.a = acc
}

// brake applies one tick of the braking policy. From a safe state it is
// always safe.
func (s *axis) brake() { s.apply(s.brakeAcc(s.v, s.a)) }

// atRest reports whether the axis has stopped.
func (s *axis) atRest() bool { return s.v == 0 && s.a == 0 }

// bisections of the acceleration in track: 2^-12 of the allowed range.
const bisections = 12

// track moves one tick toward the target position y, which moves at vt. It
// reproduces y exactly when that is within every bound, arrives at about
// the target's velocity and leads to a safe state (passed); otherwise it picks the acceleration that would bring the
// axis to the target's position and velocity with the braking policy's
// profile (so a step is approached without overshoot and a moving target
// is caught up with), limited to what is safe.
func (s *axis) track(y, vt float64) (passed bool) {
	lo, hi := s.accRange()
	// Passing lands on y with the velocity (y − x)/dt; when that is far
	// from the target's own velocity (y is standing still while the axis
	// arrives fast), landing now would overshoot on the next tick.
	vpass := (y - s.x) / s.dt
	if apass := (vpass - s.v) / s.dt; apass >= lo && apass <= hi && math.Abs(vpass-vt) <= s.amax*s.dt && s.safe(apass) {
		s.apply(apass)
		return true
	}
	want := s.aim(y, vt, lo, hi)
	if !s.safe(want) {
		// Safe toward brakeAcc: keep the safe end of the bisection.
		b := s.brakeAcc(s.v, s.a)
		for range bisections {
			mid := (b + want) / 2
			if s.safe(mid) {
				b = mid
			} else {
				want = mid
			}
		}
		want = b
	}
	s.apply(want)
	return false
}

// aim returns the acceleration in [lo, hi] after which braking relative to
// a target at y moving at vt ends on the target (bisection: the relative
// stopping offset grows with the acceleration).
func (s *axis) aim(y, vt, lo, hi float64) float64 {
	if lo > hi { // only by rounding at the velocity bound
		lo = hi
	}
	if s.offset(lo, y, vt) >= 0 {
		return lo
	}
	if s.offset(hi, y, vt) <= 0 {
		return hi
	}
	for range bisections {
		mid := (lo + hi) / 2
		if s.offset(mid, y, vt) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// offset is where braking to the target's velocity after accelerating at
// acc ends, relative to the target (positive: beyond it). It steers, it
// does not decide safety, so the continuous-time stopping distance stands
// in for the braking rollout: the gate aims again every tick.
func (s *axis) offset(acc, y, vt float64) float64 {
	x, v := s.next(acc)
	return x - y + s.stopDistance(v-vt, acc)
}

// stopDistance is how far a continuous jerk-limited stop from velocity v
// and acceleration a travels: ramp the acceleration to the peak
// deceleration (the bound A, or less for a short stop), hold it, ramp it
// back to zero as the velocity reaches zero.
func (l *axisLimits) stopDistance(v, a float64) float64 {
	sign := 1.0
	if v < 0 || (v == 0 && a < 0) {
		sign, v, a = -1, -v, -a
	}
	j, amax := l.s/l.dt, l.amax
	ap, t2 := amax, (v+a*a/(2*j)-amax*amax/j)/amax
	if t2 < 0 { // no time at full deceleration
		ap, t2 = math.Sqrt(j*v+a*a/2), 0
	}
	if ap < -a { // already braking harder than needed: ramp straight back
		ap = -a
	}
	var x float64
	phase := func(t, jerk float64) {
		x += v*t + a*t*t/2 + jerk*t*t*t/6
		v += a*t + jerk*t*t/2
		a += jerk * t
	}
	phase((a+ap)/j, -j)
	phase(t2, 0)
	phase(ap/j, j)
	return sign * x
}
