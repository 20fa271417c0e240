package sim

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/efferent/efferent"
)

// Observation keys, as openpi's LIBERO example names them.
const (
	AgentViewKey = "observation/image"
	WristViewKey = "observation/wrist_image"
	StateKey     = "observation/state"
)

// StateDim and ActionDim are LIBERO's state and action sizes.
const (
	StateDim  = 8
	ActionDim = 7
)

// Defaults for zero Conf fields.
const (
	DefaultImageSize = 224
	DefaultStepHz    = 20.0
	MaxImageSize     = 2048
)

// SimEpoch is the time of the first observation of an Env: observation
// times are virtual (SimEpoch + steps/StepHz), so runs are reproducible.
var SimEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Conf configures an Env. Zero values mean the documented defaults.
type Conf struct {
	// ImageSize is the side of the square camera images (default 224,
	// at most MaxImageSize).
	ImageSize int
	// StepHz is the control rate (default 20, LIBERO's). Actions are
	// per-step deltas (robosuite's convention), so the rate sets the
	// virtual time per step, not how far one action moves the arm.
	StepHz float64
	// NoRender skips the cameras: Observe fills only State and Prompt
	// (fast, for the expert and for tests). The zero value renders.
	NoRender bool
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Conf) WithDefaults() Conf {
	if c.ImageSize == 0 {
		c.ImageSize = DefaultImageSize
	}
	if c.StepHz == 0 {
		c.StepHz = DefaultStepHz
	}
	return c
}

// Validate reports impossible values (after defaults), naming the field.
func (c Conf) Validate() error {
	if c.ImageSize < 8 || c.ImageSize > MaxImageSize {
		return fmt.Errorf("sim: ImageSize %d must be in [8, %d]", c.ImageSize, MaxImageSize)
	}
	if !(c.StepHz > 0 && c.StepHz <= 10000) {
		return fmt.Errorf("sim: StepHz %v must be in (0, 10000]", c.StepHz)
	}
	return nil
}

// Renderer draws the world as seen by a camera into dst, reusing dst.Pix
// when it is large enough; sim/render implements it with OpenCV.
type Renderer interface {
	Render(w *World, cam Camera, dst *efferent.Image) error
}

// Env is one simulated tabletop episode at a time. It is not safe for
// concurrent use.
type Env struct {
	conf    Conf
	r       Renderer
	task    Task
	init    int
	loaded  bool
	w       World
	steps   int
	success bool
	agent   Camera
	seq     uint64
	ticks   int64 // steps over the Env's life, for virtual time
	img     efferent.Image
}

// ErrNotReset is returned by Step and Observe before the first Reset.
var ErrNotReset = errors.New("sim: no task loaded (call Reset first)")

// New returns an Env. r may be nil only when conf.NoRender is set.
func New(conf Conf, r Renderer) (*Env, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	if r == nil && !conf.NoRender {
		return nil, errors.New("sim: a renderer is required unless NoRender is set")
	}
	return &Env{conf: conf, r: r, agent: AgentCamera(conf.ImageSize)}, nil
}

// Conf returns the configuration with defaults applied.
func (e *Env) Conf() Conf { return e.conf }

// Reset loads initial state init (≥ 0) of task t. The state is a pure
// function of (t, init): objects at the task's layout template plus a
// jitter drawn from t.Seed(init), the gripper open, pointing down, near
// HomePos. Evaluations use init 0 … NumInitStates−1.
func (e *Env) Reset(t Task, init int) error {
	if init < 0 {
		return fmt.Errorf("sim: init index %d is negative", init)
	}
	if err := t.Validate(); err != nil {
		return err
	}
	objs, start, err := t.layout(init)
	if err != nil {
		return err
	}
	t = t.clone()
	e.task, e.init, e.loaded = t, init, true
	e.w.Objects = append(e.w.Objects[:0], objs...)
	e.w.Goals = t.Goals
	e.w.Gripper = Gripper{Pos: start, Quat: RestQuat, Finger: FingerOpen, Held: -1}
	e.steps = 0
	e.success = e.evalSuccess()
	return nil
}

func (e *Env) evalSuccess() bool { return !e.task.FalsePremise && e.w.Success() }

