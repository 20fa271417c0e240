package simrobot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// Default topics of the simulated cameras and the episode results.
const (
	AgentTopic   = "/efferent_sim/agent/image_raw"
	WristTopic   = "/efferent_sim/wrist/image_raw"
	EpisodeTopic = "/efferent_sim/episode"
)

// FrankaBase is where the Franka's base frame (panda_link0) lies in the
// simulator's world frame; see the package doc.
var FrankaBase = sim.Vec3{-0.50, 0, 0.885}

// PolicyHz is the rate the simulator's tasks count their step limits at
// (LIBERO's 20 Hz): an episode's default time limit is MaxSteps/PolicyHz.
const PolicyHz = 20.0

// TwistTimeout is how old a Twist may be before the base stops.
const TwistTimeout = 500 * time.Millisecond

// physicsHz is the simulation's tick: franka_control's 1 kHz.
const physicsHz = 1000

// Conf configures a Node. Zero values mean the documented defaults.
type Conf struct {
	// Profile is the robot the node plays (required): an ee_delta profile
	// with a PoseStamped command and a FrankaState topic (franka.yaml),
	// played by the tabletop simulator, or a twist or command_vector
	// profile (quadruped.yaml), played by the legged simulator. Topics,
	// home joints, gripper and speed bounds come from it.
	Profile *robot.Profile
	// Master is the ROS master's host:port (default 127.0.0.1:11311; the
	// command resolves $ROS_MASTER_URI first).
	Master string
	// NodeName default "efferent_sim".
	NodeName string
	// Host is the address peers reach this node at: default 127.0.0.1
	// for a loopback master, else goroslib's choice.
	Host string
	// Renderer draws the Franka's cameras, LeggedRenderer the quadruped's
	// egocentric camera (sim/render); nil publishes no images.
	Renderer       sim.Renderer
	LeggedRenderer legged.Renderer
	// ImageSize is the cameras' side (default 224); CameraHz their rate
	// (default 30); StateHz the state topics' rate (default 100).
	ImageSize         int
	CameraHz, StateHz float64
	// AgentTopic and WristTopic carry the cameras (defaults above).
	AgentTopic, WristTopic string
	// Task is the Franka's simulator task, Legged the quadruped's (the
	// profile's robot's is required); episodes start from its initial
	// states FirstInit, FirstInit+1, … (mod sim.NumInitStates, which the
	// legged simulator shares).
	Task      sim.Task
	Legged    legged.Task
	FirstInit int
	// Episodes to run; 0 runs until ctx ends.
	Episodes int
	// EpisodeTimeout: default Task.MaxSteps / PolicyHz (the quadruped's:
	// Legged.MaxSteps at the legged simulator's 50 Hz).
	EpisodeTimeout time.Duration
	// ResetHold is how long the arm ignores commands after a reset
	// (default 1 s; negative: not at all).
	ResetHold time.Duration
	// Lag is the impedance controller's time constant (default 50 ms).
	Lag time.Duration
	// Drop and Freeze name the streams to fault (see the package doc);
	// FreezeRestamp restamps frozen messages with the current time;
	// FaultAfter delays the faults from Run's start.
	Drop, Freeze  []string
	FreezeRestamp bool
	FaultAfter    time.Duration
	// MasterPoll: how often the master is checked (default 200 ms).
	MasterPoll time.Duration
	// Log default slog.Default().
	Log *slog.Logger
	// OnEpisode, when set, is called with each result (from Run's
	// goroutine).
	OnEpisode func(EpisodeResult)
}

// Streams that faults can name.
const (
	StreamAgent   = "camera:agent"
	StreamWrist   = "camera:wrist"
	StreamState   = "state"
	StreamGripper = "gripper"
)

// ParseStreams expands fault stream names ("cameras" is both cameras) and
// rejects unknown ones.
func ParseStreams(names []string) ([]string, error) {
	var out []string
	for _, s := range names {
		switch s {
		case StreamAgent, StreamWrist, StreamState, StreamGripper:
			out = append(out, s)
		case "cameras", "camera":
			out = append(out, StreamAgent, StreamWrist)
		default:
			return nil, fmt.Errorf("simrobot: fault stream %q: want %s, %s, cameras, %s or %s", s, StreamAgent, StreamWrist, StreamState, StreamGripper)
		}
	}
	return out, nil
}

