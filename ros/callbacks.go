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
	b.mu.Lock()
	b.measured, b.havePose = p, true
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
	b.mu.Lock()
	b.measured, b.havePose = p, true
	b.mu.Unlock()
}

func (b *Bridge) onJointState(m *sensor_msgs.JointState) {
	b.mu.Lock()
	b.joints = append(b.joints[:0], m.Position...)
	b.mu.Unlock()
}

func (b *Bridge) onGripperState(m *sensor_msgs.JointState) {
	b.mu.Lock()
	for i := range min(2, len(m.Position)) {
		b.fingers[i] = m.Position[i]
	}
	b.mu.Unlock()
}

// stampOf is a message's header stamp, or now when it has none.
func stampOf(t time.Time) time.Time {
	if t.IsZero() || t.Unix() == 0 {
		return time.Now()
	}
	return t
}

func (b *Bridge) onImage(f *frame, m *sensor_msgs.Image) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Converting under the lock keeps one buffer per camera; at camera
	// rates the copy is short next to a 1 kHz tick's Observe, which only
	// runs at the policy's rate.
	if err := imageToRGB(m, &f.img); err != nil {
		f.err = err.Error()
		return
	}
	f.have, f.err, f.stamp = true, "", stampOf(m.Header.Stamp)
}

func (b *Bridge) onCompressed(f *frame, m *sensor_msgs.CompressedImage) {
	im, err := b.conf.DecodeImage(m.Data, maxImageSide)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		f.err = "compressed image (" + m.Format + "): " + err.Error()
		return
	}
	f.img, f.have, f.err, f.stamp = im, true, "", stampOf(m.Header.Stamp)
}