// Step applies one action and advances the world by one step (1/StepHz of
// virtual time). action is LIBERO's 7-d delta: [0:3] position (×PosScale
// m), [3:6] axis-angle rotation in the world frame (×RotScale rad), [6]
// gripper (−1 open … +1 closed); each entry is clipped to [−1, 1] first. An
// action of the wrong length or with a NaN or infinite entry is an error
// and moves nothing. Stepping past Done is allowed; Success stays latched.
func (e *Env) Step(action []float64) error {
	if !e.loaded {
		return ErrNotReset
	}
	if len(action) != ActionDim {
		return fmt.Errorf("sim: action has %d entries, want %d", len(action), ActionDim)
	}
	var a [ActionDim]float64
	for i, v := range action {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("sim: action[%d] is %v", i, v)
		}
		a[i] = clamp(v, -1, 1)
	}
	e.w.apply(&a)
	e.steps++
	e.ticks++
	if !e.success {
		e.success = e.evalSuccess()
	}
	return nil
}

// Observe fills obs: the agent-view and wrist images under AgentViewKey and
// WristViewKey (unless NoRender, which removes those keys), State (8
// values, see State), Prompt (the instruction), Time (virtual) and Seq
// (1, 2, … over the Env's life). Images already in obs.Images and
// obs.State's array are reused when large enough, so a steady loop does not
// allocate; the caller must not hand those buffers to anything that keeps
// them past the next Observe.
func (e *Env) Observe(obs *efferent.Observation) error {
	if !e.loaded {
		return ErrNotReset
	}
	if e.conf.NoRender {
		if obs.Images != nil {
			delete(obs.Images, AgentViewKey)
			delete(obs.Images, WristViewKey)
		}
	} else {
		if obs.Images == nil {
			obs.Images = make(map[string]efferent.Image, 2)
		}
		if err := e.render(obs, AgentViewKey, e.agent); err != nil {
			return err
		}
		if err := e.render(obs, WristViewKey, WristCamera(&e.w.Gripper, e.conf.ImageSize)); err != nil {
			return err
		}
	}
	obs.State = e.State(obs.State[:0])
	obs.Prompt = e.task.Instruction
	e.seq++
	obs.Seq = e.seq
	obs.Time = e.Time()
	return nil
}

// render draws one camera into obs.Images[key], reusing its pixels. The
// image passes through a field rather than a local so that handing its
// address to the Renderer interface does not allocate.
func (e *Env) render(obs *efferent.Observation, key string, cam Camera) error {
	e.img = obs.Images[key]
	err := e.r.Render(&e.w, cam, &e.img)
	obs.Images[key] = e.img
	e.img = efferent.Image{} // do not keep the caller's buffer
	if err != nil {
		return fmt.Errorf("sim: %s view: %w", cam.Name, err)
	}
	return nil
}

// State appends LIBERO's 8-d state to dst and returns it: grip point
// position (3), axis-angle of the gripper quaternion (3, robosuite's
// quat2axisangle), finger joint positions (+q, −q).
func (e *Env) State(dst []float64) []float64 {
	g := &e.w.Gripper
	aa := g.Quat.AxisAngle()
	return append(dst, g.Pos[0], g.Pos[1], g.Pos[2], aa[0], aa[1], aa[2], g.Finger, -g.Finger)
}

// Success reports whether the task's goals have held at some step of this
// episode (latched, like LIBERO's episode end at first success). Never
// true for a false-premise task.
func (e *Env) Success() bool { return e.success }

// Steps returns the number of steps since Reset.
func (e *Env) Steps() int { return e.steps }

// Done reports success or Steps() ≥ the task's MaxSteps.
func (e *Env) Done() bool { return e.success || e.steps >= e.task.MaxSteps }

// World returns the live privileged state (for the expert and tests); it
// changes with every Step and must not be modified.
func (e *Env) World() *World { return &e.w }

// Task returns the loaded task.
func (e *Env) Task() Task { return e.task }

// Init returns the loaded initial-state index.
func (e *Env) Init() int { return e.init }

// Time returns the virtual time: SimEpoch plus the steps taken over the
// Env's life (across resets, so it never goes back) divided by StepHz.
func (e *Env) Time() time.Time {
	return SimEpoch.Add(time.Duration(float64(e.ticks) * float64(time.Second) / e.conf.StepHz))
}

// ActionLimits returns the bounds Step clips each action entry to.
func ActionLimits() (lo, hi [ActionDim]float64) {
	for i := range lo {
		lo[i], hi[i] = -1, 1
	}
	return lo, hi
}
