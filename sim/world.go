package sim

import (
	"fmt"
	"math"
)

// Scene geometry, in metres, world frame. The numbers are chosen so that
// states have LIBERO-like magnitudes (table top near z = 0.9, end effector
// starting about a quarter metre above it).
const (
	// TableZ is the height of the table top.
	TableZ = 0.90
	// TableHalfX and TableHalfY are the half extents of the table top,
	// which is centred on the origin.
	TableHalfX = 0.40
	TableHalfY = 0.50

	// FingerClearance is how far the grip point (between the fingertips)
	// stays above the table: the end effector collides with the table top.
	FingerClearance = 0.005
)

// Workspace bounds of the grip point: Step clamps the end effector into
// this box (and additionally keeps a held object's base above the table).
var (
	WorkspaceMin = Vec3{-0.30, -0.35, TableZ + FingerClearance}
	WorkspaceMax = Vec3{0.30, 0.35, TableZ + 0.45}
)

// Gripper geometry. The grip point — the gripper's position in State — is
// the centre between the two fingertips.
const (
	// FingerOpen is each finger's joint position when fully open; State
	// reports (+q, −q) like the Panda gripper in LIBERO.
	FingerOpen = 0.04
	// FingerSpeed is how far each finger moves per step, so a full close
	// or open takes four steps.
	FingerSpeed = 0.01
	// FingerLength, FingerWidth and FingerThick are a finger's extents
	// along the gripper's z (approach), x and y (closing) axes.
	FingerLength = 0.05
	FingerWidth  = 0.02
	FingerThick  = 0.012
	// HandLength, HandWidth and HandHeight are the palm's extents along
	// the gripper's x, y and z axes; it sits on top of the fingers.
	HandLength = 0.04
	HandWidth  = 0.13
	HandHeight = 0.04
	// FingerPad is the radius of the disc around the grip point that
	// pushes objects (see the package comment on pushing).
	FingerPad = 0.012
	// GraspRadius is how far (horizontally) the grip point may be from an
	// object's vertical axis for a closing gripper to attach it.
	GraspRadius = 0.02
	// MaxTilt bounds the angle between the gripper's approach axis and
	// straight down; Step clamps rotations beyond it.
	MaxTilt = 60 * math.Pi / 180
)

// Action scaling, as robosuite's OSC_POSE controller in LIBERO: an action
// entry of 1 moves the end effector by PosScale metres or rotates it by
// RotScale radians in one step.
const (
	PosScale = 0.05
	RotScale = 0.5
)

// Kind is an object's shape class.
type Kind int

// Object kinds. Blocks, cylinders and balls can be grasped; bowls and the
// basket are containers (a released object lands "in" them); plates, blocks
// and cylinders carry objects placed "on" them; everything except the
// basket can be pushed.
const (
	Block Kind = iota
	Cylinder
	Ball
	Bowl
	Plate
	Basket
)

