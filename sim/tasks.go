package sim

import (
	"fmt"
	"slices"
	"strings"
)

// Suite names.
const (
	SuiteSpatial = "spatial"
	SuiteObject  = "object"
	SuiteGoal    = "goal"
	SuiteLong    = "long"
)

// NumInitStates is the number of fixed initial states per task that an
// evaluation uses (init indices 0 … NumInitStates−1), as LIBERO's 50.
// Reset accepts any non-negative index; demonstrations use indices from
// DemoInitBase on, so they never overlap the evaluation states.
const NumInitStates = 50

// GoalKind names a success condition.
type GoalKind string

// Goal kinds. See World.Holds for their exact meaning.
const (
	GoalIn    GoalKind = "in"    // Object rests in the container Target
	GoalOn    GoalKind = "on"    // Object rests on Target (through a stack too)
	GoalStack GoalKind = "stack" // Object rests directly on the block Target
	GoalPush  GoalKind = "push"  // Object, on the table, moved ≥ Dist along Dir
	GoalLift  GoalKind = "lift"  // Object is held with its base ≥ Dist above the table
)

// Goal is one success condition over the world state.
type Goal struct {
	Kind   GoalKind
	Object string
	Target string  // container, plate or block; empty for push and lift
	Dir    Vec3    // push direction (unit, horizontal); zero otherwise
	Dist   float64 // push distance or lift height, metres
}

// Directions in instructions, from the robot's point of view (which is also
// the agent view's: image left is the robot's left, +y).
var (
	DirLeft  = Vec3{0, 1, 0}
	DirRight = Vec3{0, -1, 0}
)

// PushDist is how far a push goal must move its object; LiftHeight how
// high a lift goal must raise its object's base above the table.
const (
	PushDist   = 0.10
	LiftHeight = 0.10
)

// Task is one LIBERO-style task: a scene, an instruction and the goals that
// define success.
type Task struct {
	Suite string
	Index int // 0 … 9 within the suite
	// Name is unique across suites: "<suite>/<instruction in snake case>",
	// with "/false_premise" appended for a false-premise variant.
	Name        string
	Instruction string
	MaxSteps    int
	// FalsePremise marks a variant whose instruction names an object that
	// is not on the table; Missing names it. Such an episode never succeeds.
	FalsePremise bool
	Missing      string
	// Scene lists the catalogued objects whose positions the layout draws.
	// Reset removes Missing (if set) after drawing, so a false-premise
	// layout is its base task's layout minus one object.
	Scene []string
	// Goals must all hold for success.
	Goals []Goal
	// Layout identifies the layout template within the suite: tasks that
	// share it (all of the goal suite) start from the same arrangement, up
	// to each initial state's small jitter.
	Layout int
}

// MaxSteps per suite, LIBERO's as used by openpi's client.
var maxSteps = map[string]int{SuiteSpatial: 220, SuiteObject: 280, SuiteGoal: 300, SuiteLong: 520}

// DefaultTask is the task efferent runs when none is named.
const DefaultTask = "put the red block in the blue bowl"

// Suites returns the suite names in a fixed order.
func Suites() []string { return []string{SuiteSpatial, SuiteObject, SuiteGoal, SuiteLong} }

// Tasks returns the suite's 10 tasks (fresh copies the caller may modify).
func Tasks(suite string) ([]Task, error) {
	ts, ok := suiteTasks[suite]
	if !ok {
		return nil, fmt.Errorf("sim: unknown suite %q (valid: %s)", suite, strings.Join(Suites(), ", "))
	}
	out := make([]Task, len(ts))
	for i, t := range ts {
		out[i] = t.clone()
	}
	return out, nil
}

// FalsePremiseTasks returns, for each task of the suite, its false-premise
// variant: the same instruction and layout, but the first object the
// instruction manipulates is absent (Missing names it).
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
	t.Missing = t.Goals[0].Object
	t.Name += "/false_premise"
	return t
}

// FindTask returns the task whose Instruction equals s exactly, searching
// the suites in Suites() order (the first wins when two suites share an
// instruction); failing that, the task or false-premise variant whose Name
// equals s.
func FindTask(s string) (Task, bool) {
	for _, su := range Suites() {
		for _, t := range suiteTasks[su] {
			if t.Instruction == s {
				return t.clone(), true
			}
		}
	}
	for _, su := range Suites() {
		for _, t := range suiteTasks[su] {
			if t.Name == s {
				return t.clone(), true
			}
			if fp := falsePremise(t.clone()); fp.Name == s {
				return fp, true
			}
		}
	}
	return Task{}, false
}

func (t Task) clone() Task {
	t.Scene = slices.Clone(t.Scene)
	t.Goals = slices.Clone(t.Goals)
	return t
}

// onScene returns whether name is on the table in this task.
func (t Task) onScene(name string) bool {
	return name != t.Missing && slices.Contains(t.Scene, name)
}

