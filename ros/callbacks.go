package ros

import (
	"math"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
)

// Subscriber callbacks run on goroslib's goroutines: each takes the lock
// only to store what it parsed.

func (b *Bridge) onFrankaState(m *FrankaState) {
	for _, x := range m.OTEE {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return // a broken state must not move the anchor
		}
	}
	p := poseFromColumnMajor(m.OTEE)
	now := time.Now()
	b.mu.Lock()
	b.measured, b.havePose = p, true
	if b.stateFrom == "franka_state" {
		b.refresh(b.stateIn, m.Header.Stamp, now)
	}
	b.mu.Unlock()
}

func (b *Bridge) onPose(m *geometry_msgs.PoseStamped) {
	pp, o := m.Pose.Position, m.Pose.Orientation
	p := pose{p: [3]float64{pp.X, pp.Y, pp.Z}, q: quat{o.W, o.X, o.Y, o.Z}}
	for _, x := range append(p.p[:], p.q[:]...) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
	}
	p.q = p.q.normalized()
	now := time.Now()
	b.mu.Lock()
	b.measured, b.havePose = p, true
	if b.stateFrom == "pose" {
		b.refresh(b.stateIn, m.Header.Stamp, now)
	}
	b.mu.Unlock()
}

func (b *Bridge) onJointState(m *sensor_msgs.JointState) {
	now := time.Now()
	b.mu.Lock()
	b.joints = append(b.joints[:0], m.Position...)
	if b.stateFrom == "joint_states" {
		b.refresh(b.stateIn, m.Header.Stamp, now)
	}
	b.mu.Unlock()
}

func (b *Bridge) onGripperState(m *sensor_msgs.JointState) {
	if len(m.Position) == 0 {
		return
	}
	// LIBERO's state has the fingers as (+q, −q); franka_gripper publishes
	// both panda_finger_joint1/2 as their opening q ≥ 0. The second is
	// stored as −|q| (a driver that already negates it gives the same),
	// and a single value stands for both fingers.
	q1, q2 := m.Position[0], m.Position[0]
	if len(m.Position) > 1 {
		q2 = m.Position[1]
	}
	now := time.Now()
	b.mu.Lock()
	b.fingers[0], b.fingers[1] = q1, -math.Abs(q2)
	if b.gripIn != nil {
		b.refresh(b.gripIn, m.Header.Stamp, now)
	}
	b.mu.Unlock()
}

func (b *Bridge) onImage(f *frame, m *sensor_msgs.Image) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	// Converting under the lock keeps one buffer per camera; at camera
	// rates the copy is short next to a 1 kHz tick's Observe, which only
	// runs at the policy's rate.
	if err := imageToRGB(m, &f.img); err != nil {
		f.err = err.Error()
		return
	}
	f.have, f.err, f.stamp = true, "", b.refresh(f.in, m.Header.Stamp, now)
}

func (b *Bridge) onCompressed(f *frame, m *sensor_msgs.CompressedImage) {
	now := time.Now() // its arrival, before the decoding's time
	im, err := b.conf.DecodeImage(m.Data, maxImageSide)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		f.err = "compressed image (" + m.Format + "): " + err.Error()
		return
	}
	f.img, f.have, f.err, f.stamp = im, true, "", b.refresh(f.in, m.Header.Stamp, now)
}
