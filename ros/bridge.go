package ros

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/robot"
)

// ErrNotReady is wrapped by Observe (and WaitReady) while an input the
// observation needs (the master, a state or camera topic, a camera) has
// not delivered a message since the bridge (re)connected, or its newest
// is older than its maximum age. Observe's error then also wraps
// efferent.ErrStaleInput: the control loop holds the robot and goes on.
var ErrNotReady = errors.New("ros: robot inputs not ready")

// ErrMaster is wrapped when the ROS master cannot be reached at start.
var ErrMaster = errors.New("ros: master unreachable")

// maxDim bounds a setpoint's dimension on the hand-off to the owner
// goroutine (a fixed array: the hand-off copies, never allocates).
const maxDim = 64

// setpoint is one gated setpoint on its way to the owner goroutine.
type setpoint struct {
	n    int
	v    [maxDim]float64
	hold bool
}

// Stats counts what the bridge did.
type Stats struct {
	// Published commands (all kinds); Holds among them: hold commands sent
	// because the robot must keep still (hold setpoints, the watchdog, the
	// master's loss); WatchdogHolds: ticks the watchdog found no fresh
	// setpoint.
	Published, Holds, WatchdogHolds uint64
	// Dropped setpoints: the owner goroutine was behind and the hand-off
	// queue was full (counted, never blocking the tick).
	Dropped uint64
	// GripperCommands sent (on a change of the latched state only).
	GripperCommands uint64
	// MasterLosses and Reconnects: how often the master went away and how
	// often the node registered again.
	MasterLosses, Reconnects uint64
	// MasterUp reports whether the master answered the last check.
	MasterUp bool
	// StaleEvents counts how often an input went stale (see Inputs for
	// which); StaleHolds the commands sent held because one was (every
	// period while it lasts); ClockSkews the messages judged by their
	// arrival because their stamp was off.
	StaleEvents, StaleHolds, ClockSkews uint64
	// StaleInput and StaleAge name the stale input and its age while one
	// is stale ("" and 0 otherwise), as of the owner's last check.
	StaleInput string
	StaleAge   time.Duration
	// SpeedClamps, LeadClamps, WorkspaceClamps, TwistClamps: the bounds
	// the command mapping applied.
	SpeedClamps, LeadClamps, WorkspaceClamps, TwistClamps uint64
}

// Bridge drives a ROS robot; see the package doc. It implements
// control.Robot: Observe and Apply are called from the control loop's tick
// goroutine; Close from anywhere.
type Bridge struct {
	conf Conf
	prof *robot.Profile

	in     chan setpoint
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// latest state, written by subscriber callbacks.
	mu       sync.Mutex
	measured pose
	havePose bool
	joints   []float64
	fingers  [2]float64
	frames   map[string]*frame
	// srcFrame is the scratch for reading Conf.Sources (Observe only).
	srcFrame camera.Frame
	// Freshness (see freshness.go), guarded by fmu, not mu: Stale runs
	// on every controller tick and must not wait for an image's
	// conversion under mu (lock order: mu, then fmu). inputs[0] is the
	// master, then the
	// robot state, the gripper state, the ROS cameras, the other cameras
	// (by key). stateIn and gripIn are nil when not observed; stateFrom
	// says which state callback refreshes stateIn. since is the last
	// (re)connection; masterOK and lostAt the master's state.
	fmu             sync.Mutex
	inputs          []*input
	stateIn, gripIn *input
	stateFrom       string
	srcKeys         []string
	srcIns          []*input
	since           time.Time
	masterOK        bool
	lostAt          time.Time

	verdict atomic.Value // string: the last verdict, for the status topic
	premise atomic.Value // premiseStatus: the false-premise verdict on the instruction
	// The last reported verdict (Report's goroutine, the control tick).
	reported   bool
	lastKind   efferent.VerdictKind
	lastReason string

	// Owner goroutine only.
	node      *goroslib.Node
	pubs      publishers
	subs      []*goroslib.Subscriber
	masterPID int
	masterUp  bool
	lastIn    time.Time
	arm       *armIntegrator
	twist     *twistLimiter
	grip      gripperLatch
	staleNow  bool
	applied   bool // a setpoint has arrived (before that, holds are expected)
	statusAt  string
	// Freshness as the owner last checked it: staleOn while an input is
	// stale (staleIdx, staleAge); everFresh once every input was fresh
	// (stale episodes are logged from then on); stopTime bounds the
	// motion gate's controlled stop (robot.Profile.StopTime).
	staleOn     bool
	staleIdx    int
	staleAge    time.Duration
	everFresh   bool
	stopTime    time.Duration
	statusStale bool
	staleSince  time.Time
	freezeAt    time.Time // while stale: no motion from then on
	lastJoints  []float64 // joint_position: the last commanded positions
	failSince   time.Time // the first of consecutive failed master checks
	// staleName (the stale input's name, nil when fresh) and staleAgeNs:
	// the owner's last check, for Stats (a pointer to the input's name:
	// storing it allocates nothing).
	staleName  atomic.Pointer[string]
	staleAgeNs atomic.Int64

	published, holds, watchdogHolds, dropped atomic.Uint64
	gripperCmds, losses, reconnects          atomic.Uint64
	staleHolds, staleEvents                  atomic.Uint64
	up                                       atomic.Bool
	clamps                                   [4]atomic.Uint64 // speed, lead, workspace, twist
}

