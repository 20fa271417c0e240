package simrobot

import (
	"math"
	"time"

	"github.com/efferent/efferent/sim"
)

// armState is the impedance controller's memory: nothing beyond the
// simulator's own state is needed for a first-order lag, so it only
// records what was last tracked (for O_T_EE_d).
type armState struct {
	target armPose
}

func (a *armState) reset(w *sim.World) {
	a.target = armPose{p: w.Gripper.Pos, q: w.Gripper.Quat}
}

// physics advances the simulation by step: the arm toward the
// equilibrium pose (when tracking; otherwise it holds where it is), the
// fingers toward the move goal, or the quadruped by its commands.
func (n *Node) physics(tick time.Duration, tracking bool, now time.Time) error {
	if n.legs != nil {
		return n.legsPhysics(tick, tracking, now)
	}
	dt := tick.Seconds()
	w := n.env.World()
	g := &w.Gripper
	n.mu.Lock()
	cmd, have := n.cmd, n.haveCmd
	width, speed := n.gripWidth, n.gripSpeed
	n.mu.Unlock()
	if !tracking || !have {
		cmd = armPose{p: g.Pos, q: g.Quat}
	}
	n.arm.target = cmd
	var a [sim.ActionDim]float64
	lim := n.prof.Hardware
	vmax, wmax := lim.MaxSpeed, lim.MaxRotationSpeed
	if vmax <= 0 {
		vmax = 1.7
	}
	if wmax <= 0 {
		wmax = 2.5
	}
	// First-order lag, discretised exactly: the error shrinks by
	// exp(−dt/τ) per tick, unless that is faster than the speed bound.
	alpha := 1.0
	if tau := n.conf.Lag.Seconds(); tau > 0 {
		alpha = 1 - math.Exp(-dt/tau)
	}
	e := cmd.p.Sub(g.Pos)
	step := e.Scale(alpha)
	if d := step.Norm(); d > vmax*dt {
		step = step.Scale(vmax * dt / d)
	}
	for k := range 3 {
		a[k] = step[k] / sim.PosScale
	}
	// Orientation: the world-frame rotation from the current to the
	// target orientation, the short way round, scaled the same way. No
	// rotation at all when they agree, so that an arm pointing straight
	// down keeps its exact quaternion (the state's axis-angle flips sign
	// across w = 0).
	dq := cmd.q.Mul(g.Quat.Conj())
	if dq.W < 0 {
		dq = sim.Quat{W: -dq.W, X: -dq.X, Y: -dq.Y, Z: -dq.Z}
	}
	if s := math.Sqrt(dq.X*dq.X + dq.Y*dq.Y + dq.Z*dq.Z); s > 1e-9 {
		ang := 2 * math.Atan2(s, dq.W)
		turn := math.Min(ang*alpha, wmax*dt)
		for k, v := range [3]float64{dq.X, dq.Y, dq.Z} {
			a[3+k] = v / s * turn / sim.RotScale
		}
	}
	// Fingers: toward width/2 at speed/2 each. The sim moves a finger
	// toward its command by up to FingerSpeed per step (far more than a
	// millisecond of franka_gripper's motion), so the command is the
	// finger's next position; an object in the way stops it (grasp).
	target := math.Min(math.Max(width/2, 0), sim.FingerOpen)
	fs := speed / 2
	if fs <= 0 {
		fs = 0.05
	}
	next := g.Finger + math.Min(math.Max(target-g.Finger, -fs*dt), fs*dt)
	a[6] = 1 - 2*next/sim.FingerOpen
	return n.env.Step(a[:])
}

// columnMajor is the 4×4 homogeneous transform of (p, q), column by
// column (libfranka's O_T_EE).
func columnMajor(p sim.Vec3, q sim.Quat) [16]float64 {
	var m [16]float64
	for col, axis := range []sim.Vec3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}} {
		r := q.Rotate(axis)
		m[col*4], m[col*4+1], m[col*4+2] = r[0], r[1], r[2]
	}
	m[12], m[13], m[14], m[15] = p[0], p[1], p[2], 1
	return m
}
