package sim

import (
	"math"
	"testing"
)

// obj returns a catalogued object resting on the table at (x, y).
func obj(t *testing.T, name string, x, y float64) Object {
	t.Helper()
	o, err := NewObject(name)
	if err != nil {
		t.Fatal(err)
	}
	o.Pos = Vec3{x, y, TableZ}
	o.Start = o.Pos
	return o
}

// newWorld returns a world with the gripper open, pointing down, at p.
func newWorld(p Vec3, objs ...Object) *World {
	return &World{Objects: objs, Gripper: Gripper{Pos: p, Quat: RestQuat, Finger: FingerOpen, Held: -1}}
}

// step applies one action to w (clipping like Env.Step).
func step(w *World, a ...float64) {
	var v [7]float64
	for i := range a {
		v[i] = clamp(a[i], -1, 1)
	}
	w.apply(&v)
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestPlacement drops a held block at a given point over various scenes
// and checks where it comes to rest.
func TestPlacement(t *testing.T) {
	type check func(t *testing.T, w *World, i int)
	restsOn := func(support string, z float64) check {
		return func(t *testing.T, w *World, i int) {
			o := &w.Objects[i]
			want := OnTable
			if support != "" {
				want = w.Index(support)
			}
			if o.On != want {
				t.Fatalf("rests on %d, want %d (%q)", o.On, want, support)
			}
			if !near(o.Pos[2], z, 1e-9) {
				t.Fatalf("base at z=%.4f, want %.4f", o.Pos[2], z)
			}
		}
	}
	noOverlap := func(t *testing.T, w *World, i int) {
		o := &w.Objects[i]
		for k := range w.Objects {
			s := &w.Objects[k]
			if k != i && s.On == o.On && o.Pos.DistXY(s.Pos) < o.Radius()+s.Radius()-1e-6 {
				t.Fatalf("overlaps %s: distance %.4f < %.4f", s.Name, o.Pos.DistXY(s.Pos), o.Radius()+s.Radius())
			}
		}
	}
	insideBowl := func(bowl string) check {
		return func(t *testing.T, w *World, i int) {
			b := &w.Objects[w.Index(bowl)]
			if d := w.Objects[i].Pos.DistXY(b.Pos); d > b.InnerRadius()-w.Objects[i].Radius()+1e-9 {
				t.Fatalf("%.4f from the bowl's centre: does not fit inside", d)
			}
		}
	}
	cases := []struct {
		name   string
		scene  []Object
		x, y   float64 // release point of the red block's centre
		checks []check
	}{
		{"empty table", nil, 0, 0, []check{restsOn("", TableZ)}},
		{"on a block", []Object{obj(t, "green block", 0.01, 0)}, 0, 0.005,
			[]check{restsOn("green block", TableZ+0.05)}},
		{"in a bowl", []Object{obj(t, "blue bowl", 0.1, 0.1)}, 0.1, 0.1,
			[]check{restsOn("blue bowl", TableZ+BowlFloor), insideBowl("blue bowl")}},
		{"over a bowl's rim slides in", []Object{obj(t, "blue bowl", 0.1, 0.1)}, 0.1, 0.1 + 0.06,
			[]check{restsOn("blue bowl", TableZ+BowlFloor), insideBowl("blue bowl")}},
		{"on a plate", []Object{obj(t, "plate", -0.1, 0)}, -0.08, 0.03,
			[]check{restsOn("plate", TableZ+0.015)}},
		{"in the basket", []Object{obj(t, "basket", 0, 0)}, 0.07, 0.05,
			[]check{restsOn("basket", TableZ+BasketFloor)}},
		{"beside a block is pushed clear", []Object{obj(t, "green block", 0, 0)}, 0.04, 0,
			[]check{restsOn("", TableZ), noOverlap}},
		{"beside a bowl is pushed clear", []Object{obj(t, "blue bowl", 0, 0)}, 0.08, 0.02,
			[]check{restsOn("", TableZ), noOverlap}},
		{"a ball supports nothing", []Object{obj(t, "blue ball", 0, 0)}, 0, 0,
			[]check{restsOn("", TableZ), noOverlap}},
		{"between two blocks", []Object{obj(t, "green block", 0, -0.05), obj(t, "blue block", 0, 0.05)}, 0.001, 0,
			[]check{restsOn("", TableZ), noOverlap}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			red := obj(t, "red block", c.x, c.y)
			red.Pos[2] = TableZ + 0.12
			red.On = InHand
			w := newWorld(Vec3{c.x, c.y, TableZ + 0.145}, append([]Object{red}, c.scene...)...)
			w.Gripper.Held, w.Gripper.Finger = 0, red.GripWidth()
			w.fingers(-1) // open: release
			if w.Gripper.Held != -1 {
				t.Fatal("still held after opening")
			}
			for _, ck := range c.checks {
				ck(t, w, 0)
			}
		})
	}
}