func (c Conf) withDefaults() Conf {
	if c.Master == "" {
		c.Master = "127.0.0.1:11311"
	}
	if c.NodeName == "" {
		c.NodeName = "efferent_sim"
	}
	if c.Host == "" {
		if h, _, err := net.SplitHostPort(c.Master); err == nil {
			if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
				c.Host = "127.0.0.1"
			}
		}
	}
	if c.ImageSize == 0 {
		c.ImageSize = sim.DefaultImageSize
	}
	if c.CameraHz == 0 {
		c.CameraHz = 30
	}
	if c.StateHz == 0 {
		c.StateHz = 100
	}
	if c.AgentTopic == "" {
		c.AgentTopic = AgentTopic
	}
	if c.WristTopic == "" {
		c.WristTopic = WristTopic
	}
	if c.EpisodeTimeout == 0 {
		c.EpisodeTimeout = time.Duration(float64(c.Task.MaxSteps) / PolicyHz * float64(time.Second))
		if c.Profile != nil && quadruped(c.Profile) {
			c.EpisodeTimeout = time.Duration(float64(c.Legged.MaxSteps) / legged.DefaultStepHz * float64(time.Second))
		}
	}
	if c.ResetHold == 0 {
		c.ResetHold = time.Second
	}
	if c.Lag == 0 {
		c.Lag = 50 * time.Millisecond
	}
	if c.MasterPoll == 0 {
		c.MasterPoll = 200 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

func (c Conf) validate() error {
	p := c.Profile
	if p == nil {
		return errors.New("simrobot: Conf.Profile: required")
	}
	switch p.Action.Mapping {
	case robot.MappingEEDelta:
		if p.Command.Type != robot.TypePoseStamped || p.State.FrankaState == "" {
			return fmt.Errorf("simrobot: profile %s: an ee_delta robot needs a PoseStamped command and a franka_state topic", p.Name)
		}
		if err := c.Task.Validate(); err != nil {
			return err
		}
	case robot.MappingTwist, robot.MappingCommandVector:
		if p.Action.Mapping == robot.MappingCommandVector && p.Action.Dim != legged.CommandDim {
			return fmt.Errorf("simrobot: profile %s: a command vector of %d dims; the legged simulator takes %d", p.Name, p.Action.Dim, legged.CommandDim)
		}
		if err := c.Legged.Validate(); err != nil {
			return fmt.Errorf("simrobot: the quadruped's task: %w", err)
		}
	default:
		return fmt.Errorf("simrobot: profile %s: mapping %s is not simulated (ee_delta, twist or command_vector)", p.Name, p.Action.Mapping)
	}
	if c.FirstInit < 0 || c.Episodes < 0 {
		return fmt.Errorf("simrobot: FirstInit %d and Episodes %d must be ≥ 0", c.FirstInit, c.Episodes)
	}
	if c.ImageSize < 8 || c.ImageSize > sim.MaxImageSize {
		return fmt.Errorf("simrobot: ImageSize %d: want 8..%d", c.ImageSize, sim.MaxImageSize)
	}
	if !(c.CameraHz > 0 && c.CameraHz <= 200) || !(c.StateHz > 0 && c.StateHz <= physicsHz) {
		return fmt.Errorf("simrobot: CameraHz %v (want (0, 200]) or StateHz %v (want (0, %d]) out of range", c.CameraHz, c.StateHz, physicsHz)
	}
	if c.EpisodeTimeout < 0 || c.Lag < 0 || c.FaultAfter < 0 {
		return errors.New("simrobot: EpisodeTimeout, Lag and FaultAfter must not be negative")
	}
	if c.MasterPoll < 10*time.Millisecond {
		return fmt.Errorf("simrobot: MasterPoll %v: want ≥ 10ms", c.MasterPoll)
	}
	if _, _, err := net.SplitHostPort(c.Master); err != nil {
		return fmt.Errorf("simrobot: master %q: want host:port: %v", c.Master, err)
	}
	if _, err := ParseStreams(c.Drop); err != nil {
		return err
	}
	_, err := ParseStreams(c.Freeze)
	return err
}

// EpisodeResult is one episode's outcome, published as JSON on
// EpisodeTopic.
type EpisodeResult struct {
	Episode int    `json:"episode"` // 1, 2, …
	Init    int    `json:"init"`    // the task's initial state
	Task    string `json:"task"`
	Success bool   `json:"success"`
	// Seconds from the end of the reset hold to success or the time
	// limit.
	Seconds float64 `json:"seconds"`
	// Commands: equilibrium poses (or Twists, command vectors) received
	// meanwhile.
	Commands uint64 `json:"commands"`
}

// Node is the simulated robot. Create it with New, drive it with Run.
type Node struct {
	conf Conf
	prof *robot.Profile
	env  *sim.Env // the Franka's (nil for the quadruped)
	legs *legs    // the quadruped's (nil for the Franka)
	ros  rosSide

	// Commands, written by subscriber callbacks.
	mu        sync.Mutex
	cmd       armPose
	haveCmd   bool
	commands  uint64
	gripWidth float64
	gripSpeed float64
	twist     [3]float64
	vec       [legged.CommandDim]float64
	twistAt   time.Time // the last Twist's or command vector's arrival

	// Run's goroutine only.
	arm       armState
	holdUntil time.Time
	lastState [3]any // last state messages sent (franka state, joints, gripper), for freezing

	drop, freeze map[string]bool
	faultsOn     atomic.Bool
	renderCh     chan snapshot
}

// armPose is a pose in the simulator's world frame.
type armPose struct {
	p sim.Vec3
	q sim.Quat
}

// New validates conf and connects the node to the master.
func New(conf Conf) (*Node, error) {
	conf = conf.withDefaults()
	if err := conf.validate(); err != nil {
		return nil, err
	}
	n := &Node{conf: conf, prof: conf.Profile, drop: map[string]bool{}, freeze: map[string]bool{}}
	var err error
	if quadruped(conf.Profile) {
		if n.legs, err = newLegs(conf.Legged, conf.FirstInit); err != nil {
			return nil, err
		}
	} else {
		if n.env, err = sim.New(sim.Conf{NoRender: true, StepHz: physicsHz}, nil); err != nil {
			return nil, err
		}
		if err := n.env.Reset(conf.Task, conf.FirstInit); err != nil {
			return nil, err
		}
	}
	d, _ := ParseStreams(conf.Drop)
	for _, s := range d {
		n.drop[s] = true
	}
	f, _ := ParseStreams(conf.Freeze)
	for _, s := range f {
		n.freeze[s] = true
	}
	n.faultsOn.Store(conf.FaultAfter == 0 && len(d)+len(f) > 0)
	n.resetCommands()
	if err := n.ros.start(n); err != nil {
		return nil, err
	}
	return n, nil
}

// ToggleFaults switches the configured faults off or on and returns
// whether they are now on; safe from any goroutine.
func (n *Node) ToggleFaults() bool {
	for {
		on := n.faultsOn.Load()
		if n.faultsOn.CompareAndSwap(on, !on) {
			n.conf.Log.Info("faults toggled", "on", !on, "drop", n.conf.Drop, "freeze", n.conf.Freeze)
			return !on
		}
	}
}

// mode is a stream's fault now: "", "drop" or "freeze".
func (n *Node) mode(stream string) string {
	if !n.faultsOn.Load() {
		return ""
	}
	switch {
	case n.drop[stream]:
		return "drop"
	case n.freeze[stream]:
		return "freeze"
	}
	return ""
}

// resetCommands forgets the commands of the last episode: the gripper is
// open (as the reset opened it) until a new move goal arrives.
func (n *Node) resetCommands() {
	n.mu.Lock()
	n.gripWidth, n.gripSpeed = 2*sim.FingerOpen, 0.1
	n.twist, n.vec, n.twistAt = [3]float64{}, [legged.CommandDim]float64{}, time.Time{}
	n.mu.Unlock()
}

// Close unregisters the node.
func (n *Node) Close() error {
	n.ros.stop()
	return nil
}

// Run plays episodes until conf.Episodes are done (returning their
// results) or ctx ends (returning those done and nil).
func (n *Node) Run(ctx context.Context) ([]EpisodeResult, error) {
	c := n.conf
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	if (n.legs == nil && c.Renderer != nil) || (n.legs != nil && c.LeggedRenderer != nil) {
		n.renderCh = make(chan snapshot, 1)
		wg.Add(1)
		go func() { defer wg.Done(); n.renderLoop(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); n.ros.watchMaster(ctx) }()

	start := time.Now()
	if c.FaultAfter > 0 && len(n.drop)+len(n.freeze) > 0 {
		t := time.AfterFunc(c.FaultAfter, func() {
			if !n.faultsOn.Load() {
				n.ToggleFaults()
			}
		})
		defer t.Stop()
	}
	dt := time.Second / physicsHz
	tick := time.NewTicker(dt)
	defer tick.Stop()
	statePeriod := time.Duration(float64(time.Second) / c.StateHz)
	camPeriod := time.Duration(float64(time.Second) / c.CameraHz)
	simNow, nextState, nextCam, nextLog := start, start, start, start
	if n.env != nil {
		n.arm.reset(n.env.World())
	}

	var results []EpisodeResult
	ep := 0
	// The first episode waits for its driver's first command; later ones
	// hold for ResetHold after their reset.
	waiting, epStart, epCommands := true, time.Time{}, uint64(0)
	n.holdUntil = time.Time{}
	for {
		select {
		case <-ctx.Done():
			return results, nil
		case now := <-tick.C:
			// Catch up in 1 ms steps (at most 50: a longer stall is
			// skipped, not replayed).
			steps := 0
			for simNow.Add(dt).Before(now) || simNow.Add(dt).Equal(now) {
				simNow = simNow.Add(dt)
				if steps++; steps > 50 {
					simNow = now
					break
				}
				tracking := !waiting && !simNow.Before(n.holdUntil)
				if err := n.physics(dt, tracking, simNow); err != nil {
					return results, err
				}
			}
			n.mu.Lock()
			commands := n.commands
			n.mu.Unlock()
			if waiting && commands > 0 {
				waiting = false
				epStart, epCommands = now, commands
				c.Log.Info("driver connected: episode starts", "episode", ep+1, "init", n.init())
			}
			if !now.Before(nextState) {
				nextState = nextState.Add(statePeriod)
				if nextState.Before(now) {
					nextState = now.Add(statePeriod)
				}
				n.publishState(now)
			}
			if n.renderCh != nil && !now.Before(nextCam) {
				nextCam = nextCam.Add(camPeriod)
				if nextCam.Before(now) {
					nextCam = now.Add(camPeriod)
				}
				n.snapshot(now)
			}
			if n.env != nil && !now.Before(nextLog) {
				nextLog = now.Add(500 * time.Millisecond)
				g := n.env.World().Gripper
				c.Log.Debug("arm", "grip", g.Pos, "target", n.arm.target.p, "finger", g.Finger, "held", g.Held, "commands", commands)
			}
			if waiting || now.Before(n.holdUntil) {
				continue
			}
			if epStart.IsZero() {
				epStart, epCommands = n.holdUntil, commands
			}
			success := n.success()
			if !success && now.Sub(epStart) < c.EpisodeTimeout {
				continue
			}
			res := EpisodeResult{Episode: ep + 1, Init: n.init(), Task: n.taskName(), Success: success,
				Seconds: math.Round(now.Sub(epStart).Seconds()*1000) / 1000, Commands: commands - epCommands}
			results = append(results, res)
			c.Log.Info("episode finished", "episode", res.Episode, "init", res.Init, "success", res.Success,
				"seconds", res.Seconds, "commands", res.Commands)
			if js, err := json.Marshal(res); err == nil {
				n.ros.publishEpisode(&std_msgs.String{Data: string(js)})
			}
			if c.OnEpisode != nil {
				c.OnEpisode(res)
			}
			ep++
			if c.Episodes > 0 && ep >= c.Episodes {
				return results, nil
			}
			if err := n.reset((c.FirstInit + ep) % sim.NumInitStates); err != nil {
				return results, err
			}
			n.resetCommands()
			n.holdUntil = now.Add(max(c.ResetHold, 0))
			epStart = time.Time{}
			n.publishState(now) // the reset at once, not a state period later
		}
	}
}

// init, success, taskName and reset are the episode's, of whichever
// simulator plays the robot.
func (n *Node) init() int {
	if n.legs != nil {
		return n.legs.env.Init()
	}
	return n.env.Init()
}

func (n *Node) success() bool {
	if n.legs != nil {
		return n.legs.env.Success()
	}
	return n.env.Success()
}

func (n *Node) taskName() string {
	if n.legs != nil {
		return n.legs.env.Task().Name
	}
	return n.env.Task().Name
}

func (n *Node) reset(init int) error {
	if n.legs != nil {
		n.legs.acc = 0
		return n.legs.env.Reset(n.conf.Legged, init)
	}
	if err := n.env.Reset(n.conf.Task, init); err != nil {
		return err
	}
	n.arm.reset(n.env.World())
	return nil
}

// snapshot hands a copy of the scene to the render goroutine (dropped if
// it is still busy with the last one: the camera rate falls, the physics
// does not stall).
func (n *Node) snapshot(now time.Time) {
	s := snapshot{at: now}
	if n.legs != nil {
		w := n.legs.env.World()
		s.legged = &legged.World{Objects: append([]legged.Object(nil), w.Objects...), Base: w.Base, Half: w.Half}
	} else {
		w := n.env.World()
		s.gripper, s.objects = w.Gripper, append([]sim.Object(nil), w.Objects...)
	}
	select {
	case n.renderCh <- s:
	default:
	}
}

// snapshot is the scene at one instant, for the cameras.
type snapshot struct {
	at      time.Time
	gripper sim.Gripper
	objects []sim.Object
	legged  *legged.World // the quadruped's scene
}

// renderLoop draws and publishes the cameras of each snapshot.
func (n *Node) renderLoop(ctx context.Context) {
	var w sim.World
	var bufs [2]efferent.Image
	var last [2]*imageMsg
	for {
		var s snapshot
		select {
		case <-ctx.Done():
			return
		case s = <-n.renderCh:
		}
		w.Objects, w.Gripper = s.objects, s.gripper
		for i, stream := range []string{StreamAgent, StreamWrist} {
			if i == 1 && s.legged != nil {
				continue // the quadruped has no wrist camera
			}
			mode := n.mode(stream)
			if mode == "drop" {
				continue
			}
			if mode == "freeze" && last[i] != nil {
				m := last[i]
				if n.conf.FreezeRestamp {
					cp := *m
					cp.Header.Stamp = s.at
					m = &cp
				}
				n.ros.publishImage(i, m)
				continue
			}
			var cam sim.Camera
			var err error
			switch {
			case s.legged != nil:
				cam = legged.EgoCamera(&s.legged.Base, n.conf.ImageSize)
				err = n.conf.LeggedRenderer.Render(s.legged, cam, &bufs[i])
			case i == 0:
				cam = sim.AgentCamera(n.conf.ImageSize)
				err = n.conf.Renderer.Render(&w, cam, &bufs[i])
			default:
				cam = sim.WristCamera(&w.Gripper, n.conf.ImageSize)
				err = n.conf.Renderer.Render(&w, cam, &bufs[i])
			}
			if err != nil {
				n.conf.Log.Warn("rendering failed", "camera", cam.Name, "err", err)
				continue
			}
			m := newImage(&bufs[i], s.at, cam.Name)
			last[i] = m
			n.ros.publishImage(i, m)
		}
	}
}
