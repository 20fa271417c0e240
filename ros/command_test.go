package ros

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/calibration"
	"github.com/efferent/efferent/robot"
)

func TestQuaternionRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		v := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		if n := norm(v); n > 3 { // stay below π for a unique axis-angle
			for i := range v {
				v[i] *= 3 / n
			}
		}
		q := quatFromAxisAngle(v)
		back := q.axisAngle()
		for i := range v {
			if math.Abs(back[i]-v[i]) > 1e-9 {
				t.Fatalf("axis-angle %v → %v → %v", v, q, back)
			}
		}
		// Through a column-major transform, as libfranka sends it.
		r := rotation(q)
		var m [16]float64
		for row := range 3 {
			for col := range 3 {
				m[col*4+row] = r[row][col]
			}
		}
		m[12], m[13], m[14], m[15] = 1, 2, 3, 1
		p := poseFromColumnMajor(m)
		if p.q.angle(q) > 1e-6 || p.p != [3]float64{1, 2, 3} { // acos near 1 resolves ~1e-8
			t.Fatalf("pose from matrix: %v, want %v", p, q)
		}
	}
}

// rotation is q's rotation matrix (test helper, the inverse of
// quatFromMatrix).
func rotation(q quat) [3][3]float64 {
	r, _ := calibration.RotationFromQuaternion(q[1], q[2], q[3], q[0])
	return r
}

// The commanded pose never leaves the workspace, never moves faster than
// max_speed / max_rotation_speed per tick and never leads the measured
// pose by more than max_lead, whatever the setpoints (random, huge, sign
// flips).
func TestArmIntegratorBounds(t *testing.T) {
	prof, _ := robot.Load("franka")
	a := newArmIntegrator(prof)
	measured := pose{p: [3]float64{0.5, 0, 0.3}, q: quatFromAxisAngle([3]float64{math.Pi, 0, 0})}
	if _, ok := a.step(measured, []float64{1, 0, 0, 0, 0, 0, 0}, false, time.Now()); ok {
		t.Fatal("commanded before a measured pose anchored the target")
	}
	a.anchor(measured)
	rng := rand.New(rand.NewPCG(3, 4))
	prev := a.target
	dt := prof.Period().Seconds()
	for i := range 100000 {
		v := make([]float64, 7)
		for j := range v {
			v[j] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(5)-2))
		}
		if i%3000 < 1500 {
			v[0] = 5 // a long push one way: the arm falls behind
		}
		if i%1000 == 0 { // the arm follows, slowly
			measured.p = a.target.p
		}
		got, ok := a.step(measured, v, i%97 == 0, time.Time{})
		if !ok {
			t.Fatal("not ok after anchoring")
		}
		var dp [3]float64
		for j := range 3 {
			if got.p[j] < prof.Limits.WorkspaceMin[j]-1e-12 || got.p[j] > prof.Limits.WorkspaceMax[j]+1e-12 {
				t.Fatalf("tick %d: position %v outside the workspace", i, got.p)
			}
			dp[j] = got.p[j] - measured.p[j]
		}
		if norm(dp) > prof.Action.MaxLead+1e-12 {
			t.Fatalf("tick %d: leads the measured pose by %g > max_lead", i, norm(dp))
		}
		step := [3]float64{got.p[0] - prev.p[0], got.p[1] - prev.p[1], got.p[2] - prev.p[2]}
		if i%1000 != 0 && norm(step) > prof.Limits.MaxSpeed*dt+1e-12 {
			t.Fatalf("tick %d: moved %g m in one tick, max %g", i, norm(step), prof.Limits.MaxSpeed*dt)
		}
		if got.q.angle(prev.q) > prof.Limits.MaxRotationSpeed*dt+1e-6 {
			t.Fatalf("tick %d: turned %g rad in one tick", i, got.q.angle(prev.q))
		}
		prev = got
	}
	if a.speedClamps == 0 || a.leadClamps == 0 {
		t.Fatalf("bounds never acted: speed %d lead %d", a.speedClamps, a.leadClamps)
	}
}

// A twist stays within its caps and changes by at most max_accel·dt per
// tick, including on the way to a hold.
func TestTwistLimiter(t *testing.T) {
	prof, _ := robot.Load("quadruped")
	tl := newTwistLimiter(prof)
	dv := prof.Limits.MaxAccel * prof.Period().Seconds()
	rng := rand.New(rand.NewPCG(5, 6))
	var prev [3]float64
	for i := range 10000 {
		v := []float64{rng.NormFloat64() * 3, rng.NormFloat64() * 3, rng.NormFloat64() * 3}
		c := tl.step(v, i%50 > 40)
		caps := [3]float64{prof.Limits.MaxVx, prof.Limits.MaxVy, prof.Limits.MaxWz}
		for j := range c {
			if math.Abs(c[j]) > caps[j]+1e-12 || math.Abs(c[j]-prev[j]) > dv+1e-12 {
				t.Fatalf("tick %d: command %v after %v (caps %v, max change %g)", i, c, prev, caps, dv)
			}
		}
		prev = c
	}
	for range 100 { // holding reaches zero
		prev = tl.step(nil, true)
	}
	if prev != [3]float64{} {
		t.Fatalf("after holding: %v", prev)
	}
}

func TestGripperLatch(t *testing.T) {
	g := gripperLatch{threshold: 0.5}
	var sent []bool
	for _, v := range []float64{0, 0.3, 0.9, 1, 0.2, -0.2, 0.8, -0.7, -1, -0.6, 0.6} {
		if send, closed := g.update(v); send {
			sent = append(sent, closed)
		}
	}
	want := []bool{true, false, true}
	if len(sent) != len(want) {
		t.Fatalf("commands %v, want %v (close, open, close)", sent, want)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Fatalf("commands %v, want %v", sent, want)
		}
	}
}

func TestImageToRGB(t *testing.T) {
	// 2x2 bgra8 with a padded step.
	m := imageMsg(2, 2, "bgra8", 10, []byte{1, 2, 3, 255, 4, 5, 6, 255, 0, 0, 7, 8, 9, 255, 10, 11, 12, 255, 0, 0})
	var im = newImage()
	if err := imageToRGB(m, im); err != nil {
		t.Fatal(err)
	}
	if want := []byte{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}; string(im.Pix) != string(want) {
		t.Fatalf("pix %v, want %v", im.Pix, want)
	}
	for _, bad := range []struct {
		enc  string
		step uint32
		n    int
	}{{"yuv422", 6, 12}, {"rgb8", 5, 12}, {"rgb8", 6, 10}} {
		if err := imageToRGB(imageMsg(2, 2, bad.enc, bad.step, make([]byte, bad.n)), im); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func imageMsg(h, w uint32, enc string, step uint32, data []byte) *sensor_msgs.Image {
	return &sensor_msgs.Image{Height: h, Width: w, Encoding: enc, Step: step, Data: data}
}

func newImage() *efferent.Image { return &efferent.Image{} }

// TestReportAllocatesNothing: the verdict reported on every controller
// tick costs nothing until it changes.
func TestReportAllocatesNothing(t *testing.T) {
	b := &Bridge{}
	b.verdict.Store("")
	v := efferent.Verdict{Kind: efferent.Clamped, Reason: "position_limit"}
	b.Report(v)
	if a := testing.AllocsPerRun(100, func() { b.Report(v) }); a != 0 {
		t.Fatalf("%v allocations per unchanged report", a)
	}
	if s, _ := b.verdict.Load().(string); s != "clamped: position_limit" {
		t.Fatalf("status text %q", s)
	}
}
