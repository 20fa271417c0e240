package legged

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/efferent/efferent/sim"
)

// Suite names.
const (
	SuiteGoto     = "quadruped-goto"
	SuiteObstacle = "quadruped-obstacle"
	SuitePosture  = "quadruped-posture"
)

// Evaluation and success parameters.
const (
	// NumInitStates is the number of initial states per task an
	// evaluation uses (inits 0 … NumInitStates−1).
	NumInitStates = 50
	// TasksPerSuite is the size of every suite.
	TasksPerSuite = 8
	// StopDist is the stop radius: success needs the gap between the
	// base's footprint and the goal's (Base.Gap) at most this.
	StopDist = 0.35
	// StillSpeed, StillYawRate: below both the base counts as still.
	StillSpeed   = 0.05
	StillYawRate = 0.1
	// ObjectJitter and StartJitter, StartYawJitter bound the per-init
	// offsets of objects (per group) and of the base's start pose.
	ObjectJitter   = 0.10
	StartJitter    = 0.10
	StartYawJitter = 0.15
	// FalsePremiseTol is how far the base may drift from its start in a
	// false-premise episode; FalsePremiseHold is how many steps it must
	// hold still there for success.
	FalsePremiseTol  = 0.02
	FalsePremiseHold = 100
	// minSeparation is the least nominal gap between objects (and between
	// an object and the start footprint): more than the 2·√2·0.10 m that
	// two jitter offsets can close, so jittered scenes never overlap.
	minSeparation = 0.30
)

// Placed is one object of a task's scene at its nominal pose. Objects of
// the same non-zero Group move together under the per-init jitter (a bar
// and the walls that flank it stay a gate).
type Placed struct {
	Object
	Group int
}

// Task is one legged-base task: a scene, an instruction and the goal that
// defines success.
type Task struct {
	Suite string
	Index int // 0 … 7 within the suite
	// Name is unique: "<suite>/<instruction in snake case>", with
	// "/false_premise" appended for a false-premise variant.
	Name        string
	Instruction string
	// MaxSteps bounds an episode (at 50 Hz).
	MaxSteps int
	// Scene holds the objects at their nominal poses.
	Scene []Placed
	// Start is the base's nominal start pose: x, y, yaw.
	Start [3]float64
	// Goal names the object to stop at (an Object.Name on the scene).
	Goal string
	// UnderBars requires having passed under every bar on the scene.
	UnderBars bool
	// Backward: the instruction asks to walk backwards ("back up"); the
	// expert does, success does not check it.
	Backward bool
	// FalsePremise marks a variant whose goal object (Missing) is absent:
	// success is then holding still at the start.
	FalsePremise bool
	Missing      string
}

// Colours with the words instructions use for them.
var colors = map[string][3]uint8{
	"red": {220, 40, 40}, "green": {40, 170, 60}, "blue": {40, 90, 220},
	"yellow": {235, 205, 40}, "orange": {245, 135, 30}, "purple": {140, 60, 180},
	"white": {235, 235, 235}, "gray": {128, 128, 128}, "brown": {130, 85, 50},
}

func obj(kind Kind, color string, x, y float64, size sim.Vec3, yaw float64) Placed {
	name := color + " " + kind.String()
	if kind == Door || kind == Bar {
		name = kind.String() // "the door", "the bar": there is one kind of each
	}
	return Placed{Object: Object{Name: name, Kind: kind, Color: color, RGB: colors[color], Pos: sim.Vec3{x, y, 0}, Size: size, Yaw: yaw}}
}

func ball(color string, x, y float64) Placed {
	return obj(Ball, color, x, y, sim.Vec3{0.22, 0.22, 0.22}, 0)
}
func cone(color string, x, y float64) Placed {
	return obj(Cone, color, x, y, sim.Vec3{0.28, 0.28, 0.45}, 0)
}
func box(color string, x, y, sx, sy, yaw float64) Placed {
	return obj(Box, color, x, y, sim.Vec3{sx, sy, 0.40}, yaw)
}
func wall(x, y, sx, sy float64, group int) Placed {
	p := obj(Wall, "gray", x, y, sim.Vec3{sx, sy, 0.8}, 0)
	p.Group = group
	return p
}

// door is a panel 0.9 m wide, turned so that its face looks along yaw.
func door(x, y, yaw float64) Placed {
	return obj(Door, "brown", x, y, sim.Vec3{0.05, 0.9, 2.0}, yaw)
}

