package simrobot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/sim"
)

type imageMsg = sensor_msgs.Image

// rosSide is the node's goroslib node, publishers and subscribers. They
// are replaced when the node registers again with a restarted master, so
// every use holds mu (publishing: read lock).
type rosSide struct {
	n         *Node
	mu        sync.RWMutex
	node      *goroslib.Node
	state     *goroslib.Publisher // FrankaState
	joints    *goroslib.Publisher // JointState (arm joints, or the base)
	fingers   *goroslib.Publisher // gripper JointState
	images    [2]*goroslib.Publisher
	episode   *goroslib.Publisher
	subs      []*goroslib.Subscriber
	masterPID int
	masterUp  bool
}

func (r *rosSide) start(n *Node) error {
	r.n = n
	pid, err := ros.MasterPID(context.Background(), n.conf.Master, n.conf.NodeName, time.Second)
	if err != nil {
		return fmt.Errorf("%w at %s (start one, or set ROS_MASTER_URI / --ros-master): %v", ros.ErrMaster, n.conf.Master, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.connect(); err != nil {
		r.disconnect()
		return err
	}
	r.masterPID, r.masterUp = pid, true
	return nil
}

func (r *rosSide) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disconnect()
}

// connect creates the node, publishers and subscribers (mu held).
func (r *rosSide) connect() error {
	c, p := r.n.conf, r.n.prof
	node, err := ros.NewNode(c.NodeName, c.Master, c.Host, c.Log)
	if err != nil {
		return err
	}
	r.node = node
	pub := func(dst **goroslib.Publisher, topic string, m any, latch bool) error {
		if topic == "" {
			return nil
		}
		pb, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: node, Topic: topic, Msg: m, Latch: latch})
		if err != nil {
			return fmt.Errorf("simrobot: publisher %s: %w", topic, err)
		}
		*dst = pb
		return nil
	}
	sub := func(topic string, cb any) error {
		s, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: node, Topic: topic, Callback: cb, QueueSize: 8})
		if err != nil {
			return fmt.Errorf("simrobot: subscriber %s: %w", topic, err)
		}
		r.subs = append(r.subs, s)
		return nil
	}
	if err := pub(&r.episode, EpisodeTopic, &std_msgs.String{}, true); err != nil {
		return err
	}
	if (r.n.legs == nil && c.Renderer != nil) || (r.n.legs != nil && c.LeggedRenderer != nil) {
		if err := pub(&r.images[0], c.AgentTopic, &sensor_msgs.Image{}, false); err != nil {
			return err
		}
	}
	switch p.Action.Mapping {
	case robot.MappingEEDelta:
		if c.Renderer != nil {
			if err := pub(&r.images[1], c.WristTopic, &sensor_msgs.Image{}, false); err != nil {
				return err
			}
		}
		if err := pub(&r.state, p.State.FrankaState, &ros.FrankaState{}, false); err != nil {
			return err
		}
		if err := pub(&r.joints, p.State.JointStates, &sensor_msgs.JointState{}, false); err != nil {
			return err
		}
		if err := pub(&r.fingers, p.State.GripperJointStates, &sensor_msgs.JointState{}, false); err != nil {
			return err
		}
		if err := sub(p.Command.Topic, r.n.onPose); err != nil {
			return err
		}
		if p.Gripper.Type == robot.GripperFrankaMove {
			if err := sub(p.Gripper.Topic, r.n.onMove); err != nil {
				return err
			}
		}
	case robot.MappingTwist, robot.MappingCommandVector:
		if err := pub(&r.joints, p.State.JointStates, &sensor_msgs.JointState{}, false); err != nil {
			return err
		}
		cb := any(r.n.onTwist)
		if p.Action.Mapping == robot.MappingCommandVector {
			cb = r.n.onCommandVector
		}
		if err := sub(p.Command.Topic, cb); err != nil {
			return err
		}
	}
	return nil
}

// disconnect closes everything (mu held).
func (r *rosSide) disconnect() {
	for _, s := range r.subs {
		s.Close()
	}
	r.subs = nil
	for _, p := range []**goroslib.Publisher{&r.state, &r.joints, &r.fingers, &r.images[0], &r.images[1], &r.episode} {
		if *p != nil {
			(*p).Close()
			*p = nil
		}
	}
	if r.node != nil {
		r.node.Close()
		r.node = nil
	}
}

// watchMaster registers again when the master comes back or a new one
// answers (told by its PID), as ros.Bridge does.
func (r *rosSide) watchMaster(ctx context.Context) {
	c := r.n.conf
	t := time.NewTicker(c.MasterPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pid, err := ros.MasterPID(context.Background(), c.Master, c.NodeName, c.MasterPoll)
		r.mu.Lock()
		switch {
		case err != nil && r.masterUp:
			r.masterUp = false
			c.Log.Warn("ROS master lost: publishing to connected peers until it is back", "master", c.Master, "err", err)
		case err == nil && (!r.masterUp || pid != r.masterPID):
			c.Log.Info("ROS master is back: registering again", "master", c.Master, "pid", pid)
			r.disconnect()
			if err := r.connect(); err != nil {
				c.Log.Warn("registering with the ROS master failed; retrying", "err", err)
				r.disconnect()
			} else {
				r.masterPID, r.masterUp = pid, true
			}
		}
		r.mu.Unlock()
	}
}

func (r *rosSide) write(p **goroslib.Publisher, m any) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if *p != nil {
		(*p).Write(m)
	}
}

func (r *rosSide) publishImage(i int, m *imageMsg) { r.write(&r.images[i], m) }

