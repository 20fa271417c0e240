package legged

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

// Observation keys: the egocentric image and the state, as openpi names
// a single-camera robot's.
const (
	ImageKey = "observation/image"
	StateKey = "observation/state"
)

// Defaults for zero Conf fields.
const (
	DefaultImageSize = 224
	DefaultStepHz    = 50.0
	MaxImageSize     = 2048
)

// Conf configures an Env. Zero values mean the documented defaults.
type Conf struct {
	// ImageSize is the side of the square egocentric image (default 224,
	// 8 … MaxImageSize).
	ImageSize int
	// StepHz is the command rate (default 50, QUART's): one Step is 1/StepHz
	// of simulated time.
	StepHz float64
	// NoRender skips the camera: Observe fills only State and Prompt.
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
		return fmt.Errorf("legged: ImageSize %d must be in [8, %d]", c.ImageSize, MaxImageSize)
	}
	if !(c.StepHz > 0 && c.StepHz <= 10000) {
		return fmt.Errorf("legged: StepHz %v must be in (0, 10000]", c.StepHz)
	}
	return nil
}

// Sentinel errors.
var (
	// ErrNotReset is returned before the first Reset.
	ErrNotReset = errors.New("legged: no task loaded (call Reset first)")
	// ErrBadCommand wraps every refused command (wrong length, NaN, Inf).
	ErrBadCommand = errors.New("legged: bad command")
	// ErrNoRenderer: an Env that renders needs a Renderer.
	ErrNoRenderer = errors.New("legged: a renderer is required unless NoRender is set")
)

// Env is one simulated legged-base episode at a time. It is not safe for
// concurrent use.
type Env struct {
	conf       Conf
	r          Renderer
	task       Task
	init       int
	loaded     bool
	w          World
	start      Base // the pose at Reset: the odometry frame
	goal       int  // index of the goal object in w.Objects, −1 if none
	passed     []bool
	steps      int
	success    bool
	moved      bool // left FalsePremiseTol of the start at some step
	collisions int
	seq        uint64
	ticks      int64 // steps over the Env's life, for virtual time
	img        efferent.Image
}

// New returns an Env. r may be nil only when conf.NoRender is set.
func New(conf Conf, r Renderer) (*Env, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	if r == nil && !conf.NoRender {
		return nil, ErrNoRenderer
	}
	return &Env{conf: conf, r: r}, nil
}

// Conf returns the configuration with defaults applied.
func (e *Env) Conf() Conf { return e.conf }

// Reset loads initial state init (≥ 0) of task t: a pure function of
// (t, init) (see Task.layout). The base stands still at NominalHeight
// with a 2 Hz gait.
func (e *Env) Reset(t Task, init int) error {
	if init < 0 {
		return fmt.Errorf("legged: init index %d is negative", init)
	}
	if err := t.Validate(); err != nil {
		return err
	}
	objs, st := t.layout(init)
	w := World{Objects: objs, Half: ArenaHalf, Base: Base{
		Pos: sim.Vec3{st[0], st[1], NominalHeight}, Yaw: wrapAngle(st[2]),
		GaitHz: 2, Swing: 0.08,
	}}
	if !w.freeAt(st[0], st[1], BodyRadius, NominalHeight+BodyThickness/2) {
		return fmt.Errorf("%w %q: init %d: the base starts inside an object", ErrBadTask, t.Name, init)
	}
	e.task, e.init, e.loaded = t.clone(), init, true
	e.w = w
	e.start = w.Base
	e.goal = -1
	e.passed = e.passed[:0]
	for i := range objs {
		if !t.FalsePremise && objs[i].Name == t.Goal {
			e.goal = i
		}
		e.passed = append(e.passed, false)
	}
	e.steps, e.collisions, e.moved = 0, 0, false
	e.success = false
	return nil
}

// Step applies one command (CommandDim entries, see the Cmd constants)
// for 1/StepHz of simulated time. Entries are clipped to the envelope; a
// command of the wrong length or with a NaN or infinite entry is refused
// (ErrBadCommand) and nothing moves. Stepping past Done is allowed;
// Success stays latched.
func (e *Env) Step(cmd []float64) error {
	if !e.loaded {
		return ErrNotReset
	}
	if len(cmd) != CommandDim {
		return fmt.Errorf("%w: %d entries, want %d", ErrBadCommand, len(cmd), CommandDim)
	}
	for i, v := range cmd {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: entry %d is %v", ErrBadCommand, i, v)
		}
	}
	var c [CommandDim]float64
	clipCommand(&c, cmd)
	x0, y0 := e.w.Base.Pos[0], e.w.Base.Pos[1]
	if e.w.step(&c, 1/e.conf.StepHz) {
		e.collisions++
	}
	e.markBars(x0, y0)
	e.steps++
	e.ticks++
	b := &e.w.Base
	if math.Hypot(b.Pos[0]-e.start.Pos[0], b.Pos[1]-e.start.Pos[1]) > FalsePremiseTol {
		e.moved = true
	}
	if !e.success {
		e.success = e.evalSuccess()
	}
	return nil
}