// Bar gate geometry: the bar's free span between its posts and how far
// from a post the flanking walls begin.
const (
	barSpan   = 1.2
	gateGap   = 0.06
	wallThick = 0.2
)

// gate is a bar across the path with walls from its posts to the arena's
// edges, so it cannot be walked around. across is false for a bar whose
// span is along y (crossed moving along x), true for one spanning x.
func gate(x, y, clear float64, across bool, group int) []Placed {
	yaw := 0.0
	if across {
		yaw = math.Pi / 2
	}
	b := obj(Bar, "yellow", x, y, sim.Vec3{0.05, barSpan, clear + 0.04}, yaw)
	b.Clearance, b.Group = clear, group
	c := y // the span coordinate of the gate's centre
	if across {
		c = x
	}
	lo, hi := c-barSpan/2-gateGap, c+barSpan/2+gateGap
	segs := [][2]float64{{-ArenaHalf, lo}, {hi, ArenaHalf}}
	out := []Placed{b}
	for _, s := range segs {
		m, l := (s[0]+s[1])/2, s[1]-s[0]
		if across {
			out = append(out, wall(m, y, l, wallThick, group))
		} else {
			out = append(out, wall(x, m, wallThick, l, group))
		}
	}
	return out
}

func scene(parts ...any) []Placed {
	var out []Placed
	for _, p := range parts {
		switch p := p.(type) {
		case Placed:
			out = append(out, p)
		case []Placed:
			out = append(out, p...)
		}
	}
	return out
}

// spec is a task before its suite-wide fields are filled in.
type spec struct {
	instr    string
	goal     string
	start    [3]float64
	scene    []Placed
	maxSteps int
	under    bool
	backward bool
}

func gotoSpecs() []spec {
	s := [3]float64{-1, 0, 0}
	return []spec{
		{instr: "go to the red ball", goal: "red ball", start: s, maxSteps: 600,
			scene: scene(ball("red", 1.5, 0.8), ball("blue", 1.2, -1.0), cone("green", 2.2, -0.2))},
		{instr: "go to the blue cone", goal: "blue cone", start: s, maxSteps: 600,
			scene: scene(cone("blue", 2.0, -1.0), cone("red", 2.0, 1.0), ball("yellow", 1.0, 0.3))},
		{instr: "stop at the door", goal: "door", start: s, maxSteps: 600,
			scene: scene(door(2.5, 0, 0), ball("green", 1.0, -1.5), cone("blue", 1.5, 1.6))},
		{instr: "go to the green box", goal: "green box", start: s, maxSteps: 600,
			scene: scene(box("green", 2.0, 1.2, 0.4, 0.4, 0.3), box("red", 2.0, -1.2, 0.4, 0.4, 0), cone("yellow", 0.5, 2.0))},
		{instr: "turn left and stop at the door", goal: "door", start: s, maxSteps: 600,
			scene: scene(door(-0.8, 2.5, math.Pi/2), ball("red", 1.8, 0), cone("green", -0.8, -2.2))},
		{instr: "turn around and go to the yellow ball", goal: "yellow ball", start: s, maxSteps: 700,
			scene: scene(ball("yellow", -3.0, 0.3), ball("blue", 1.5, 0), cone("red", 0.5, -1.5))},
		{instr: "back up to the box", goal: "white box", start: s, maxSteps: 700, backward: true,
			scene: scene(box("white", -3.0, 0, 0.5, 0.5, 0), cone("green", 1.5, 0.5), ball("blue", 1.5, -0.8))},
		{instr: "turn right and go to the orange cone", goal: "orange cone", start: s, maxSteps: 600,
			scene: scene(cone("orange", -0.6, -2.5), ball("purple", -0.6, 2.5), cone("red", 2.0, 0))},
	}
}