func (r *rosSide) publishEpisode(m *std_msgs.String) { r.write(&r.episode, m) }

// newImage is a fresh rgb8 message holding a copy of im (goroslib keeps
// the message until every subscriber has it, so buffers are not reused).
func newImage(im *efferent.Image, at time.Time, frame string) *imageMsg {
	return &sensor_msgs.Image{
		Header: std_msgs.Header{Stamp: at, FrameId: "efferent_sim_" + frame},
		Height: uint32(im.H), Width: uint32(im.W), Encoding: "rgb8", Step: uint32(im.W * 3),
		Data: append([]byte(nil), im.Pix...),
	}
}

// Subscriber callbacks: parse, check, store under the lock.

func (n *Node) onPose(m *geometry_msgs.PoseStamped) {
	pp, o := m.Pose.Position, m.Pose.Orientation
	p := armPose{p: sim.Vec3{pp.X, pp.Y, pp.Z}.Add(n.frameOrigin()), q: sim.Quat{W: o.W, X: o.X, Y: o.Y, Z: o.Z}}
	for _, x := range []float64{p.p[0], p.p[1], p.p[2], p.q.W, p.q.X, p.q.Y, p.q.Z} {
		if x != x || x > 1e6 || x < -1e6 {
			return // NaN or absurd: a broken command is ignored
		}
	}
	if nq := p.q.Normalize(); nq != p.q {
		p.q = nq
	}
	n.mu.Lock()
	n.cmd, n.haveCmd = p, true
	n.commands++
	n.mu.Unlock()
}

func (n *Node) onMove(m *ros.MoveActionGoal) {
	w, s := m.Goal.Width, m.Goal.Speed
	if w != w || s != s || w < 0 || s < 0 {
		return
	}
	n.mu.Lock()
	n.gripWidth, n.gripSpeed = w, s
	n.mu.Unlock()
}

func (n *Node) onTwist(m *geometry_msgs.Twist) {
	v := [3]float64{m.Linear.X, m.Linear.Y, m.Angular.Z}
	for _, x := range v {
		if x != x || x > 100 || x < -100 {
			return
		}
	}
	n.mu.Lock()
	n.twist, n.twistAt = v, time.Now()
	n.commands++
	n.mu.Unlock()
}

// frameOrigin is where the robot's base frame lies in the world.
func (n *Node) frameOrigin() sim.Vec3 {
	if n.prof.Action.Mapping == robot.MappingEEDelta {
		return FrankaBase
	}
	return sim.Vec3{}
}

var armJoints = []string{"panda_joint1", "panda_joint2", "panda_joint3", "panda_joint4", "panda_joint5", "panda_joint6", "panda_joint7"}

// publishState sends the state topics (Run's goroutine), applying faults.
func (n *Node) publishState(now time.Time) {
	r := &n.ros
	if n.legs != nil {
		n.emit(StreamState, 1, &r.joints, now, func() any { return n.legsState(now) })
		return
	}
	g := n.env.World().Gripper
	base := FrankaBase
	n.emit(StreamState, 0, &r.state, now, func() any {
		m := &ros.FrankaState{Header: std_msgs.Header{Stamp: now, FrameId: "panda_link0"}}
		m.OTEE = columnMajor(g.Pos.Sub(base), g.Quat)
		m.OTEED = columnMajor(n.arm.target.p.Sub(base), n.arm.target.q)
		copy(m.Q[:], n.prof.Home.Joints)
		copy(m.QD[:], n.prof.Home.Joints)
		m.FTEE = columnMajor(sim.Vec3{0, 0, 0.1034}, sim.Quat{W: 1}) // flange to the fingertips' centre
		m.EETK = columnMajor(sim.Vec3{}, sim.Quat{W: 1})
		m.Time = now.Sub(sim.SimEpoch).Seconds()
		m.ControlCommandSuccessRate = 1
		m.RobotMode = 2 // ROBOT_MODE_MOVE
		return m
	})
	n.emit(StreamState, 1, &r.joints, now, func() any {
		return &sensor_msgs.JointState{Header: std_msgs.Header{Stamp: now}, Name: armJoints,
			Position: append([]float64(nil), n.prof.Home.Joints...)}
	})
	n.emit(StreamGripper, 2, &r.fingers, now, func() any {
		// franka_gripper: both fingers as their (non-negative) opening.
		return &sensor_msgs.JointState{Header: std_msgs.Header{Stamp: now},
			Name: []string{"panda_finger_joint1", "panda_finger_joint2"}, Position: []float64{g.Finger, g.Finger}}
	})
}

// emit publishes fresh() on pub unless stream is dropped; while it is
// frozen, the last message sent before (restamped if FreezeRestamp).
func (n *Node) emit(stream string, slot int, pub **goroslib.Publisher, now time.Time, fresh func() any) {
	mode := n.mode(stream)
	if mode == "drop" {
		return
	}
	m := n.lastState[slot]
	if mode != "freeze" || m == nil {
		m = fresh()
		n.lastState[slot] = m
	} else if n.conf.FreezeRestamp {
		m = restamp(m, now)
	}
	n.ros.write(pub, m)
}

// restamp copies a state message with a new header stamp.
func restamp(m any, now time.Time) any {
	switch v := m.(type) {
	case *ros.FrankaState:
		cp := *v
		cp.Header.Stamp = now
		return &cp
	case *sensor_msgs.JointState:
		cp := *v
		cp.Header.Stamp = now
		return &cp
	}
	return m
}
