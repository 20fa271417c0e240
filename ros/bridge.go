package ros

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/robot"
)

// ErrNotReady is wrapped by Observe (and WaitReady) while a state or
// camera topic the observation needs has not delivered a message yet.
var ErrNotReady = errors.New("ros: robot state not received yet")

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

	published, holds, watchdogHolds, dropped atomic.Uint64
	gripperCmds, losses, reconnects          atomic.Uint64
	up                                       atomic.Bool
	clamps                                   [4]atomic.Uint64 // speed, lead, workspace, twist
}

// frame is the latest image of one camera.
type frame struct {
	img   efferent.Image
	stamp time.Time
	have  bool
	err   string // why the last message could not be used
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
	for _, c := range conf.Cameras {
		b.frames[c.Key] = &frame{}
	}
	b.verdict.Store("starting")
	switch conf.Profile.Action.Mapping {
	case robot.MappingEEDelta:
		b.arm = newArmIntegrator(conf.Profile)
	case robot.MappingTwist:
		b.twist = newTwistLimiter(conf.Profile)
	}
	b.grip.threshold = conf.Profile.Gripper.Threshold
	pid, err := masterPID(conf.Master, conf.NodeName, time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w at %s (start one, or set ROS_MASTER_URI / --ros-master): %v", ErrMaster, conf.Master, err)
	}
	if err := b.connect(); err != nil {
		return nil, err
	}
	b.masterPID, b.masterUp = pid, true
	b.up.Store(true)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.run()
	return b, nil
}

// Observe implements control.Robot: the latest state and camera frames.
// Until every topic the observation needs has delivered, it returns an
// error wrapping ErrNotReady that names them.
func (b *Bridge) Observe(obs *efferent.Observation) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var missing []string
	if b.arm != nil && !b.havePose {
		missing = append(missing, "end-effector pose ("+firstNonEmpty(b.prof.State.FrankaState, b.prof.State.Pose)+")")
	}
	if b.arm == nil && b.prof.State.JointStates != "" && b.joints == nil {
		missing = append(missing, "joint states ("+b.prof.State.JointStates+")")
	}
	for _, c := range b.conf.Cameras {
		if f := b.frames[c.Key]; !f.have {
			why := ""
			if f.err != "" {
				why = ": " + f.err
			}
			missing = append(missing, "camera "+c.Key+" ("+c.Topic+why+")")
		}
	}
	if obs.Images == nil {
		obs.Images = make(map[string]efferent.Image, len(b.conf.Cameras)+len(b.conf.Sources))
	}
	var oldest time.Time // the observation's time: its oldest frame's
	for key, src := range b.conf.Sources {
		if !src.Latest(&b.srcFrame) {
			missing = append(missing, "camera "+key)
			continue
		}
		im := obs.Images[key]
		im.CopyFrom(b.srcFrame.Image)
		obs.Images[key] = im
		if oldest.IsZero() || b.srcFrame.Time.Before(oldest) {
			oldest = b.srcFrame.Time
		}
	}
	if missing != nil {
		return fmt.Errorf("%w: %s", ErrNotReady, strings.Join(missing, ", "))
	}
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
	return Stats{
		Published: b.published.Load(), Holds: b.holds.Load(), WatchdogHolds: b.watchdogHolds.Load(),
		Dropped: b.dropped.Load(), GripperCommands: b.gripperCmds.Load(),
		MasterLosses: b.losses.Load(), Reconnects: b.reconnects.Load(), MasterUp: b.up.Load(),
		SpeedClamps: b.clamps[0].Load(), LeadClamps: b.clamps[1].Load(), WorkspaceClamps: b.clamps[2].Load(),
		TwistClamps: b.clamps[3].Load(),
	}
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