func obstacleSpecs() []spec {
	s := [3]float64{-2.5, 0, 0}
	return []spec{
		{instr: "walk around the box and stop at the blue cone", goal: "blue cone", start: s, maxSteps: 1000,
			scene: scene(box("gray", 0, 0, 0.8, 1.4, 0), cone("blue", 2.5, 0), ball("red", 2.5, 2.0))},
		{instr: "go between the two walls and stop at the red ball", goal: "red ball", start: s, maxSteps: 1000,
			scene: scene(wall(0, 0.75, 2.0, 0.3, 1), wall(0, -0.75, 2.0, 0.3, 1), ball("red", 2.5, 0), ball("blue", 2.5, -1.5))},
		{instr: "walk around the wall and go to the yellow ball", goal: "yellow ball", start: s, maxSteps: 1000,
			scene: scene(wall(0, 0.3, 0.3, 2.4, 0), ball("yellow", 2.5, -2.4), cone("green", 1.0, -2.0))},
		{instr: "go around the box and stop at the door", goal: "door", start: s, maxSteps: 1000,
			scene: scene(box("red", 0, 0, 1.0, 1.0, 0), door(2.8, 0, 0), cone("blue", 1.5, 1.8))},
		{instr: "go between the two walls and stop at the green cone", goal: "green cone", start: s, maxSteps: 1000,
			scene: scene(wall(0, 1.25, 2.0, 0.3, 1), wall(0, -0.25, 2.0, 0.3, 1), cone("green", 2.5, 1.0), ball("yellow", 2.5, -1.2))},
		{instr: "walk past the red box and go to the blue ball", goal: "blue ball", start: s, maxSteps: 1000,
			scene: scene(box("red", 0, 0.2, 0.6, 0.6, 0.4), ball("blue", 2.5, -0.8), cone("orange", 0, -2.0))},
		{instr: "go around the two boxes and stop at the yellow cone", goal: "yellow cone", start: s, maxSteps: 1000,
			scene: scene(box("white", -0.5, 0, 0.5, 0.8, 0), box("gray", 1.0, 0.2, 0.5, 0.8, 0), cone("yellow", 2.8, -0.9), ball("green", 1.0, -2.0))},
		{instr: "avoid the cones and go to the green ball", goal: "green ball", start: s, maxSteps: 1000,
			scene: scene(cone("red", -0.8, 0), cone("orange", 0.3, -0.1), cone("yellow", 1.4, 0.1), ball("green", 2.8, 0.8))},
	}
}

func postureSpecs() []spec {
	s := [3]float64{-2.5, 0, 0}
	const c = 0.30
	return []spec{
		{instr: "crawl under the bar and stop at the green cone", goal: "green cone", start: s, maxSteps: 1200, under: true,
			scene: scene(gate(0, 0, c, false, 1), cone("green", 2.0, 0.3), ball("red", 2.0, -1.5))},
		{instr: "crawl under the bar and go to the red ball", goal: "red ball", start: s, maxSteps: 1200, under: true,
			scene: scene(gate(-0.5, 0, c, false, 1), ball("red", 2.0, -0.8), cone("blue", 2.2, 1.2))},
		{instr: "crawl under the bar and stop at the door", goal: "door", start: s, maxSteps: 1200, under: true,
			scene: scene(gate(0, 0, c, false, 1), door(2.8, 0.2, 0), ball("yellow", 1.5, 1.5))},
		{instr: "turn left, crawl under the bar and stop at the blue cone", goal: "blue cone", start: [3]float64{0, -2.5, 0}, maxSteps: 1200, under: true,
			scene: scene(gate(0, -1.2, c, true, 1), cone("blue", 0.3, 1.0), ball("red", 2.0, -2.5))},
		{instr: "turn around, crawl under the bar and go to the yellow ball", goal: "yellow ball", start: [3]float64{1.5, 0, 0}, maxSteps: 1200, under: true,
			scene: scene(gate(0, 0, c, false, 1), ball("yellow", -2.0, 0.3), cone("green", 2.5, 1.0))},
		{instr: "crawl under both bars and stop at the orange cone", goal: "orange cone", start: [3]float64{-2.8, 0, 0}, maxSteps: 1500, under: true,
			scene: scene(gate(-1.2, 0, c, false, 1), gate(1.0, 0.3, c, false, 2), cone("orange", 2.8, 0))},
		{instr: "crawl under the low bar and go to the blue ball", goal: "blue ball", start: s, maxSteps: 1200, under: true,
			scene: scene(gate(0, 0, 0.26, false, 1), ball("blue", 2.0, 0), cone("red", 2.0, 1.5))},
		{instr: "crawl under the bar and stop at the white box", goal: "white box", start: s, maxSteps: 1200, under: true,
			scene: scene(gate(0, 0, c, false, 1), box("white", 2.0, -0.4, 0.5, 0.5, 0), ball("green", 2.0, 1.0))},
	}
}

var suiteTasks = buildSuites()

