package ros

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/trajectory_msgs"

	"github.com/efferent/efferent/robot"
)

// publishers are the node's publishers (nil when unused).
type publishers struct {
	command *goroslib.Publisher
	gripper *goroslib.Publisher
	status  *goroslib.Publisher
}

// NewNode registers a goroslib node named name with the master at
// master (host:port), reachable at host ("" : goroslib's choice), its
// warnings logged to log; an error wraps ErrMaster. The bridge and efferent
// sim ros make their nodes this way, at start and when the master is back.
func NewNode(name, master, host string, log *slog.Logger) (*goroslib.Node, error) {
	node, err := goroslib.NewNode(goroslib.NodeConf{
		Name: name, MasterAddress: master, Host: host,
		LogDestinations: goroslib.LogDestinationCallback,
		OnLog: func(lvl goroslib.LogLevel, msg string) {
			if lvl >= goroslib.LogLevelWarn {
				log.Warn("goroslib: " + msg)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrMaster, master, err)
	}
	return node, nil
}

// connect creates the node, its publishers and its subscribers. Called at
// start and again when the master is back; the owner goroutine (or New,
// before it starts) is the only caller.
func (b *Bridge) connect() (err error) {
	p, c := b.prof, b.conf
	node, err := NewNode(c.NodeName, c.Master, c.Host, c.Log)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			b.disconnect(node)
		}
	}()
	var pubs publishers
	newPub := func(topic string, m any, latch bool) (*goroslib.Publisher, error) {
		pub, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: node, Topic: topic, Msg: m, Latch: latch})
		if err != nil {
			return nil, fmt.Errorf("ros: publisher %s: %w", topic, err)
		}
		return pub, nil
	}
	var cmd any
	switch p.Command.Type {
	case robot.TypePoseStamped:
		cmd = &geometry_msgs.PoseStamped{}
	case robot.TypeTwist:
		cmd = &geometry_msgs.Twist{}
	case robot.TypeFloat64MultiArray:
		cmd = &std_msgs.Float64MultiArray{}
	case robot.TypeJointTrajectory:
		cmd = &trajectory_msgs.JointTrajectory{}
	}
	if pubs.command, err = newPub(p.Command.Topic, cmd, false); err != nil {
		return err
	}
	b.node, b.pubs = node, pubs // so that disconnect closes what exists
	// The gripper command is sent once per change, so it is latched: a
	// driver that connects (or reconnects) later still gets the state the
	// policy wants, and re-executing it is harmless (open stays open).
	switch p.Gripper.Type {
	case robot.GripperFrankaMove:
		if b.pubs.gripper, err = newPub(p.Gripper.Topic, &MoveActionGoal{}, true); err != nil {
			return err
		}
	case robot.GripperFloat64:
		if b.pubs.gripper, err = newPub(p.Gripper.Topic, &std_msgs.Float64{}, true); err != nil {
			return err
		}
	}
	if p.Status.Topic != "" {
		if b.pubs.status, err = newPub(p.Status.Topic, &diagnostic_msgs.DiagnosticArray{}, false); err != nil {
			return err
		}
	}
	sub := func(topic string, cb any) error {
		s, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: node, Topic: topic, Callback: cb, QueueSize: 4})
		if err != nil {
			return fmt.Errorf("ros: subscriber %s: %w", topic, err)
		}
		b.subs = append(b.subs, s)
		return nil
	}
	if t := p.State.FrankaState; t != "" {
		if err := sub(t, b.onFrankaState); err != nil {
			return err
		}
	}
	if t := p.State.Pose; t != "" {
		if err := sub(t, b.onPose); err != nil {
			return err
		}
	}
	if t := p.State.JointStates; t != "" {
		if err := sub(t, b.onJointState); err != nil {
			return err
		}
	}
	if t := p.State.GripperJointStates; t != "" {
		if err := sub(t, b.onGripperState); err != nil {
			return err
		}
	}
	if c.EStop != nil {
		var last bool // e-stop buttons repeat their state: log the press once
		if err := sub(c.EStopTopic, func(m *std_msgs.Bool) {
			if m.Data {
				if !last {
					c.Log.Warn("e-stop engaged over ROS", "topic", c.EStopTopic)
				}
				c.EStop("ros")
			}
			last = m.Data
		}); err != nil {
			return err
		}
	}
	for _, cam := range c.Cameras {
		f := b.frames[cam.Key]
		var cb any
		if cam.Compressed {
			cb = func(m *sensor_msgs.CompressedImage) { b.onCompressed(f, m) }
		} else {
			cb = func(m *sensor_msgs.Image) { b.onImage(f, m) }
		}
		if err := sub(cam.Topic, cb); err != nil {
			return err
		}
	}
	return nil
}

