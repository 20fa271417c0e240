package legged

import "math"

// Dynamics of the command-following locomotion controller, as a
// high-level policy sees it. See the package documentation for the model.
const (
	// MaxAccel and MaxYawAccel bound how fast the body's velocities change:
	// |Δv| ≤ a·dt on every step, exactly.
	MaxAccel    = 2.0 // m/s², vx and vy each
	MaxYawAccel = 4.0 // rad/s²
	// LagTau is the velocity-tracking time constant at a 2 Hz gait; it
	// scales as 1/gait frequency (τ = LagTau·2/GaitHz): a faster gait
	// places the feet more often, so it corrects velocity errors sooner.
	LagTau = 0.25 // s
	// CrawlHeight: below it the body crawls, and its speed is capped at
	// CrawlMaxVX, CrawlMaxVY (the legs are folded, strides are short).
	CrawlHeight = 0.20
	CrawlMaxVX  = 0.3
	CrawlMaxVY  = 0.15
	// HeightRate is how fast the body height follows its command.
	HeightRate = 0.3 // m/s
	// StopFlag: a command's stop entry at or above it holds the base still.
	StopFlag = 0.5
)

// clipCommand clips each command entry to the controller's envelope.
func clipCommand(dst *[CommandDim]float64, cmd []float64) {
	lo := [CommandDim]float64{-MaxVX, -MaxVY, -MaxWZ, MinHeight, MinGaitHz, MinSwing, 0}
	hi := [CommandDim]float64{MaxVX, MaxVY, MaxWZ, MaxHeight, MaxGaitHz, MaxSwing, 1}
	for i := range dst {
		dst[i] = clamp(cmd[i], lo[i], hi[i])
	}
}

// CommandLimits returns the bounds Step clips each command entry to.
func CommandLimits() (lo, hi [CommandDim]float64) {
	return [CommandDim]float64{-MaxVX, -MaxVY, -MaxWZ, MinHeight, MinGaitHz, MinSwing, 0},
		[CommandDim]float64{MaxVX, MaxVY, MaxWZ, MaxHeight, MaxGaitHz, MaxSwing, 1}
}

// LagTime returns the velocity-tracking time constant at gait frequency hz.
func LagTime(hz float64) float64 { return LagTau * 2 / hz }

// track moves v toward target by the first-order lag (time constant tau)
// and then limits the change to a·dt.
func track(v, target, tau, a, dt float64) float64 {
	dv := (target - v) * (1 - math.Exp(-dt/tau))
	lim := a * dt
	return v + clamp(dv, -lim, lim)
}

// step advances the base by dt under the (clipped) command c. It returns
// whether the move was refused by a collision. Order: velocities first
// (from the height at the start of the step, which sets the crawl cap),
// then height (kept under any bar the footprint is under), then the pose;
// a pose whose footprint would overlap an object or leave the arena is
// refused.
func (w *World) step(c *[CommandDim]float64, dt float64) (collided bool) {
	b := &w.Base
	b.GaitHz, b.Swing = c[CmdGaitHz], c[CmdSwing]
	tx, ty, tw := c[CmdVX], c[CmdVY], c[CmdWZ]
	b.Stopped = c[CmdStop] >= StopFlag
	if b.Stopped {
		tx, ty, tw = 0, 0, 0
	}
	if b.Pos[2] < CrawlHeight {
		tx = clamp(tx, -CrawlMaxVX, CrawlMaxVX)
		ty = clamp(ty, -CrawlMaxVY, CrawlMaxVY)
	}
	tau := LagTime(b.GaitHz)
	b.Vel[0] = track(b.Vel[0], tx, tau, MaxAccel, dt)
	b.Vel[1] = track(b.Vel[1], ty, tau, MaxAccel, dt)
	b.Vel[2] = track(b.Vel[2], tw, tau, MaxYawAccel, dt)

	// Height: toward the command at HeightRate, never up into a bar the
	// body is under (it cannot stand up through it).
	h := b.Pos[2] + clamp(c[CmdHeight]-b.Pos[2], -HeightRate*dt, HeightRate*dt)
	if under, hmax := w.underBar(b.Pos[0], b.Pos[1]); under && h > hmax {
		h = math.Max(hmax, math.Min(b.Pos[2], h))
	}
	b.Pos[2] = h

	// Pose: integrate the body-frame velocity at the step's mid heading.
	yaw := b.Yaw + b.Vel[2]*dt
	s, co := math.Sincos(b.Yaw + b.Vel[2]*dt/2)
	x := b.Pos[0] + (co*b.Vel[0]-s*b.Vel[1])*dt
	y := b.Pos[1] + (s*b.Vel[0]+co*b.Vel[1])*dt
	b.Yaw = wrapAngle(yaw)
	if (x != b.Pos[0] || y != b.Pos[1]) && !w.freeAt(x, y, BodyRadius, h+BodyThickness/2) {
		// The footprint is a disc, so turning never collides; only the
		// translation is refused, and the body's linear velocity is lost
		// against the obstacle.
		b.Vel[0], b.Vel[1] = 0, 0
		collided = true
	} else {
		b.Pos[0], b.Pos[1] = x, y
	}
	b.Phase = math.Mod(b.Phase+b.GaitHz*dt, 1)
	return collided
}