// Validate checks that the task can be loaded: a known suite is not
// required (hand-made tasks may use their own), but every scene object must
// be catalogued, goals must name scene objects (the missing one excepted),
// and MaxSteps must be positive.
func (t Task) Validate() error {
	if t.MaxSteps <= 0 {
		return fmt.Errorf("sim: task %q: MaxSteps %d must be positive", t.Name, t.MaxSteps)
	}
	if len(t.Scene) == 0 {
		return fmt.Errorf("sim: task %q: empty scene", t.Name)
	}
	if len(t.Goals) == 0 {
		return fmt.Errorf("sim: task %q: no goals", t.Name)
	}
	for i, n := range t.Scene {
		if _, ok := catalog[n]; !ok {
			return fmt.Errorf("sim: task %q: unknown object %q", t.Name, n)
		}
		if slices.Index(t.Scene, n) != i {
			return fmt.Errorf("sim: task %q: object %q appears twice", t.Name, n)
		}
	}
	if t.Missing != "" && !slices.Contains(t.Scene, t.Missing) {
		return fmt.Errorf("sim: task %q: missing object %q is not in the scene", t.Name, t.Missing)
	}
	for _, g := range t.Goals {
		for _, n := range []string{g.Object, g.Target} {
			if n != "" && !slices.Contains(t.Scene, n) {
				return fmt.Errorf("sim: task %q: goal names %q, which is not in the scene", t.Name, n)
			}
		}
		switch g.Kind {
		case GoalIn, GoalOn, GoalStack:
			if g.Target == "" {
				return fmt.Errorf("sim: task %q: %s goal without a target", t.Name, g.Kind)
			}
		case GoalPush, GoalLift:
			if g.Dist <= 0 {
				return fmt.Errorf("sim: task %q: %s goal needs a positive distance", t.Name, g.Kind)
			}
		default:
			return fmt.Errorf("sim: task %q: unknown goal kind %q", t.Name, g.Kind)
		}
	}
	return nil
}

// put returns the goal of placing obj at target, choosing in/on/stack by
// the target's kind.
func put(obj, target string) Goal {
	k := GoalOn
	switch catalog[target].kind {
	case Bowl, Basket:
		k = GoalIn
	case Block:
		k = GoalStack
	}
	return Goal{Kind: k, Object: obj, Target: target}
}

func push(obj string, dir Vec3) Goal {
	return Goal{Kind: GoalPush, Object: obj, Dir: dir, Dist: PushDist}
}

func lift(obj string) Goal { return Goal{Kind: GoalLift, Object: obj, Dist: LiftHeight} }

// spec is one task before its suite-wide fields are filled in.
type spec struct {
	instr string
	scene []string
	goals []Goal
}

var (
	spatialScene = []string{"red block", "green block", "blue block", "yellow block", "blue bowl", "white bowl", "plate"}
	goalScene    = []string{"red block", "green block", "yellow block", "blue block", "blue bowl", "plate"}
	pickables    = []string{
		"red block", "green block", "blue block", "yellow block", "orange block", "purple block",
		"red cylinder", "yellow cylinder", "purple cylinder", "blue ball", "orange ball", "green ball",
	}
)

func spatialSpecs() []spec {
	pairs := [][2]string{
		{"red block", "blue bowl"}, {"green block", "white bowl"}, {"blue block", "plate"},
		{"yellow block", "blue bowl"}, {"red block", "plate"}, {"green block", "blue bowl"},
		{"blue block", "white bowl"}, {"yellow block", "plate"}, {"red block", "white bowl"},
		{"green block", "plate"},
	}
	var out []spec
	for _, p := range pairs {
		g := put(p[0], p[1])
		prep := "in"
		if g.Kind == GoalOn {
			prep = "on"
		}
		out = append(out, spec{fmt.Sprintf("put the %s %s the %s", p[0], prep, p[1]), spatialScene, []Goal{g}})
	}
	return out
}

// objectSpecs: LIBERO-object style, one named object among six on the
// table goes into the basket. The five distractors are drawn per task from
// a fixed seed, so the scene of a task never changes.
func objectSpecs() []spec {
	targets := []string{
		"red cylinder", "blue ball", "green block", "yellow cylinder", "orange ball",
		"purple block", "red block", "green ball", "purple cylinder", "yellow block",
	}
	var out []spec
	for i, tg := range targets {
		r := rng{s: seedOf(SuiteObject, "scene", fmt.Sprint(i))}
		var pool []string
		for _, p := range pickables {
			if p != tg {
				pool = append(pool, p)
			}
		}
		scene := []string{"basket", tg}
		for range 5 {
			k := r.intn(len(pool))
			scene = append(scene, pool[k])
			pool = slices.Delete(pool, k, k+1)
		}
		out = append(out, spec{fmt.Sprintf("pick up the %s and place it in the basket", tg), scene, []Goal{put(tg, "basket")}})
	}
	return out
}

