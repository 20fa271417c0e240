package rig

import (
	"errors"
	"fmt"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// simTask is a task of either built-in simulator, as a run drives it:
// the tabletop's (LIBERO-style) or the legged base's (QUART-style).
type simTask struct {
	Name, Instruction, Suite string
	// MaxSteps bounds an episode, in the simulator's own steps.
	MaxSteps int
	// Legged: the task is the legged base's (leg), else the tabletop's
	// (table).
	Legged bool
	table  sim.Task
	leg    legged.Task
}

func tableTask(t sim.Task) simTask {
	return simTask{Name: t.Name, Instruction: t.Instruction, Suite: t.Suite, MaxSteps: t.MaxSteps, table: t}
}

func leggedTask(t legged.Task) simTask {
	return simTask{Name: t.Name, Instruction: t.Instruction, Suite: t.Suite, MaxSteps: t.MaxSteps, Legged: true, leg: t}
}

// findSimTask looks s (an instruction, a task name or "suite/index") up
// in the tabletop's tasks, then the legged base's: their instructions do
// not overlap.
func findSimTask(s string) (simTask, bool) {
	if t, ok := sim.FindTask(s); ok {
		return tableTask(t), true
	}
	if t, ok := legged.FindTask(s); ok {
		return leggedTask(t), true
	}
	return simTask{}, false
}

// sameWorld looks s up among the tasks of the simulator t is from: an
// instruction change from the viewer may not change the robot under way.
func sameWorld(t simTask, s string) (simTask, error) {
	if t.Legged {
		if lt, ok := legged.FindTask(s); ok {
			return leggedTask(lt), nil
		}
		return simTask{}, fmt.Errorf("%q is not a legged simulator task's instruction (efferent sim tasks --suite quadruped lists them)", s)
	}
	if tt, ok := sim.FindTask(s); ok {
		return tableTask(tt), nil
	}
	return simTask{}, fmt.Errorf("%q is not a simulator task's instruction (efferent sim tasks lists them)", s)
}

// worldInstructions are the instructions of every task of the simulator
// t is from, once each, in suite order: what the viewer offers.
func worldInstructions(t simTask) []string {
	var out []string
	seen := map[string]bool{}
	add := func(instr string) {
		if !seen[instr] {
			seen[instr] = true
			out = append(out, instr)
		}
	}
	if t.Legged {
		for _, su := range legged.Suites() {
			ts, _ := legged.Tasks(su)
			for _, lt := range ts {
				add(lt.Instruction)
			}
		}
		return out
	}
	for _, su := range sim.Suites() {
		ts, _ := sim.Tasks(su)
		for _, tt := range ts {
			add(tt.Instruction)
		}
	}
	return out
}

// world is the simulator a run drives, with the renderer it draws with:
// the tabletop (table) or the legged base (leg).
type world struct {
	table *sim.Env
	leg   *legged.Env
	close func()
}

// newWorld makes the simulator task t runs in, with its renderer from p.
func newWorld(t simTask, p *Parts) (*world, error) {
	w := &world{close: func() {}}
	if !t.Legged {
		if p.NewRenderer == nil {
			return nil, errors.New("rig: Parts.NewRenderer: required for the simulator")
		}
		rend, err := p.NewRenderer()
		if err != nil {
			return nil, err
		}
		w.closeWith(rend)
		if w.table, err = sim.New(sim.Conf{}, rend); err != nil {
			w.close()
			return nil, err
		}
		return w, nil
	}
	if p.NewLeggedRenderer == nil {
		return nil, errors.New("rig: Parts.NewLeggedRenderer: required for the legged simulator")
	}
	rend, err := p.NewLeggedRenderer()
	if err != nil {
		return nil, err
	}
	w.closeWith(rend)
	if w.leg, err = legged.New(legged.Conf{}, rend); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *world) closeWith(r any) {
	if cl, ok := r.(interface{ Close() }); ok {
		w.close = cl.Close
	}
}

// env is the simulator as the control loop drives it.
func (w *world) env() Simulator {
	if w.leg != nil {
		return w.leg
	}
	return w.table
}

// reset starts an episode of t at initial state init.
func (w *world) reset(t simTask, init int) error {
	switch {
	case t.Legged && w.leg != nil:
		return w.leg.Reset(t.leg, init)
	case !t.Legged && w.table != nil:
		return w.table.Reset(t.table, init)
	}
	return fmt.Errorf("task %s is for the other simulator", t.Name)
}

// stepHz is the simulator's control rate.
func (w *world) stepHz() float64 {
	if w.leg != nil {
		return w.leg.Conf().StepHz
	}
	return w.table.Conf().StepHz
}

// robotName is what the recording calls the robot.
func (w *world) robotName() string {
	if w.leg != nil {
		return "sim-quadruped"
	}
	return "sim"
}

// space is the simulator's action space.
func (w *world) space() Space {
	if w.leg != nil {
		return Quadruped()
	}
	return LIBERO()
}

// ThirdPersonKey is the camera name under which a legged simulator run
// shows its chase camera in the viewer (the policy never sees it).
const ThirdPersonKey = "third_person"

// premiseChecker is the false-premise checker for the simulator's
// objects, with detect's detector.
func (w *world) premiseChecker(detect NewDetector) (*premise.Checker, error) {
	if w.leg != nil {
		return LeggedPremiseChecker(0, detect)
	}
	return SimPremiseChecker(0, detect)
}

// premiseCameras are the cameras the premise check looks through and how
// to observe them: the policy's (keys) on the tabletop; the legged base's
// surround cameras, since its goal may be beside or behind it, out of its
// egocentric camera's view.
func (w *world) premiseCameras(keys []string) ([]string, func(*efferent.Observation) error) {
	if w.leg != nil {
		return legged.SurroundKeys, w.leg.ObserveSurround
	}
	return keys, SimRobot{Env: w.table}.Observe
}