// TestPlacementFullBowl: with no free spot left in a bowl, the released
// object rests on top of what is there, and is still "in" the bowl.
func TestPlacementFullBowl(t *testing.T) {
	bowl := obj(t, "blue bowl", 0, 0)
	green := obj(t, "green block", 0.015, 0)
	green.Pos[2], green.On = TableZ+BowlFloor, 1
	red := obj(t, "red block", -0.03, 0)
	red.Pos[2], red.On = TableZ+0.1, InHand
	w := newWorld(Vec3{-0.03, 0, TableZ + 0.125}, red, bowl, green)
	w.Gripper.Held, w.Gripper.Finger = 0, red.GripWidth()
	w.fingers(-1)
	if w.Objects[0].On != 2 || !near(w.Objects[0].Pos[2], TableZ+BowlFloor+0.05, 1e-9) {
		t.Fatalf("red rests on %d at z=%.4f, want on the green block", w.Objects[0].On, w.Objects[0].Pos[2])
	}
	if !w.Holds(Goal{Kind: GoalIn, Object: "red block", Target: "blue bowl"}) {
		t.Fatal("a block on a block in the bowl is not in the bowl")
	}
}

// TestGrasp closes the gripper in various poses relative to a block.
func TestGrasp(t *testing.T) {
	blockMid := TableZ + 0.025
	cases := []struct {
		name    string
		grip    Vec3
		scene   func(t *testing.T) []Object
		closed  bool // fingers closed before reaching the pose
		grasped bool
	}{
		{"centred", Vec3{0, 0, blockMid}, nil, false, true},
		{"within radius", Vec3{0.015, -0.01, blockMid}, nil, false, true},
		{"outside radius", Vec3{0.025, 0.01, blockMid}, nil, false, false},
		{"fingertips at the top", Vec3{0, 0, TableZ + 0.045}, nil, false, false},
		{"low on the block", Vec3{0, 0, TableZ + FingerClearance}, nil, false, true},
		{"covered by another block", Vec3{0, 0, blockMid}, func(t *testing.T) []Object {
			g := obj(t, "green block", 0, 0)
			g.Pos[2], g.On = TableZ+0.05, 0
			return []Object{g}
		}, false, false},
		{"already closed", Vec3{0, 0, blockMid}, nil, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs := []Object{obj(t, "red block", 0, 0)}
			if c.scene != nil {
				objs = append(objs, c.scene(t)...)
			}
			w := newWorld(c.grip, objs...)
			if c.closed {
				w.Gripper.Finger = 0
			}
			var fingers []float64
			for range 5 {
				step(w, 0, 0, 0, 0, 0, 0, 1)
				fingers = append(fingers, w.Gripper.Finger)
			}
			if got := w.Gripper.Held == 0; got != c.grasped {
				t.Fatalf("grasped=%v, want %v (fingers %v)", got, c.grasped, fingers)
			}
			if c.grasped {
				if w.Gripper.Finger != w.Objects[0].GripWidth() || w.Objects[0].On != InHand {
					t.Fatalf("fingers at %v, block on %d", w.Gripper.Finger, w.Objects[0].On)
				}
				// Lift it: it comes along; then let go over the table.
				step(w, 0, 0, 1, 0, 0, 0, 1)
				if !near(w.Objects[0].Pos[2]-TableZ, PosScale, 1e-9) {
					t.Fatalf("block base at %.4f above the table after lifting", w.Objects[0].Pos[2]-TableZ)
				}
				step(w, 0, 0, 0, 0, 0, 0, -1)
				if w.Gripper.Held != -1 || w.Objects[0].Pos[2] != TableZ || w.Objects[0].On != OnTable {
					t.Fatalf("after opening: held %d, block at z=%.4f on %d", w.Gripper.Held, w.Objects[0].Pos[2], w.Objects[0].On)
				}
			} else if w.Gripper.Finger != 0 {
				t.Fatalf("fingers at %v, want closed", w.Gripper.Finger)
			}
		})
	}
	// Fingers move gradually: open → closed takes FingerOpen/FingerSpeed steps.
	w := newWorld(Vec3{0, 0, TableZ + 0.2})
	var fs []float64
	for range 5 {
		step(w, 0, 0, 0, 0, 0, 0, 1)
		fs = append(fs, w.Gripper.Finger)
	}
	want := []float64{0.03, 0.02, 0.01, 0, 0}
	for i := range want {
		if !near(fs[i], want[i], 1e-12) {
			t.Fatalf("finger positions %v, want %v", fs, want)
		}
	}
}

