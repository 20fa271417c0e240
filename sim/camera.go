package sim

import "math"

// Camera is a pinhole camera. Camera coordinates are x right, y down, z
// forward (OpenCV's convention); pixel (0, 0) is the centre of the top-left
// pixel.
type Camera struct {
	Name string
	Pos  Vec3
	// Right, Down and Forward are the camera axes in world coordinates
	// (orthonormal).
	Right, Down, Forward Vec3
	Fx, Fy, Cx, Cy       float64
	W, H                 int
}

// Camera names.
const (
	AgentView = "agentview"
	WristView = "wrist"
)

// ToCamera returns p in camera coordinates.
func (c *Camera) ToCamera(p Vec3) Vec3 {
	d := p.Sub(c.Pos)
	return Vec3{d.Dot(c.Right), d.Dot(c.Down), d.Dot(c.Forward)}
}

// Project returns the pixel position of p and its depth along the optical
// axis; ok is false for points closer than NearPlane (or behind).
func (c *Camera) Project(p Vec3) (u, v, depth float64, ok bool) {
	q := c.ToCamera(p)
	if q[2] < NearPlane {
		return 0, 0, q[2], false
	}
	return c.Fx*q[0]/q[2] + c.Cx, c.Fy*q[1]/q[2] + c.Cy, q[2], true
}

// NearPlane is the closest depth a camera draws.
const NearPlane = 0.01

// lookAt builds a camera at pos looking at target with the world's up (+z)
// appearing up in the image, with a square image of size pixels and the
// given vertical field of view.
func lookAt(name string, pos, target Vec3, fovDeg float64, size int) Camera {
	f := target.Sub(pos).Unit()
	r := f.Cross(Vec3{0, 0, 1}).Unit()
	return newCamera(name, pos, r, f.Cross(r), f, fovDeg, size)
}

func newCamera(name string, pos, right, down, fwd Vec3, fovDeg float64, size int) Camera {
	fpx := float64(size) / 2 / math.Tan(fovDeg*math.Pi/360)
	c := float64(size-1) / 2
	return Camera{Name: name, Pos: pos, Right: right, Down: down, Forward: fwd, Fx: fpx, Fy: fpx, Cx: c, Cy: c, W: size, H: size}
}

// Agent-view placement: in front of the table (on the robot's side, above
// and behind the end effector's home), looking down at the table at about
// 45°, so that image left is the robot's left (+y) and image up is away
// from the robot (+x).
var (
	agentPos    = Vec3{-0.36, 0, TableZ + 0.72}
	agentTarget = Vec3{0.12, 0, TableZ}
)

const (
	agentFOV = 46.0 // vertical field of view, degrees
	wristFOV = 75.0
)

// AgentCamera returns the fixed agent-view camera for square images of
// size pixels.
func AgentCamera(size int) Camera {
	return lookAt(AgentView, agentPos, agentTarget, agentFOV, size)
}

// Wrist camera mount in the gripper frame: behind the hand (toward the
// robot) at palm height, pitched forward so that the fingertips appear in
// the lower half of the image and the space below and ahead of them fills
// the rest.
var wristMount = Vec3{-0.06, 0, -(FingerLength + 0.09)}

const wristPitch = 30 * math.Pi / 180

// WristCamera returns the camera attached to the gripper, looking down
// along its approach axis (tilted forward by a few degrees), for square
// images of size pixels. At rest, image up is +x and image left +y, as in
// the agent view.
func WristCamera(g *Gripper, size int) Camera {
	s, c := math.Sincos(wristPitch)
	fwd := g.Quat.Rotate(Vec3{s, 0, c})
	down := g.Quat.Rotate(Vec3{-c, 0, s})
	right := g.Quat.Rotate(Vec3{0, 1, 0})
	return newCamera(WristView, g.Pos.Add(g.Quat.Rotate(wristMount)), right, down, fwd, wristFOV, size)
}