func goalSpecs() []spec {
	s := goalScene
	return []spec{
		{"put the red block in the blue bowl", s, []Goal{put("red block", "blue bowl")}},
		{"put the green block on the plate", s, []Goal{put("green block", "plate")}},
		{"stack the green block on the yellow block", s, []Goal{put("green block", "yellow block")}},
		{"push the plate to the left", s, []Goal{push("plate", DirLeft)}},
		{"stack the red block on the blue block", s, []Goal{put("red block", "blue block")}},
		{"put the yellow block in the blue bowl", s, []Goal{put("yellow block", "blue bowl")}},
		{"push the blue bowl to the right", s, []Goal{push("blue bowl", DirRight)}},
		{"pick up the blue block", s, []Goal{lift("blue block")}},
		{"put the blue block on the plate", s, []Goal{put("blue block", "plate")}},
		{"push the plate to the right", s, []Goal{push("plate", DirRight)}},
	}
}

// goalTemplate is the goal suite's fixed layout (x, y of each object's
// centre). Push corridors are kept clear so pushes move one object only.
var goalTemplate = map[string][2]float64{
	"plate":        {-0.08, 0.02},
	"blue bowl":    {0.14, 0.17},
	"red block":    {0.15, -0.10},
	"yellow block": {0.05, -0.17},
	"green block":  {0.02, 0.22},
	"blue block":   {-0.05, -0.22},
}

// longSpecs: two-step tasks in the mould of LIBERO-10; goals are listed in
// the order the expert achieves them.
func longSpecs() []spec {
	return []spec{
		{"put the red block in the blue bowl and the green block on the plate",
			[]string{"red block", "green block", "blue bowl", "plate", "yellow block", "white bowl"},
			[]Goal{put("red block", "blue bowl"), put("green block", "plate")}},
		{"put both the yellow block and the blue block in the basket",
			[]string{"yellow block", "blue block", "basket", "red block", "green ball"},
			[]Goal{put("yellow block", "basket"), put("blue block", "basket")}},
		{"stack the green block on the yellow block and put the red block on the plate",
			[]string{"green block", "yellow block", "red block", "plate", "blue bowl", "purple block"},
			[]Goal{put("green block", "yellow block"), put("red block", "plate")}},
		{"push the plate to the left and put the orange block on it",
			[]string{"plate", "orange block", "blue block", "white bowl"},
			[]Goal{push("plate", DirLeft), put("orange block", "plate")}},
		{"put the red cylinder in the white bowl and the blue ball in the blue bowl",
			[]string{"red cylinder", "blue ball", "white bowl", "blue bowl", "yellow block"},
			[]Goal{put("red cylinder", "white bowl"), put("blue ball", "blue bowl")}},
		{"put both the purple block and the green ball in the basket",
			[]string{"purple block", "green ball", "basket", "orange block", "red cylinder"},
			[]Goal{put("purple block", "basket"), put("green ball", "basket")}},
		{"stack the red block on the blue block and the yellow block on the red block",
			[]string{"red block", "blue block", "yellow block", "plate", "green block"},
			[]Goal{put("red block", "blue block"), put("yellow block", "red block")}},
		{"put the green block in the white bowl and push the plate to the right",
			[]string{"green block", "white bowl", "plate", "red block", "blue block"},
			[]Goal{put("green block", "white bowl"), push("plate", DirRight)}},
		{"put the yellow cylinder on the plate and the purple block in the blue bowl",
			[]string{"yellow cylinder", "purple block", "plate", "blue bowl", "green block"},
			[]Goal{put("yellow cylinder", "plate"), put("purple block", "blue bowl")}},
		{"put the blue block in the basket and the orange ball on the plate",
			[]string{"blue block", "orange ball", "basket", "plate", "red block"},
			[]Goal{put("blue block", "basket"), put("orange ball", "plate")}},
	}
}

// suiteTasks holds the canonical tasks; Tasks hands out copies.
var suiteTasks = buildSuites()

func buildSuites() map[string][]Task {
	specs := map[string][]spec{
		SuiteSpatial: spatialSpecs(),
		SuiteObject:  objectSpecs(),
		SuiteGoal:    goalSpecs(),
		SuiteLong:    longSpecs(),
	}
	out := make(map[string][]Task, len(specs))
	for suite, ss := range specs {
		for i, s := range ss {
			layout := i
			if suite == SuiteGoal {
				layout = 0 // one fixed layout, different goals
			}
			t := Task{
				Suite: suite, Index: i, Instruction: s.instr, MaxSteps: maxSteps[suite],
				Name:  suite + "/" + strings.ReplaceAll(s.instr, " ", "_"),
				Scene: slices.Clone(s.scene), Goals: slices.Clone(s.goals), Layout: layout,
			}
			if err := t.Validate(); err != nil {
				panic(err) // a bug in the tables above; tests catch it
			}
			out[suite] = append(out[suite], t)
		}
	}
	return out
}