// frame is the latest image of one camera.
type frame struct {
	img   efferent.Image
	stamp time.Time // the time it is judged by (input.refresh)
	have  bool
	err   string // why the last message could not be used
	in    *input
}

// New connects to the master, creates the node, its publishers and
// subscribers, and starts the owner goroutine. A master that cannot be
// reached is an error here (ErrMaster); later losses are survived.
func New(conf Conf) (*Bridge, error) {
	conf, err := conf.WithDefaults()
	if err != nil {
		return nil, err
	}
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	if conf.DecodeImage == nil {
		conf.DecodeImage = api.DecodeStdImage
	}
	b := &Bridge{conf: conf, prof: conf.Profile, in: make(chan setpoint, 64), done: make(chan struct{}),
		frames: map[string]*frame{}}
	b.initInputs()
	b.verdict.Store("starting")
	switch conf.Profile.Action.Mapping {
	case robot.MappingEEDelta:
		b.arm = newArmIntegrator(conf.Profile)
	case robot.MappingTwist:
		b.twist = newTwistLimiter(conf.Profile)
	}
	b.grip.threshold = conf.Profile.Gripper.Threshold
	b.stopTime = conf.Profile.StopTime()
	b.staleIdx = -1
	pid, err := MasterPID(context.Background(), conf.Master, conf.NodeName, time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w at %s (start one, or set ROS_MASTER_URI / --ros-master): %v", ErrMaster, conf.Master, err)
	}
	if err := b.connect(); err != nil {
		return nil, err
	}
	b.masterPID, b.masterUp = pid, true
	b.up.Store(true)
	b.fmu.Lock()
	b.masterOK = true
	b.resetInputsLocked(time.Now())
	b.fmu.Unlock()
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.run()
	return b, nil
}

// Observe implements control.Robot: the latest state and camera frames.
// While an input the observation needs is missing or older than its
// maximum age (see Stale), it returns an error wrapping ErrNotReady and
// efferent.ErrStaleInput that names each such input and its age.
func (b *Bridge) Observe(obs *efferent.Observation) error {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if obs.Images == nil {
		obs.Images = make(map[string]efferent.Image, len(b.conf.Cameras)+len(b.conf.Sources))
	}
	var oldest time.Time // the observation's time: its oldest frame's
	for i, key := range b.srcKeys {
		in := b.srcIns[i]
		if !in.src.Latest(&b.srcFrame) {
			continue // Stale reports it: no frame yet
		}
		im := obs.Images[key]
		im.CopyFrom(b.srcFrame.Image)
		obs.Images[key] = im
		// The frame's capture time refines when its arrival was noticed
		// (a source started with an old frame, a stalled capture), within
		// the same clock guard as a ROS stamp.
		t := b.srcFrame.Time
		b.fmu.Lock()
		b.pollSourcesLocked(now)
		if !t.IsZero() && !t.After(now) && now.Sub(t) <= clockSkew(in.maxAge) && t.Before(in.last) {
			in.last = t
		}
		if oldest.IsZero() || in.last.Before(oldest) {
			oldest = in.last
		}
		b.fmu.Unlock()
	}
	b.fmu.Lock()
	if i, _ := b.staleLocked(now); i >= 0 {
		err := b.staleError(now)
		b.fmu.Unlock()
		return err
	}
	b.fmu.Unlock()
	if cap(obs.State) < b.conf.StateDim {
		obs.State = make([]float64, b.conf.StateDim)
	}
	obs.State = obs.State[:b.conf.StateDim]
	clear(obs.State)
	if b.arm != nil {
		aa := b.measured.q.axisAngle()
		st := [8]float64{b.measured.p[0], b.measured.p[1], b.measured.p[2], aa[0], aa[1], aa[2], b.fingers[0], b.fingers[1]}
		copy(obs.State, st[:])
	} else {
		copy(obs.State, b.joints)
	}
	for _, c := range b.conf.Cameras {
		f := b.frames[c.Key]
		im := obs.Images[c.Key]
		im.CopyFrom(f.img)
		obs.Images[c.Key] = im
		if oldest.IsZero() || f.stamp.Before(oldest) {
			oldest = f.stamp
		}
	}
	obs.Time = oldest // zero without cameras: the loop stamps the tick
	obs.Prompt = b.conf.Instruction
	return nil
}