// TestPush sweeps the gripper at various heights and directions.
func TestPush(t *testing.T) {
	low := TableZ + 0.007
	cases := []struct {
		name  string
		scene func(t *testing.T) []Object
		from  Vec3
		act   [3]float64 // per step, 6 steps
		check func(t *testing.T, w *World)
	}{
		{"plate to the left", func(t *testing.T) []Object { return []Object{obj(t, "plate", 0, 0)} },
			Vec3{0, -0.11, low}, [3]float64{0, 1, 0}, func(t *testing.T, w *World) {
				p := w.Objects[0]
				// 6 steps of 5 cm = 30 cm; contact after 11−(7.5+1.2) = 2.3 cm.
				if !near(p.Pos[1], 0.30-0.11+0.075+FingerPad, 1e-9) || p.Pos[0] != 0 {
					t.Fatalf("plate at %v", p.Pos)
				}
				if !w.Holds(Goal{Kind: GoalPush, Object: "plate", Dir: DirLeft, Dist: PushDist}) {
					t.Fatal("push goal does not hold")
				}
			}},
		{"above the plate: no push", func(t *testing.T) []Object { return []Object{obj(t, "plate", 0, 0)} },
			Vec3{0, -0.11, TableZ + 0.02}, [3]float64{0, 1, 0}, func(t *testing.T, w *World) {
				if w.Objects[0].Pos != w.Objects[0].Start {
					t.Fatalf("plate moved to %v", w.Objects[0].Pos)
				}
			}},
		{"block pushed forward, diagonal approach", func(t *testing.T) []Object { return []Object{obj(t, "red block", 0, 0)} },
			Vec3{-0.1, 0.01, TableZ + 0.02}, [3]float64{0.6, 0, 0}, func(t *testing.T, w *World) {
				b := w.Objects[0]
				if b.Pos[0] < 0.1 || b.Pos[1] != 0 || b.On != OnTable {
					t.Fatalf("block at %v", b.Pos)
				}
				if g := w.Gripper.Pos; g.DistXY(b.Pos) < b.Radius()+FingerPad-1e-6 {
					t.Fatalf("gripper %v inside the block's footprint %v", g, b.Pos)
				}
			}},
		{"plate carries its block and pushes a bowl", func(t *testing.T) []Object {
			r := obj(t, "red block", 0, 0)
			r.Pos[2], r.On = TableZ+0.015, 0
			return []Object{obj(t, "plate", 0, 0), r, obj(t, "blue bowl", 0, 0.16)}
		}, Vec3{0, -0.1, low}, [3]float64{0, 1, 0}, func(t *testing.T, w *World) {
			p, r, b := w.Objects[0], w.Objects[1], w.Objects[2]
			if r.Pos[1] != p.Pos[1] || r.On != 0 {
				t.Fatalf("block %v did not ride on the plate %v", r.Pos, p.Pos)
			}
			if b.Pos[1]-p.Pos[1] < p.Radius()+b.Radius()-1e-9 || b.Pos[1] <= 0.16 {
				t.Fatalf("bowl at %v, plate at %v", b.Pos, p.Pos)
			}
		}},
		{"the basket stops a pushed block", func(t *testing.T) []Object {
			return []Object{obj(t, "red block", 0, 0), obj(t, "basket", 0, 0.2)}
		}, Vec3{0, -0.1, low}, [3]float64{0, 1, 0}, func(t *testing.T, w *World) {
			b, k := w.Objects[0], w.Objects[1]
			if k.Pos != k.Start {
				t.Fatal("the basket moved")
			}
			if d := b.Pos.DistXY(k.Pos); d < b.Radius()+k.Radius()-1e-9 || b.Pos[1] <= 0 {
				t.Fatalf("block at %v, %.4f from the basket", b.Pos, d)
			}
		}},
		{"straddled block is not pushed", func(t *testing.T) []Object { return []Object{obj(t, "red block", 0, 0)} },
			Vec3{0, 0, TableZ + 0.15}, [3]float64{0, 0, -1}, func(t *testing.T, w *World) {
				step(w, 0.2, 0, 0, 0, 0, 0, -1) // 1 cm sideways inside the footprint
				if w.Objects[0].Pos != w.Objects[0].Start {
					t.Fatalf("block moved to %v", w.Objects[0].Pos)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(c.from, c.scene(t)...)
			for range 6 {
				step(w, c.act[0], c.act[1], c.act[2], 0, 0, 0, 1)
			}
			c.check(t, w)
		})
	}
}

// TestWorkspaceClamp drives the gripper hard in every direction.
func TestWorkspaceClamp(t *testing.T) {
	cases := []struct {
		name string
		act  [3]float64
		want func(p Vec3) bool
	}{
		{"down to the table", [3]float64{0, 0, -1}, func(p Vec3) bool { return p[2] == TableZ+FingerClearance }},
		{"up", [3]float64{0, 0, 1}, func(p Vec3) bool { return p[2] == WorkspaceMax[2] }},
		{"forward left", [3]float64{1, 1, 0}, func(p Vec3) bool { return p[0] == WorkspaceMax[0] && p[1] == WorkspaceMax[1] }},
		{"back right, beyond ±1", [3]float64{-5, -5, 0}, func(p Vec3) bool { return p[0] == WorkspaceMin[0] && p[1] == WorkspaceMin[1] }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(HomePos)
			for range 40 {
				step(w, c.act[0], c.act[1], c.act[2], 0, 0, 0, -1)
			}
			if p := w.Gripper.Pos; !c.want(p) {
				t.Fatalf("gripper at %v", p)
			}
		})
	}
	t.Run("held object stays above the table", func(t *testing.T) {
		w := newWorld(Vec3{0, 0, TableZ + 0.025}, obj(t, "red cylinder", 0, 0))
		for range 4 {
			step(w, 0, 0, 0, 0, 0, 0, 1)
		}
		if w.Gripper.Held != 0 {
			t.Fatal("not grasped")
		}
		step(w, 0, 0, 1, 0, 0, 0, 1)
		for range 5 {
			step(w, 0, 0, -1, 0, 0, 0, 1)
		}
		if b := w.Objects[0].Pos[2]; !near(b, TableZ, 1e-9) {
			t.Fatalf("held cylinder's base at %.4f, table at %.4f", b, TableZ)
		}
	})
	t.Run("tilt is limited", func(t *testing.T) {
		w := newWorld(HomePos)
		for range 10 {
			step(w, 0, 0, 0, 1, 0, 0, -1)
		}
		z := w.Gripper.Quat.Rotate(Vec3{0, 0, 1})
		if tilt := math.Acos(-z[2]); tilt > MaxTilt+1e-9 {
			t.Fatalf("tilt %.1f° > %.1f°", tilt*180/math.Pi, MaxTilt*180/math.Pi)
		}
	})
}

func TestQuatAxisAngle(t *testing.T) {
	for _, v := range []Vec3{{0.3, -0.2, 0.1}, {0, 0, 2}, {1, 1, 1}} {
		got := QuatFromAxisAngle(v).AxisAngle()
		for k := range v {
			if !near(got[k], v[k], 1e-12) {
				t.Fatalf("axis-angle %v → %v", v, got)
			}
		}
	}
	if aa := RestQuat.AxisAngle(); !near(aa[0], math.Pi, 1e-12) || aa[1] != 0 || aa[2] != 0 {
		t.Fatalf("rest axis-angle %v, want (π, 0, 0)", aa)
	}
	// A rotation composed with its inverse is the identity.
	q := QuatFromAxisAngle(Vec3{0.4, -1, 0.2})
	if p := q.Mul(q.Conj()).Rotate(Vec3{1, 2, 3}); !near(p[0], 1, 1e-12) || !near(p[1], 2, 1e-12) || !near(p[2], 3, 1e-12) {
		t.Fatalf("q·q⁻¹ moved a point to %v", p)
	}
}