var kindNames = [...]string{"block", "cylinder", "ball", "bowl", "plate", "basket"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Support values of Object.On other than an object index.
const (
	OnTable = -1 // resting on the table
	InHand  = -2 // held by the gripper
)

// Object is one rigid object. Objects stay upright; only their yaw varies.
type Object struct {
	Name  string // as instructions name it, e.g. "red block"
	Kind  Kind
	Color [3]uint8 // RGB
	// Pos is the centre of the object's base (bottom face), so Pos[2] is
	// the height it rests at.
	Pos Vec3
	Yaw float64
	// Size is the full extent along the object's own x, y and z; round
	// objects have Size[0] == Size[1] == diameter.
	Size Vec3
	// On is the index of the object this one rests on, OnTable, or
	// InHand.
	On int
	// Start is Pos after Reset, for goals that measure displacement.
	Start Vec3
}

// Top returns the height of the object's highest point.
func (o *Object) Top() float64 { return o.Pos[2] + o.Size[2] }

// Radius returns the radius of a circle around the object's footprint
// (half the diagonal for boxes). Overlap and pushing use it.
func (o *Object) Radius() float64 {
	if o.Kind == Block || o.Kind == Basket {
		return math.Hypot(o.Size[0], o.Size[1]) / 2
	}
	return o.Size[0] / 2
}

// Graspable reports whether the gripper can pick the object up.
func (o *Object) Graspable() bool { return o.Kind == Block || o.Kind == Cylinder || o.Kind == Ball }

// Container reports whether objects land "in" it.
func (o *Object) Container() bool { return o.Kind == Bowl || o.Kind == Basket }

// Pushable reports whether the gripper can push it along the table.
func (o *Object) Pushable() bool { return o.Kind != Basket }

// GripWidth returns the finger position at which closing fingers touch the
// object (half its width).
func (o *Object) GripWidth() float64 { return o.Size[1] / 2 }

// Surface returns the height at which an object placed on or in this one
// rests, and whether it supports anything at all (a ball does not).
func (o *Object) Surface() (float64, bool) {
	switch o.Kind {
	case Bowl:
		return o.Pos[2] + BowlFloor, true
	case Basket:
		return o.Pos[2] + BasketFloor, true
	case Ball:
		return 0, false
	}
	return o.Top(), true
}

// Container details (placement and rendering).
const (
	BowlFloor    = 0.008 // floor thickness
	BowlWall     = 0.010 // rim width: inner radius = outer − wall
	BasketFloor  = 0.008
	BasketWall   = 0.010
	BowlBaseFrac = 0.7 // bottom radius as a fraction of the rim radius
)

// InnerRadius returns the radius of a bowl's opening.
func (o *Object) InnerRadius() float64 { return o.Size[0]/2 - BowlWall }

// local returns p in the object's horizontal frame (origin at its axis,
// rotated by −Yaw).
func (o *Object) local(p Vec3) (float64, float64) {
	return rotZ(p[0]-o.Pos[0], p[1]-o.Pos[1], -o.Yaw)
}

// Over reports whether the vertical line through p passes through the
// object's supporting area: the top face of a block or cylinder, a plate,
// or the opening of a container (the whole rim: an object released over a
// rim slides in).
func (o *Object) Over(p Vec3) bool {
	switch o.Kind {
	case Block, Basket:
		x, y := o.local(p)
		return math.Abs(x) <= o.Size[0]/2 && math.Abs(y) <= o.Size[1]/2
	case Ball:
		return false
	}
	return p.DistXY(o.Pos) <= o.Size[0]/2
}

// Gripper is the end effector: a parallel gripper whose grip point moves
// freely inside the workspace.
type Gripper struct {
	// Pos is the grip point, between the fingertips.
	Pos Vec3
	// Quat is the gripper's orientation: its local z axis is the approach
	// direction (down at rest), its local y axis the closing direction.
	Quat Quat
	// Finger is each finger's joint position, 0 (closed) … FingerOpen.
	Finger float64
	// Held is the index of the held object, or −1.
	Held int
	// heldOff is the held object's base position in the gripper frame and
	// heldYaw its yaw minus the gripper's yaw, both fixed at grasp time.
	heldOff Vec3
	heldYaw float64
}

// RestQuat is the gripper orientation at reset: pointing straight down,
// which is a rotation of π about x (axis-angle (π, 0, 0), as in LIBERO's
// initial states).
var RestQuat = Quat{X: 1}

// Yaw returns the heading of the gripper's x axis in the horizontal plane.
func (g *Gripper) Yaw() float64 {
	x := g.Quat.Rotate(Vec3{1, 0, 0})
	return math.Atan2(x[1], x[0])
}

// World is the complete simulator state. The expert and tests read it
// (privileged state); a policy only sees Observe's images and State.
type World struct {
	Objects []Object
	Gripper Gripper
	// Goals are the task's success conditions, all of which must hold.
	Goals []Goal

	// scratch for pushing and placement, reused so Step does not allocate.
	queue []int
	amts  []float64
	moved []bool
}

// Index returns the index of the object with that name, or −1.
func (w *World) Index(name string) int {
	for i := range w.Objects {
		if w.Objects[i].Name == name {
			return i
		}
	}
	return -1
}

// Rests reports whether object i rests (not held) on or in object j,
// directly or through a stack: a block on a block in a bowl is in the bowl.
func (w *World) Rests(i, j int) bool {
	for n := 0; i >= 0 && n <= len(w.Objects); n++ {
		on := w.Objects[i].On
		if on == j {
			return true
		}
		i = on
	}
	return false
}

// Covered reports whether something rests directly on object i.
func (w *World) Covered(i int) bool {
	for k := range w.Objects {
		if w.Objects[k].On == i {
			return true
		}
	}
	return false
}

// catalogEntry describes an object that tasks can name.
type catalogEntry struct {
	kind  Kind
	color [3]uint8
	size  Vec3
}

// Colours are saturated and far apart so tasks can be solved from pixels.
var (
	red    = [3]uint8{215, 38, 38}
	green  = [3]uint8{40, 165, 60}
	blue   = [3]uint8{35, 85, 215}
	yellow = [3]uint8{240, 205, 30}
	orange = [3]uint8{245, 130, 25}
	purple = [3]uint8{135, 55, 175}
)

// Object sizes: blocks are 5 cm cubes; cylinders and balls are 5 cm wide,
// so any of them fits the 8 cm open gripper.
var (
	blockSize  = Vec3{0.05, 0.05, 0.05}
	cylSize    = Vec3{0.05, 0.05, 0.07}
	ballSize   = Vec3{0.05, 0.05, 0.05}
	bowlSize   = Vec3{0.13, 0.13, 0.045}
	plateSize  = Vec3{0.15, 0.15, 0.015}
	basketSize = Vec3{0.17, 0.13, 0.06}
)

// catalog is every object a task can place on the table, by name.
var catalog = map[string]catalogEntry{
	"red block":       {Block, red, blockSize},
	"green block":     {Block, green, blockSize},
	"blue block":      {Block, blue, blockSize},
	"yellow block":    {Block, yellow, blockSize},
	"orange block":    {Block, orange, blockSize},
	"purple block":    {Block, purple, blockSize},
	"red cylinder":    {Cylinder, red, cylSize},
	"yellow cylinder": {Cylinder, yellow, cylSize},
	"purple cylinder": {Cylinder, purple, cylSize},
	"blue ball":       {Ball, blue, ballSize},
	"orange ball":     {Ball, orange, ballSize},
	"green ball":      {Ball, green, ballSize},
	"blue bowl":       {Bowl, [3]uint8{60, 120, 225}, bowlSize},
	"white bowl":      {Bowl, [3]uint8{240, 240, 236}, bowlSize},
	"plate":           {Plate, [3]uint8{205, 212, 224}, plateSize},
	"basket":          {Basket, [3]uint8{150, 100, 50}, basketSize},
}

// NewObject returns the catalogued object with that name, resting on the
// table at the origin, or an error naming the unknown object.
func NewObject(name string) (Object, error) {
	c, ok := catalog[name]
	if !ok {
		return Object{}, fmt.Errorf("sim: unknown object %q", name)
	}
	return Object{Name: name, Kind: c.kind, Color: c.color, Size: c.size, On: OnTable, Pos: Vec3{0, 0, TableZ}}, nil
}