// initInputs lists the inputs the observation needs, in Stale's order,
// with their precomputed names and maximum ages.
func (b *Bridge) initInputs() {
	p, c := b.prof, b.conf
	add := func(name string, maxAge time.Duration) *input {
		in := &input{name: name, maxAge: maxAge}
		b.inputs = append(b.inputs, in)
		return in
	}
	add("ROS master ("+c.Master+")", 0)
	if p.Action.Mapping == robot.MappingEEDelta {
		if p.State.FrankaState != "" {
			b.stateFrom = "franka_state"
		} else {
			b.stateFrom = "pose"
		}
		b.stateIn = add("robot state ("+firstNonEmpty(p.State.FrankaState, p.State.Pose)+")", p.State.MaxAge)
		if p.State.GripperJointStates != "" {
			b.gripIn = add("gripper state ("+p.State.GripperJointStates+")", p.State.GripperMaxAge)
		}
	} else if p.State.JointStates != "" {
		b.stateFrom = "joint_states"
		b.stateIn = add("robot state ("+p.State.JointStates+")", p.State.MaxAge)
	}
	for _, cam := range c.Cameras {
		age := cam.MaxAge
		if age == 0 {
			age = p.CameraMaxAge(cam.Key)
		}
		f := &frame{}
		f.in = add("camera "+cam.Key+" ("+cam.Topic+")", age)
		f.in.frame = f
		b.frames[cam.Key] = f
	}
	for key := range c.Sources {
		b.srcKeys = append(b.srcKeys, key)
	}
	slices.Sort(b.srcKeys)
	for _, key := range b.srcKeys {
		in := add("camera "+key+" (non-ROS source)", p.CameraMaxAge(key))
		in.src = c.Sources[key]
		b.srcIns = append(b.srcIns, in)
	}
}

// WaitReady waits until Observe can succeed, polling every 20 ms, and
// returns its last error when ctx ends first.
func (b *Bridge) WaitReady(ctx context.Context) error {
	var obs efferent.Observation
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		err := b.Observe(&obs)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waited %v)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// Apply implements control.Robot: it hands sp to the owner goroutine
// without blocking or allocating; when the hand-off queue is full the
// setpoint is dropped and counted (the watchdog holds the robot if that
// persists).
func (b *Bridge) Apply(sp *efferent.Setpoint) error {
	var s setpoint
	if len(sp.Values) > maxDim {
		return fmt.Errorf("ros: setpoint has %d values, at most %d", len(sp.Values), maxDim)
	}
	s.n = copy(s.v[:], sp.Values)
	s.hold = sp.Hold
	select {
	case b.in <- s:
	default:
		b.dropped.Add(1)
	}
	return nil
}

// Done implements control.Robot: a ROS robot runs until interrupted.
func (b *Bridge) Done() bool { return false }

// Report records the gate's latest verdict for the status topic; cheap
// enough for every tick (control.LoopConf.OnTick).
func (b *Bridge) Report(v efferent.Verdict) {
	// The text is built only when the verdict changes: this runs on every
	// controller tick, which must not allocate.
	if b.reported && v.Kind == b.lastKind && v.Reason == b.lastReason {
		return
	}
	b.reported, b.lastKind, b.lastReason = true, v.Kind, v.Reason
	b.verdict.Store(verdictText(v))
}

// premiseStatus is the false-premise verdict on the instruction, for the
// status topic.
type premiseStatus struct{ decision, reason string }

// ReportPremise records the false-premise checker's decision on the
// instruction ("ok", "refuse", "clarify", "pending") and its reason for
// the status topic (a refused instruction is published as an error).
func (b *Bridge) ReportPremise(decision, reason string) {
	b.premise.Store(premiseStatus{decision, reason})
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	st := Stats{
		Published: b.published.Load(), Holds: b.holds.Load(), WatchdogHolds: b.watchdogHolds.Load(),
		Dropped: b.dropped.Load(), GripperCommands: b.gripperCmds.Load(),
		MasterLosses: b.losses.Load(), Reconnects: b.reconnects.Load(), MasterUp: b.up.Load(),
		SpeedClamps: b.clamps[0].Load(), LeadClamps: b.clamps[1].Load(), WorkspaceClamps: b.clamps[2].Load(),
		TwistClamps: b.clamps[3].Load(),
		StaleEvents: b.staleEvents.Load(), StaleHolds: b.staleHolds.Load(), ClockSkews: b.clockSkews(),
	}
	if n := b.staleName.Load(); n != nil {
		st.StaleInput, st.StaleAge = *n, time.Duration(b.staleAgeNs.Load())
	}
	return st
}

func (b *Bridge) clockSkews() (n uint64) {
	for _, in := range b.inputs {
		n += in.skews.Load()
	}
	return n
}

// Close stops the owner goroutine, which unregisters the node. Safe to
// call more than once.
func (b *Bridge) Close() error {
	b.cancel()
	<-b.done
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func verdictText(v efferent.Verdict) string {
	k := [...]string{"allowed", "clamped", "held", "refused"}
	s := "unknown"
	if int(v.Kind) < len(k) {
		s = k[v.Kind]
	}
	if v.Reason != "" {
		s += ": " + v.Reason
	}
	return s
}