// disconnect closes the subscribers, publishers and node (unregistering
// what the master still knows).
func (b *Bridge) disconnect(node *goroslib.Node) {
	for _, s := range b.subs {
		s.Close()
	}
	b.subs = nil
	for _, p := range []*goroslib.Publisher{b.pubs.command, b.pubs.gripper, b.pubs.status} {
		if p != nil {
			p.Close()
		}
	}
	b.pubs = publishers{}
	if node != nil {
		node.Close()
	}
	b.node = nil
}

// run is the owner goroutine: commands from setpoints, the watchdog, the
// inputs' freshness, the master watch and the status topic.
func (b *Bridge) run() {
	defer close(b.done)
	defer func() { b.disconnect(b.node) }()
	period := b.prof.Period()
	watchdog := time.NewTicker(period)
	defer watchdog.Stop()
	status := time.NewTicker(b.prof.Status.Period)
	defer status.Stop()
	// The master is checked on a goroutine of its own: an HTTP call that
	// hangs (a master under load, a dead host) must not delay commands.
	checks, polled := make(chan masterCheck, 1), make(chan struct{})
	go b.pollMaster(checks, polled)
	defer func() { <-polled }()
	b.lastIn = time.Now()
	for {
		select {
		case <-b.ctx.Done():
			return
		case sp := <-b.in:
			now := time.Now()
			b.lastIn, b.applied = now, true
			b.staleNow = false
			b.checkFresh(now)
			b.command(sp.v[:sp.n], sp.hold, now)
		case now := <-watchdog.C:
			if now.Sub(b.lastIn) > b.prof.Command.Watchdog {
				if !b.staleNow {
					if b.applied {
						b.conf.Log.Warn("no fresh setpoint: sending hold commands", "for", now.Sub(b.lastIn).Round(time.Millisecond))
					}
					b.staleNow = true
					if b.twist != nil {
						b.twist.stop() // explicit zeros, not a ramp: the loop is gone
					}
				}
				b.watchdogHolds.Add(1)
				b.checkFresh(now)
				b.command(nil, true, now)
			}
		case c := <-checks:
			b.watchMaster(c)
		case <-status.C:
			b.publishStatus()
			b.logClockSkews()
		}
		if v, _ := b.verdict.Load().(string); v != b.statusAt || b.staleOn != b.statusStale {
			b.publishStatus()
		}
	}
}

// checkFresh is the owner's own freshness check before every command
// (defence in depth: it does not rely on the control loop's): it counts,
// logs each stale episode once, and starts and ends the hold that command
// applies while an input is stale.
func (b *Bridge) checkFresh(now time.Time) {
	b.fmu.Lock()
	i, age := b.staleLocked(now)
	b.fmu.Unlock()
	if i < 0 {
		if b.staleOn {
			b.staleOn = false
			if b.everFresh {
				b.conf.Log.Info("inputs fresh again: moving only after a fresh inference", "held_for", now.Sub(b.staleSince).Round(time.Millisecond))
			}
			if b.arm != nil {
				b.arm.endStale()
			}
			// What the gripper did meanwhile is unknown too: the next
			// crossing of the policy's value is sent whatever was sent
			// before.
			b.grip.known = false
			b.staleName.Store(nil)
		}
		b.everFresh, b.staleIdx, b.staleAge = true, -1, 0
		return
	}
	in := b.inputs[i]
	in.holds.Add(1)
	b.staleHolds.Add(1)
	b.staleAgeNs.Store(int64(age))
	if !b.staleOn {
		b.staleOn, b.staleSince = true, now
		b.freezeAt = now.Add(b.stopTime)
		if b.everFresh {
			// Before the first fresh observation, inputs that have not
			// arrived yet are the start, not an event (WaitReady reports it).
			b.staleEvents.Add(1)
			b.conf.Log.Warn("stale input: holding the robot", "input", in.name, "age", age.Round(time.Millisecond), "max_age", in.maxAge)
		}
		if b.arm != nil {
			b.arm.beginStale(b.freezeAt)
		}
		if b.twist != nil {
			b.twist.stop()
		}
	}
	if i != b.staleIdx {
		b.staleName.Store(&in.name)
	}
	b.staleIdx, b.staleAge = i, age
}