func buildSuites() map[string][]Task {
	m := map[string][]Task{}
	for su, specs := range map[string][]spec{SuiteGoto: gotoSpecs(), SuiteObstacle: obstacleSpecs(), SuitePosture: postureSpecs()} {
		for i, s := range specs {
			m[su] = append(m[su], Task{
				Suite: su, Index: i, Name: su + "/" + strings.NewReplacer(" ", "_", ",", "").Replace(s.instr),
				Instruction: s.instr, MaxSteps: s.maxSteps, Scene: s.scene, Start: s.start,
				Goal: s.goal, UnderBars: s.under, Backward: s.backward,
			})
		}
	}
	return m
}

// DefaultTask is the legged simulator's task when none is named.
const DefaultTask = "go to the red ball"

// Suites returns the suite names in a fixed order.
func Suites() []string { return []string{SuiteGoto, SuiteObstacle, SuitePosture} }

// Tasks returns the suite's 8 tasks (fresh copies the caller may modify).
func Tasks(suite string) ([]Task, error) {
	ts, ok := suiteTasks[suite]
	if !ok {
		return nil, fmt.Errorf("legged: unknown suite %q (valid: %s)", suite, strings.Join(Suites(), ", "))
	}
	out := make([]Task, len(ts))
	for i, t := range ts {
		out[i] = t.clone()
	}
	return out, nil
}

// FalsePremiseTasks returns, for each task of the suite, its
// false-premise variant: the same instruction, start and scene, but the
// goal object is absent (Missing names it), so the instruction names
// something that is not there and the right behaviour is not to move.
func FalsePremiseTasks(suite string) ([]Task, error) {
	ts, err := Tasks(suite)
	if err != nil {
		return nil, err
	}
	for i := range ts {
		ts[i] = falsePremise(ts[i])
	}
	return ts, nil
}

func falsePremise(t Task) Task {
	t.FalsePremise = true
	t.Missing = t.Goal
	t.Name += "/false_premise"
	t.Scene = slices.DeleteFunc(t.Scene, func(p Placed) bool { return p.Name == t.Missing })
	return t
}

// FindTask returns the task (or false-premise variant) whose Name is s,
// the first task whose Instruction is s, or the task "suite/index" (e.g.
// "quadruped-goto/3").
func FindTask(s string) (Task, bool) {
	for _, su := range Suites() {
		for _, t := range suiteTasks[su] {
			if t.Name == s || t.Instruction == s {
				return t.clone(), true
			}
			if t.Name+"/false_premise" == s {
				return falsePremise(t.clone()), true
			}
		}
	}
	if i := strings.LastIndexByte(s, '/'); i > 0 {
		if n, err := strconv.Atoi(s[i+1:]); err == nil {
			if ts, ok := suiteTasks[s[:i]]; ok && n >= 0 && n < len(ts) {
				return ts[n].clone(), true
			}
		}
	}
	return Task{}, false
}

func (t Task) clone() Task {
	t.Scene = slices.Clone(t.Scene)
	return t
}

// ErrBadTask wraps every Validate failure.
var ErrBadTask = errors.New("legged: invalid task")

// Validate checks that the task can be loaded: positive MaxSteps; a goal
// on the scene exactly once (absent, for a false premise); for a true
// premise, every "colour kind" and every kind word the instruction names
// on the scene; bars present when UnderBars; and no two objects, nor an
// object and the start footprint, closer than minSeparation nominally.
func (t Task) Validate() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadTask, t.Name, fmt.Sprintf(f, a...))
	}
	if t.MaxSteps <= 0 {
		return bad("MaxSteps %d must be positive", t.MaxSteps)
	}
	n := 0
	for _, p := range t.Scene {
		if p.Name == t.Goal {
			n++
		}
	}
	switch {
	case t.FalsePremise && n != 0:
		return bad("false premise, but %q is on the scene", t.Goal)
	case !t.FalsePremise && n != 1:
		return bad("goal %q is on the scene %d times, want once", t.Goal, n)
	}
	if !t.FalsePremise {
		words := strings.FieldsFunc(t.Instruction, func(r rune) bool { return r == ' ' || r == ',' })
		for i, w := range words {
			k, ok := kindWord(w)
			if !ok {
				continue
			}
			name := ""
			if i > 0 {
				if _, isColor := colors[words[i-1]]; isColor {
					name = words[i-1] + " " + k.String()
				}
			}
			if !slices.ContainsFunc(t.Scene, func(p Placed) bool { return p.Kind == k && (name == "" || p.Name == name) }) {
				return bad("the instruction names %q, which is not on the scene", w)
			}
		}
	}
	if t.UnderBars && !slices.ContainsFunc(t.Scene, func(p Placed) bool { return p.Kind == Bar }) {
		return bad("UnderBars without a bar")
	}
	st := Object{Kind: Ball, Pos: sim.Vec3{t.Start[0], t.Start[1]}, Size: sim.Vec3{2 * BodyRadius}}
	for i := range t.Scene {
		a := &t.Scene[i].Object
		if g := objGap(a, &st); g < minSeparation {
			return bad("%s is %.2f m from the base's start", a.Name, g)
		}
		for j := range i {
			b := &t.Scene[j]
			if b.Group != 0 && b.Group == t.Scene[i].Group {
				continue // a gate's parts touch by design and move together
			}
			if g := objGap(a, &b.Object); g < minSeparation {
				return bad("%s and %s are %.2f m apart", a.Name, b.Name, g)
			}
		}
	}
	return nil
}