// markBars records the bars the base's centre crossed under in the last
// move, from (x0, y0): the centre went from one side of the bar's line to
// the other within its span.
func (e *Env) markBars(x0, y0 float64) {
	b := &e.w.Base
	for i := range e.w.Objects {
		o := &e.w.Objects[i]
		if o.Kind != Bar {
			continue
		}
		u0, _ := toLocal(x0-o.Pos[0], y0-o.Pos[1], o.Yaw)
		u1, w1 := toLocal(b.Pos[0]-o.Pos[0], b.Pos[1]-o.Pos[1], o.Yaw)
		if (u0 < 0) != (u1 < 0) && math.Abs(w1) <= o.Size[1]/2 {
			e.passed[i] = true
		}
	}
}

// evalSuccess: for a true premise, the base within StopDist of the goal,
// still (or held by the stop flag), after passing under every bar when the
// task says so. For a false premise, holding within FalsePremiseTol of the
// start for FalsePremiseHold steps.
func (e *Env) evalSuccess() bool {
	if e.task.FalsePremise {
		return !e.moved && e.steps >= FalsePremiseHold
	}
	if e.goal < 0 {
		return false
	}
	b := &e.w.Base
	if b.Gap(&e.w.Objects[e.goal]) > StopDist {
		return false
	}
	still := b.Stopped || (math.Hypot(b.Vel[0], b.Vel[1]) < StillSpeed && math.Abs(b.Vel[2]) < StillYawRate)
	if !still {
		return false
	}
	if e.task.UnderBars {
		for i, o := range e.w.Objects {
			if o.Kind == Bar && !e.passed[i] {
				return false
			}
		}
	}
	return true
}

// Observe fills obs: the egocentric image under ImageKey (unless NoRender,
// which removes the key), State (StateDim values, see State), Prompt (the
// instruction), Time (virtual) and Seq (1, 2, … over the Env's life). The
// image already in obs.Images and obs.State's array are reused when large
// enough, so a steady loop does not allocate.
func (e *Env) Observe(obs *efferent.Observation) error {
	if !e.loaded {
		return ErrNotReset
	}
	if e.conf.NoRender {
		if obs.Images != nil {
			delete(obs.Images, ImageKey)
		}
	} else {
		if obs.Images == nil {
			obs.Images = make(map[string]efferent.Image, 1)
		}
		e.img = obs.Images[ImageKey]
		err := e.r.Render(&e.w, EgoCamera(&e.w.Base, e.conf.ImageSize), &e.img)
		obs.Images[ImageKey] = e.img
		e.img = efferent.Image{} // do not keep the caller's buffer
		if err != nil {
			return fmt.Errorf("legged: %s view: %w", EgoView, err)
		}
	}
	obs.State = e.State(obs.State[:0])
	obs.Prompt = e.task.Instruction
	e.seq++
	obs.Seq = e.seq
	obs.Time = e.Time()
	return nil
}

// ThirdPerson renders the chase camera (ThirdCamera) into dst, reusing
// dst.Pix, for people watching; it is not part of the observation.
func (e *Env) ThirdPerson(dst *efferent.Image) error {
	if !e.loaded {
		return ErrNotReset
	}
	if e.r == nil {
		return ErrNoRenderer
	}
	if err := e.r.Render(&e.w, ThirdCamera(&e.w.Base, e.conf.ImageSize), dst); err != nil {
		return fmt.Errorf("legged: %s view: %w", ThirdView, err)
	}
	return nil
}

// State appends the StateDim state to dst and returns it: odometry (x, y,
// yaw of the base in the frame of its start pose), the measured body
// velocities (vx, vy, wz) and the body height.
func (e *Env) State(dst []float64) []float64 {
	b, s := &e.w.Base, &e.start
	x, y := toLocal(b.Pos[0]-s.Pos[0], b.Pos[1]-s.Pos[1], s.Yaw)
	return append(dst, x, y, wrapAngle(b.Yaw-s.Yaw), b.Vel[0], b.Vel[1], b.Vel[2], b.Pos[2])
}

// Success reports whether the task's success condition has held at some
// step of this episode (latched).
func (e *Env) Success() bool { return e.success }

// Steps returns the number of steps since Reset.
func (e *Env) Steps() int { return e.steps }

// Done reports success or Steps() ≥ the task's MaxSteps.
func (e *Env) Done() bool { return e.success || e.steps >= e.task.MaxSteps }

// Collisions returns the number of steps since Reset whose move was
// refused because the base would have hit something.
func (e *Env) Collisions() int { return e.collisions }

// PassedBars reports whether the base has passed under every bar on the
// scene since Reset (true when there is none).
func (e *Env) PassedBars() bool {
	for i, o := range e.w.Objects {
		if o.Kind == Bar && !e.passed[i] {
			return false
		}
	}
	return true
}

// World returns the live privileged state (for the expert, tests and the
// renderer); it changes with every Step and must not be modified.
func (e *Env) World() *World { return &e.w }

// Task returns the loaded task.
func (e *Env) Task() Task { return e.task }

// Init returns the loaded initial-state index.
func (e *Env) Init() int { return e.init }

// Time returns the virtual time: sim.SimEpoch plus the steps taken over
// the Env's life (across resets, so it never goes back) divided by StepHz.
func (e *Env) Time() time.Time {
	return sim.SimEpoch.Add(time.Duration(float64(e.ticks) * float64(time.Second) / e.conf.StepHz))
}