// logClockSkews logs, once per input, a publisher whose clock was found
// off (see the package's freshness notes).
func (b *Bridge) logClockSkews() {
	for _, in := range b.inputs {
		if in.skewLogged || in.skews.Load() == 0 {
			continue
		}
		in.skewLogged = true
		b.fmu.Lock()
		skew := in.skew
		b.fmu.Unlock()
		b.conf.Log.Warn("a publisher's clock is off: judging its messages by their arrival", "input", in.name,
			"stamp_behind_arrival", skew.Round(time.Millisecond))
	}
}

// command publishes the command for v (or a hold command). While an
// input is stale (checkFresh) it holds on its own, whatever the setpoint
// says: the quadruped gets explicit zero Twists at once; the arm's pose
// may only slow down, and stands still from the motion gate's stop time
// on (armIntegrator); joint positions hold the last commanded ones from
// then on; a command vector is zero; the gripper is left as it is.
func (b *Bridge) command(v []float64, hold bool, now time.Time) {
	if b.pubs.command == nil {
		return
	}
	p := b.prof
	// A fresh message per publish: goroslib's Write keeps the pointer
	// until every subscriber's writer has serialised it, which a reused
	// message would race with (see shared setup facts). This goroutine,
	// not the control tick, pays for it.
	switch p.Action.Mapping {
	case robot.MappingEEDelta:
		b.mu.Lock()
		measured, have := b.measured, b.havePose
		b.mu.Unlock()
		if !have {
			return // nothing may be commanded before the pose is known
		}
		if !b.arm.have || b.arm.reanchor && !hold {
			b.arm.anchor(measured)
			b.arm.reanchor = false
		}
		target, ok := b.arm.step(measured, v, hold, now)
		if !ok {
			return
		}
		b.clamps[0].Store(b.arm.speedClamps)
		b.clamps[1].Store(b.arm.leadClamps)
		b.clamps[2].Store(b.arm.workspaceClamps)
		m := &geometry_msgs.PoseStamped{}
		m.Header.Stamp = time.Now()
		m.Header.FrameId = p.Command.FrameID
		m.Pose.Position = geometry_msgs.Point{X: target.p[0], Y: target.p[1], Z: target.p[2]}
		m.Pose.Orientation = geometry_msgs.Quaternion{W: target.q[0], X: target.q[1], Y: target.q[2], Z: target.q[3]}
		b.pubs.command.Write(m)
		if !hold && !b.staleOn && len(v) >= 7 {
			b.gripper(v[6])
		}
	case robot.MappingTwist:
		if b.staleOn {
			b.twist.stop()
			hold = true
		}
		c := b.twist.step(v, hold)
		b.clamps[3].Store(b.twist.clamp)
		m := &geometry_msgs.Twist{}
		m.Linear.X, m.Linear.Y, m.Angular.Z = c[0], c[1], c[2]
		b.pubs.command.Write(m)
	case robot.MappingJointPosition, robot.MappingCommandVector:
		stopped := b.staleOn && (p.Action.Mapping == robot.MappingCommandVector || !now.Before(b.freezeAt))
		switch {
		case stopped && b.lastJoints != nil && p.Action.Mapping == robot.MappingJointPosition:
			// The measured joints may be the stale input: hold where
			// the last command put them.
			v, hold = b.lastJoints, true
		case hold || stopped:
			v, hold = b.holdJoints(), true
			if v == nil {
				return
			}
		}
		vals := clampJoints(p, v)
		if p.Action.Mapping == robot.MappingJointPosition {
			b.lastJoints = append(b.lastJoints[:0], vals...)
		}
		if p.Command.Type == robot.TypeJointTrajectory {
			m := &trajectory_msgs.JointTrajectory{JointNames: p.Command.JointNames}
			m.Header.Stamp = time.Now()
			m.Points = []trajectory_msgs.JointTrajectoryPoint{{Positions: vals, TimeFromStart: p.Period()}}
			b.pubs.command.Write(m)
		} else {
			b.pubs.command.Write(&std_msgs.Float64MultiArray{Data: vals})
		}
	}
	b.published.Add(1)
	if hold {
		b.holds.Add(1)
	}
}