// kindWord returns the object kind a word names (singular or plural).
func kindWord(w string) (Kind, bool) {
	w = strings.TrimSuffix(strings.TrimSuffix(w, "es"), "s")
	for k := Ball; k <= Wall; k++ {
		if kw := k.String(); w == kw || w+"e" == kw || w+"x" == kw {
			return k, true
		}
	}
	return 0, false
}

// objGap is an approximate gap between two footprints: each is replaced
// by its bounding disc when it is a disc kind, and the rectangle's
// distance is sampled along the other's outline otherwise. Used only to
// validate layouts, where a conservative answer is enough.
func objGap(a, b *Object) float64 {
	g := math.Inf(1)
	for _, p := range outline(a) {
		g = math.Min(g, FootprintDist(b, p[0], p[1]))
	}
	for _, p := range outline(b) {
		g = math.Min(g, FootprintDist(a, p[0], p[1]))
	}
	return g
}

// outline samples points on o's footprint boundary, every 2 cm or so.
func outline(o *Object) [][2]float64 {
	var pts [][2]float64
	switch o.Kind {
	case Ball, Cone:
		r := o.Size[0] / 2
		for i := range 64 {
			s, c := math.Sincos(2 * math.Pi * float64(i) / 64)
			pts = append(pts, [2]float64{o.Pos[0] + r*c, o.Pos[1] + r*s})
		}
	default:
		hx, hy := o.Size[0]/2, o.Size[1]/2
		s, c := math.Sincos(o.Yaw)
		add := func(u, w float64) {
			pts = append(pts, [2]float64{o.Pos[0] + c*u - s*w, o.Pos[1] + s*u + c*w})
		}
		nx, ny := int(o.Size[0]/0.02)+1, int(o.Size[1]/0.02)+1
		for i := 0; i <= nx; i++ {
			u := -hx + 2*hx*float64(i)/float64(nx)
			add(u, -hy)
			add(u, hy)
		}
		for i := 0; i <= ny; i++ {
			w := -hy + 2*hy*float64(i)/float64(ny)
			add(-hx, w)
			add(hx, w)
		}
	}
	return pts
}

// layout returns the objects and the base's start pose of initial state
// init: every object (or group) offset by up to ObjectJitter in x and y,
// the start by up to StartJitter and its yaw by StartYawJitter, all drawn
// from t.Seed(init). A false-premise variant draws as its base task (one
// draw per nominal object of the base scene, in order), then drops the
// missing object, so its scene is the base's minus one object.
func (t Task) layout(init int) ([]Object, [3]float64) {
	base := t
	if t.FalsePremise {
		if bt, ok := FindTask(strings.TrimSuffix(t.Name, "/false_premise")); ok {
			base = bt
		}
	}
	r := sim.NewRNG(t.Seed(init))
	start := [3]float64{
		base.Start[0] + r.Uniform(-StartJitter, StartJitter),
		base.Start[1] + r.Uniform(-StartJitter, StartJitter),
		base.Start[2] + r.Uniform(-StartYawJitter, StartYawJitter),
	}
	groups := map[int][2]float64{}
	var objs []Object
	for _, p := range base.Scene {
		d := [2]float64{r.Uniform(-ObjectJitter, ObjectJitter), r.Uniform(-ObjectJitter, ObjectJitter)}
		if p.Group != 0 {
			if g, ok := groups[p.Group]; ok {
				d = g
			} else {
				groups[p.Group] = d
			}
		}
		if t.FalsePremise && p.Name == t.Missing {
			continue
		}
		o := p.Object
		o.Pos[0] += d[0]
		o.Pos[1] += d[1]
		objs = append(objs, o)
	}
	return objs, start
}
