package legged

import (
	"math"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

// The command vector (QUART style): what a high-level policy sends a
// quadruped's locomotion controller at 50 Hz. Indices into a command.
const (
	CmdVX     = iota // forward body velocity, m/s
	CmdVY            // lateral body velocity, m/s, left positive
	CmdWZ            // yaw rate, rad/s, counter-clockwise (left) positive
	CmdHeight        // body height above the floor, m
	CmdGaitHz        // gait frequency, Hz
	CmdSwing         // foot swing height, m
	CmdStop          // stop flag: ≥ 0.5 stands still whatever the rest says
	CommandDim
)

// The locomotion controller's envelope: commands are clipped to it.
const (
	MaxVX = 1.0 // m/s, forward and backward
	MaxVY = 0.5 // m/s
	MaxWZ = 1.5 // rad/s

	MinHeight     = 0.14 // m: a crawl
	NominalHeight = 0.28 // m: standing
	MaxHeight     = 0.32 // m

	MinGaitHz = 1.0
	MaxGaitHz = 4.0
	MinSwing  = 0.03 // m
	MaxSwing  = 0.12 // m
)

// The state vector a policy observes: odometry since the episode's start
// (the base's pose in the start frame) and the body's measured velocities
// and height. Indices into a state.
const (
	StX      = iota // m, forward at the start
	StY             // m, left at the start
	StYaw           // rad, counter-clockwise from the start heading
	StVX            // measured body velocities, body frame
	StVY            //
	StWZ            //
	StHeight        // measured body height, m
	StateDim
)

// Body dimensions: the base's collision footprint is a disc of
// BodyRadius around its centre; its height (Base.Pos[2], what a
// locomotion controller reports) is that of the body's centre line, so its
// top is BodyThickness/2 above it.
const (
	BodyLength    = 0.60
	BodyWidth     = 0.30
	BodyRadius    = 0.30
	BodyThickness = 0.10
)

// Kind is what an object is.
type Kind int

// Object kinds.
const (
	Ball Kind = iota // a sphere on the floor; Size[0] is its diameter
	Box              // a box on the floor, Size x × y × z, turned by Yaw
	Cone             // a traffic cone; Size[0] base diameter, Size[2] height
	Bar              // a horizontal bar across Size[1] on two posts; the free height under it is Clearance
	Door             // a door panel standing on the floor, Size x (thickness) × y (width) × z (height)
	Wall             // an obstacle slab like a box, never a goal
)

func (k Kind) String() string {
	switch k {
	case Ball:
		return "ball"
	case Box:
		return "box"
	case Cone:
		return "cone"
	case Bar:
		return "bar"
	case Door:
		return "door"
	case Wall:
		return "wall"
	}
	return "unknown"
}

// Object is one thing on the floor.
type Object struct {
	// Name is how instructions call it: its colour and kind ("red ball").
	Name  string
	Kind  Kind
	Color string   // the colour word
	RGB   [3]uint8 // its colour when drawn
	// Pos is the centre of its footprint on the floor (z = 0).
	Pos  sim.Vec3
	Size sim.Vec3
	Yaw  float64
	// Clearance (Bar) is the free height under the bar: the base passes
	// under it only with its top (height + BodyThickness/2) below it.
	Clearance float64
}

// Base is the quadruped's body.
type Base struct {
	// Pos is the body centre: x, y on the floor and z its height.
	Pos sim.Vec3
	Yaw float64
	// Vel is the body's velocity (vx, vy, wz) in its own frame.
	Vel [3]float64
	// GaitHz, Swing are the gait the controller is using; Phase is the
	// gait's phase in [0, 1) (for drawing the legs).
	GaitHz, Swing, Phase float64
	// Stopped is set while the stop flag holds the base still.
	Stopped bool
}

// World is the floor, its objects and the base. The arena is the square
// |x|, |y| ≤ Half, walled.
type World struct {
	Objects []Object
	Base    Base
	Half    float64
}

// Renderer draws the world as seen by a camera into dst, reusing dst.Pix
// when it is large enough; sim/render.Legged implements it with OpenCV.
type Renderer interface {
	Render(w *World, cam sim.Camera, dst *efferent.Image) error
}

// Camera names.
const (
	EgoView   = "ego"
	ThirdView = "third_person"
)

// Camera placement: the egocentric camera at the front of the body, a
// little above it, pitched down; the third-person camera behind and
// above the base, looking at a point ahead of it.
const (
	egoForward = BodyLength / 2
	egoUp      = 0.06
	egoPitch   = 12 * math.Pi / 180
	egoFOV     = 70.0
	thirdBack  = 1.6
	thirdUp    = 1.3
	thirdAhead = 0.8
	thirdFOV   = 60.0
)

// EgoCamera is the camera on the front of the base, for square images of
// size pixels: image left is the robot's left.
func EgoCamera(b *Base, size int) sim.Camera {
	sy, cy := math.Sincos(b.Yaw)
	fwdXY := sim.Vec3{cy, sy, 0}
	left := sim.Vec3{-sy, cy, 0}
	pos := b.Pos.Add(fwdXY.Scale(egoForward)).Add(sim.Vec3{0, 0, egoUp})
	sp, cp := math.Sincos(egoPitch)
	fwd := fwdXY.Scale(cp).Add(sim.Vec3{0, 0, -sp})
	right := left.Scale(-1)
	down := fwd.Cross(right)
	return camera(EgoView, pos, right, down, fwd, egoFOV, size)
}

// ThirdCamera is a chase camera behind and above the base, for people.
func ThirdCamera(b *Base, size int) sim.Camera {
	sy, cy := math.Sincos(b.Yaw)
	fwdXY := sim.Vec3{cy, sy, 0}
	pos := sim.Vec3{b.Pos[0], b.Pos[1], 0}.Add(fwdXY.Scale(-thirdBack)).Add(sim.Vec3{0, 0, thirdUp})
	target := sim.Vec3{b.Pos[0], b.Pos[1], 0}.Add(fwdXY.Scale(thirdAhead))
	f := target.Sub(pos).Unit()
	r := f.Cross(sim.Vec3{0, 0, 1}).Unit()
	return camera(ThirdView, pos, r, f.Cross(r), f, thirdFOV, size)
}

func camera(name string, pos, right, down, fwd sim.Vec3, fovDeg float64, size int) sim.Camera {
	fpx := float64(size) / 2 / math.Tan(fovDeg*math.Pi/360)
	c := float64(size-1) / 2
	return sim.Camera{Name: name, Pos: pos, Right: right, Down: down, Forward: fwd, Fx: fpx, Fy: fpx, Cx: c, Cy: c, W: size, H: size}
}