// holdJoints is the measured joint state (the pose to hold), or nil.
func (b *Bridge) holdJoints() []float64 {
	if b.prof.Action.Mapping == robot.MappingCommandVector {
		return append([]float64(nil), b.prof.CommandHold()...) // the profile's standing command
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.joints) < b.prof.Action.Dim {
		return nil
	}
	return append([]float64(nil), b.joints[:b.prof.Action.Dim]...)
}

// clampJoints copies v (at most the action dim), joint positions clamped
// into the profile's range.
func clampJoints(p *robot.Profile, v []float64) []float64 {
	n := min(len(v), p.Action.Dim)
	out := make([]float64, n)
	for i := range n {
		out[i] = v[i]
		switch p.Action.Mapping {
		case robot.MappingJointPosition:
			out[i] = min(max(v[i], p.Limits.JointMin[i]), p.Limits.JointMax[i])
		case robot.MappingCommandVector:
			if len(p.Limits.CommandMin) == p.Action.Dim {
				out[i] = min(max(v[i], p.Limits.CommandMin[i]), p.Limits.CommandMax[i])
			}
		}
	}
	return out
}

// gripper sends an open or close command when the latched state changes.
func (b *Bridge) gripper(v float64) {
	if b.pubs.gripper == nil {
		return
	}
	send, closed := b.grip.update(v)
	if !send {
		return
	}
	g := b.prof.Gripper
	width := g.OpenWidth
	if closed {
		width = g.ClosedWidth
	}
	switch g.Type {
	case robot.GripperFrankaMove:
		m := &MoveActionGoal{Goal: MoveGoal{Width: width, Speed: g.Speed}}
		m.Header.Stamp = time.Now()
		m.GoalId.Stamp = m.Header.Stamp
		m.GoalId.Id = fmt.Sprintf("efferent-%d", b.gripperCmds.Load()+1)
		b.pubs.gripper.Write(m)
	case robot.GripperFloat64:
		b.pubs.gripper.Write(&std_msgs.Float64{Data: width})
	}
	b.gripperCmds.Add(1)
}

// masterCheck is one answer of the master (or its absence).
type masterCheck struct {
	pid int
	err error
	at  time.Time
}

// pollMaster asks the master for its PID every MasterPoll and hands the
// answers to the owner goroutine, until the bridge closes.
func (b *Bridge) pollMaster(out chan<- masterCheck, done chan<- struct{}) {
	defer close(done)
	tk := time.NewTicker(b.conf.MasterPoll)
	defer tk.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-tk.C:
		}
		// A second to answer: a master busy registering nodes right after
		// its start is slow, not lost (a timeout of one poll period could
		// take it for lost again, and count a second loss).
		pid, err := MasterPID(b.ctx, b.conf.Master, b.conf.NodeName, max(time.Second, b.conf.MasterPoll))
		select {
		case <-b.ctx.Done():
			return
		case out <- masterCheck{pid, err, time.Now()}:
		}
	}
}

// watchMaster handles one master check. A master that refuses
// connections (dead) is lost at once; one that does not answer, after a
// second of failed checks. On its loss the robot is held: the master is
// the first input Stale reports, so the loop brakes and checkFresh holds.
// On its return (or a new master, told by its PID: a restart between two
// checks, counted as a loss too) the node registers again, and every
// input must deliver through the new connection before the robot moves.
func (b *Bridge) watchMaster(c masterCheck) {
	switch {
	case c.err != nil:
		if !b.masterUp {
			return
		}
		if b.failSince.IsZero() {
			b.failSince = c.at
		}
		if !errors.Is(c.err, syscall.ECONNREFUSED) && c.at.Sub(b.failSince) < time.Second {
			return
		}
		b.loseMaster(c.at, c.err)
		return
	case b.masterUp && c.pid == b.masterPID:
		b.failSince = time.Time{}
		return
	case b.masterUp:
		b.loseMaster(c.at, fmt.Errorf("restarted (PID %d, was %d)", c.pid, b.masterPID))
	}
	b.failSince = time.Time{}
	b.conf.Log.Info("ROS master is back: registering again", "master", b.conf.Master, "pid", c.pid)
	b.disconnect(b.node)
	b.fmu.Lock()
	b.resetInputsLocked(time.Now())
	b.fmu.Unlock()
	if b.arm != nil {
		b.mu.Lock()
		b.havePose = false // re-anchor on the first pose of the new connection
		b.mu.Unlock()
	}
	if b.arm != nil {
		b.arm.have = false
	}
	if err := b.connect(); err != nil {
		b.conf.Log.Warn("registering with the ROS master failed; retrying", "err", err)
		b.disconnect(b.node)
		return
	}
	b.masterPID, b.masterUp = c.pid, true
	b.up.Store(true)
	b.reconnects.Add(1)
	b.fmu.Lock()
	b.masterOK, b.since = true, time.Now()
	b.fmu.Unlock()
}

