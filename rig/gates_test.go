package rig

import (
	"math"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/robot"
)

// The Franka profile's motion gate turns the policy's per-tick deltas —
// which step at every policy step — into end-effector motion within the
// lab envelope: speed, acceleration and jerk bounded, inside the workspace
// box, and a hold that decelerates.
func TestFrankaMotionGate(t *testing.T) {
	p, err := robot.Load("franka")
	if err != nil {
		t.Fatal(err)
	}
	start := []float64{0.5, 0, 0.6, math.Pi, 0, 0, 0, 0} // Observe's state: eef position first
	g, err := ProfileMotion(p, start)
	if err != nil || g == nil {
		t.Fatalf("gate %v, err %v", g, err)
	}
	dt := p.Period().Seconds()
	l := p.Limits
	pos := [3]float64{0.5, 0, 0.6}
	var vel, acc [3]float64
	sp := efferent.Setpoint{Values: make([]float64, 7)}
	maxSpeed := 0.0
	check := func(tick int) {
		for i := range 3 {
			x := pos[i] + sp.Values[i]*p.Action.TranslationScale
			v := (x - pos[i]) / dt
			a := (v - vel[i]) / dt
			j := (a - acc[i]) / dt
			if x < l.WorkspaceMin[i]-1e-9 || x > l.WorkspaceMax[i]+1e-9 || math.Abs(v) > l.MaxSpeed*(1+1e-6) ||
				math.Abs(a) > l.MaxAccel*(1+1e-6)+1e-6 || math.Abs(j) > l.MaxJerk*(1+1e-6)+1e-3 {
				t.Fatalf("tick %d axis %d: x %g v %g a %g j %g", tick, i, x, v, a, j)
			}
			pos[i], vel[i], acc[i] = x, v, a
			maxSpeed = max(maxSpeed, math.Abs(v))
		}
	}
	// 3 s of a policy pushing +x and −z at full scale (1 unit per 50 ms
	// step = 1 m/s, four times the lab speed), flipping y every step.
	for k := range 3000 {
		sp.Hold = false
		sp.Values[0], sp.Values[2] = 1.0/50, -1.0/50
		sp.Values[1] = 0.5 / 50
		if (k/50)%2 == 1 {
			sp.Values[1] = -0.5 / 50
		}
		sp.Values[6] = 1
		g.Check(&sp)
		check(k)
	}
	if math.Abs(maxSpeed-l.MaxSpeed) > 1e-6 {
		t.Fatalf("top speed %g, want the limit %g", maxSpeed, l.MaxSpeed)
	}
	if pos[2] > l.WorkspaceMin[2]+1e-9 {
		t.Fatalf("z %g: 3 s at −0.25 m/s from 0.6 should have reached the floor of the box %g", pos[2], l.WorkspaceMin[2])
	}
	if sp.Values[6] != 1 {
		t.Fatalf("gripper %g, want passed through", sp.Values[6])
	}
	// Back along −x at full speed for 0.6 s, then an e-stop (a hold from
	// the gates before): a controlled stop from 0.25 m/s at 2 m/s² takes
	// at least 125 ms, not one tick.
	for k := range 600 {
		sp.Hold = false
		clear(sp.Values)
		sp.Values[0] = -1.0 / 50
		g.Check(&sp)
		check(3000 + k)
	}
	if math.Abs(vel[0]+l.MaxSpeed) > 1e-6 {
		t.Fatalf("vx %g before the stop, want %g", vel[0], -l.MaxSpeed)
	}
	n := 0
	for sp.Hold = true; ; sp.Hold = true {
		g.Check(&sp)
		check(3600 + n)
		n++
		if sp.Hold {
			break
		}
		if n > 1000 {
			t.Fatal("no stop within 1 s")
		}
	}
	t.Logf("controlled stop from %.2f m/s: %d ticks", l.MaxSpeed, n)
	if n < 125 || n > 200 {
		t.Fatalf("stopped in %d ticks, want a controlled stop of ~125–200", n)
	}
	if vel != [3]float64{} {
		t.Fatalf("velocity %v after the stop", vel)
	}
	if c := g.Counts(); c.Velocity == 0 || c.Hold == 0 {
		t.Fatalf("counts %+v", c)
	}
}