// loseMaster records the master's loss.
func (b *Bridge) loseMaster(at time.Time, err error) {
	b.masterUp = false
	b.up.Store(false)
	b.losses.Add(1)
	b.fmu.Lock()
	b.masterOK, b.lostAt = false, at
	b.fmu.Unlock()
	b.conf.Log.Warn("ROS master lost: holding the robot until it is back", "master", b.conf.Master, "err", err)
}

// publishStatus sends the verdict and instruction on the status topic
// (periodically, and at once when the verdict changes).
func (b *Bridge) publishStatus() {
	v, _ := b.verdict.Load().(string)
	b.statusAt, b.statusStale = v, b.staleOn
	if b.pubs.status == nil {
		return
	}
	staleIn, staleAge := "", ""
	if b.staleOn {
		in := b.inputs[b.staleIdx]
		staleIn, staleAge = in.name, strconv.FormatFloat(b.staleAge.Seconds(), 'f', 3, 64)
		v = fmt.Sprintf("held: stale input %s %.2f s", in.name, b.staleAge.Seconds())
	}
	if !b.masterUp {
		v = "held: ROS master lost" // (published peer to peer, to whoever is still connected)
	}
	level := diagnostic_msgs.DiagnosticStatus_OK
	switch {
	case !b.masterUp, b.staleOn, len(v) >= 4 && v[:4] == "held":
		level = diagnostic_msgs.DiagnosticStatus_WARN
	case len(v) >= 7 && v[:7] == "refused":
		level = diagnostic_msgs.DiagnosticStatus_ERROR
	}
	pv, _ := b.premise.Load().(premiseStatus)
	switch pv.decision {
	case "refuse", "clarify":
		// The instruction itself was refused: nothing will move.
		level, v = diagnostic_msgs.DiagnosticStatus_ERROR, "instruction refused: "+pv.reason
	case "pending":
		if v == "" {
			level, v = diagnostic_msgs.DiagnosticStatus_WARN, "checking the instruction"
		}
	}
	m := &diagnostic_msgs.DiagnosticArray{}
	m.Header.Stamp = time.Now()
	m.Status = []diagnostic_msgs.DiagnosticStatus{{
		Level: level, Name: "efferent", Message: v, HardwareId: b.prof.Name,
		Values: []diagnostic_msgs.KeyValue{
			{Key: "verdict", Value: v},
			{Key: "instruction", Value: b.conf.Instruction},
			{Key: "master", Value: strconv.FormatBool(b.masterUp)},
			{Key: "premise", Value: pv.decision},
			{Key: "premise_reason", Value: pv.reason},
			{Key: "stale_input", Value: staleIn},
			{Key: "stale_age", Value: staleAge},
		},
	}}
	b.pubs.status.Write(m)
}

var pidRE = regexp.MustCompile(`<i4>(-?\d+)</i4>|<int>(-?\d+)</int>`)

// MasterPID asks the ROS master at addr (host:port) for its PID (XML-RPC
// getPid) on behalf of node caller: a cheap liveness check that also tells
// a restarted master from the old one. The bridge and efferent sim ros
// poll it.
func MasterPID(ctx context.Context, addr, caller string, timeout time.Duration) (int, error) {
	body := `<?xml version="1.0"?><methodCall><methodName>getPid</methodName><params><param><value><string>/` +
		caller + `</string></value></param></params></methodCall>`
	c := http.Client{Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, err
	}
	// The reply is [code, status message, pid]: the last integer.
	all := pidRE.FindAllSubmatch(data, -1)
	if resp.StatusCode != http.StatusOK || len(all) == 0 {
		return 0, fmt.Errorf("getPid: HTTP %d, no PID in the reply", resp.StatusCode)
	}
	last := all[len(all)-1]
	s := string(last[1]) + string(last[2])
	return strconv.Atoi(s)
}