// The quadruped's twist components are rate commands: capped, their
// change bounded by max_accel and max_jerk, a hold ramps them to zero.
func TestQuadrupedMotionGate(t *testing.T) {
	p, err := robot.Load("quadruped")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ProfileMotion(p, nil)
	if err != nil || g == nil {
		t.Fatalf("gate %v, err %v", g, err)
	}
	dt := p.Period().Seconds()
	sp := efferent.Setpoint{Values: make([]float64, p.Action.Dim)}
	prev, prevRate := 0.0, 0.0
	step := func() {
		g.Check(&sp)
		rate := (sp.Values[0] - prev) / dt
		if math.Abs(rate) > p.Limits.MaxAccel*(1+1e-6) || math.Abs(rate-prevRate)/dt > p.Limits.MaxJerk*(1+1e-6)+1e-6 {
			t.Fatalf("vx %g after %g: rate %g (max %g), its change %g/s (max %g)", sp.Values[0], prev, rate, p.Limits.MaxAccel,
				(rate-prevRate)/dt, p.Limits.MaxJerk)
		}
		prev, prevRate = sp.Values[0], rate
	}
	for range 200 { // 4 s asking for 3 m/s forward
		sp.Hold, sp.Values[0] = false, 3
		step()
	}
	if sp.Values[0] != p.Limits.MaxVx {
		t.Fatalf("vx %g, want the cap %g", sp.Values[0], p.Limits.MaxVx)
	}
	for range 100 {
		sp.Hold = true
		step()
	}
	if !sp.Hold || sp.Values[0] != 0 {
		t.Fatalf("after 2 s of holding: vx %g hold %v, want 0 held", sp.Values[0], sp.Hold)
	}
}

// The quadruped's wz has bounds of its own (max_rotation_accel and
// max_rotation_jerk: a legged base turns faster than it accelerates), and
// the gate turns at them: not slower, as wz bounded by max_accel did.
func TestQuadrupedYawBound(t *testing.T) {
	p, err := robot.Load("quadruped")
	if err != nil {
		t.Fatal(err)
	}
	accel, jerk := p.Limits.TwistYaw()
	if accel <= p.Limits.MaxAccel {
		t.Fatalf("yaw accel %g: the shipped profile should turn faster than max_accel %g", accel, p.Limits.MaxAccel)
	}
	g, err := ProfileMotion(p, nil)
	if err != nil || g == nil {
		t.Fatalf("gate %v, err %v", g, err)
	}
	dt := p.Period().Seconds()
	sp := efferent.Setpoint{Values: make([]float64, p.Action.Dim)}
	prev, prevRate, fastest := 0.0, 0.0, 0.0
	for range 50 { // 1 s asking for a full turn rate
		sp.Values[2] = p.Limits.MaxWz
		g.Check(&sp)
		rate := (sp.Values[2] - prev) / dt
		if math.Abs(rate) > accel*(1+1e-6) || math.Abs(rate-prevRate)/dt > jerk*(1+1e-6)+1e-6 {
			t.Fatalf("wz %g after %g: rate %g (max %g), its change %g/s (max %g)", sp.Values[2], prev, rate, accel,
				(rate-prevRate)/dt, jerk)
		}
		fastest = max(fastest, rate)
		prev, prevRate = sp.Values[2], rate
	}
	if sp.Values[2] != p.Limits.MaxWz || fastest <= p.Limits.MaxAccel {
		t.Fatalf("wz %g after 1 s (want %g), fastest change %g rad/s² (want above max_accel %g)",
			sp.Values[2], p.Limits.MaxWz, fastest, p.Limits.MaxAccel)
	}
}
