package render

import (
	"math"
	"slices"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// The legged-base scenes: a floor with a grid, the arena's walls, the
// objects, and (seen from outside) the quadruped itself.

// Colours of the legged scenes (RGB).
var (
	skyColor       = [3]uint8{176, 196, 214}
	groundColor    = [3]uint8{104, 110, 98}
	groundGrid     = [3]uint8{86, 92, 80}
	arenaWallColor = [3]uint8{150, 146, 138}
	bodyColor      = [3]uint8{48, 50, 58}
	legColor       = [3]uint8{30, 32, 38}
	postColor      = [3]uint8{120, 120, 124}
)

const (
	gridStep   = 0.5  // m between the floor's grid lines: motion cues for the egocentric camera
	arenaWallH = 0.6  // m
	arenaWallT = 0.05 // m
	postSide   = 0.05 // m, the bar's posts
	barThick   = 0.05 // m
	baseItem   = -1   // drawItem.what for the quadruped
)

// Legged draws legged.World scenes; it implements legged.Renderer with a
// Renderer's primitives and caches. Not safe for concurrent use.
type Legged struct{ r *Renderer }

// NewLegged returns a legged-scene renderer.
func NewLegged() *Legged { return &Legged{r: New()} }

// Close frees the cached matrices. The Legged is unusable after.
func (l *Legged) Close() { l.r.Close() }

// Render draws w as seen by cam into dst (cam.H × cam.W × 3, RGB),
// reusing dst.Pix when its capacity suffices. The quadruped is drawn
// unless cam rides on it (legged.OnBody: its egocentric and surround
// cameras).
func (l *Legged) Render(w *legged.World, cam sim.Camera, dst *efferent.Image) error {
	r := l.r
	m, err := r.begin(cam, dst)
	if err != nil {
		return err
	}
	defer func() { r.mat = nil }()

	m.SetTo(gocv.NewScalar(float64(skyColor[0]), float64(skyColor[1]), float64(skyColor[2]), 0))
	r.drawGround(w.Half)

	r.order = r.order[:0]
	for i := range w.Objects {
		o := &w.Objects[i]
		r.order = append(r.order, drawItem{r.depth(o.Pos.Add(sim.Vec3{0, 0, o.Size[2] / 2})), i})
	}
	if !legged.OnBody(cam.Name) {
		r.order = append(r.order, drawItem{r.depth(w.Base.Pos), baseItem})
	}
	for k := range 4 { // the arena's walls, as objects far to near with the rest
		r.order = append(r.order, drawItem{r.depth(arenaWallCentre(w.Half, k)), -2 - k})
	}
	slices.SortFunc(r.order, farFirst)
	for _, it := range r.order {
		switch {
		case it.what == baseItem:
			r.drawBase(&w.Base)
		case it.what <= -2:
			r.drawArenaWall(w.Half, -2-it.what)
		default:
			r.drawLeggedObject(&w.Objects[it.what])
		}
	}
	return nil
}

// drawGround fills the arena's floor and draws its grid; the camera never
// sees past the arena's walls, so the sky shows only above them.
func (r *Renderer) drawGround(half float64) {
	h := half + arenaWallT
	quad := [4]sim.Vec3{{-h, -h, 0}, {h, -h, 0}, {h, h, 0}, {-h, h, 0}}
	r.poly(quad[:], groundColor, false)
	for x := -half; x <= half+1e-9; x += gridStep {
		r.line(sim.Vec3{x, -half, 0.001}, sim.Vec3{x, half, 0.001}, groundGrid, 1)
		r.line(sim.Vec3{-half, x, 0.001}, sim.Vec3{half, x, 0.001}, groundGrid, 1)
	}
}

// arenaWallCentre is the centre of wall k (0: +x, 1: −x, 2: +y, 3: −y).
func arenaWallCentre(half float64, k int) sim.Vec3 {
	d := half + arenaWallT/2
	return [4]sim.Vec3{{d, 0, arenaWallH / 2}, {-d, 0, arenaWallH / 2}, {0, d, arenaWallH / 2}, {0, -d, arenaWallH / 2}}[k]
}

func (r *Renderer) drawArenaWall(half float64, k int) {
	c := arenaWallCentre(half, k)
	long, thin := half+arenaWallT, arenaWallT/2
	ax, ay := sim.Vec3{thin, 0, 0}, sim.Vec3{0, long, 0}
	if k >= 2 {
		ax, ay = sim.Vec3{long, 0, 0}, sim.Vec3{0, thin, 0}
	}
	r.box(c, ax, ay, sim.Vec3{0, 0, arenaWallH / 2}, arenaWallColor, false)
}

// footprintAxes are the half-extent vectors of an object turned by yaw.
func footprintAxes(size sim.Vec3, yaw float64) (ax, ay, az sim.Vec3) {
	s, c := math.Sincos(yaw)
	h := size.Scale(0.5)
	return sim.Vec3{c * h[0], s * h[0], 0}, sim.Vec3{-s * h[1], c * h[1], 0}, sim.Vec3{0, 0, h[2]}
}

func (r *Renderer) drawLeggedObject(o *legged.Object) {
	col := o.RGB
	switch o.Kind {
	case legged.Ball:
		rad := o.Size[0] / 2
		r.ball(o.Pos.Add(sim.Vec3{0, 0, rad}), rad, col)
	case legged.Cone:
		r.prism(o.Pos, o.Size[2], o.Size[0]/2, o.Size[0]/10, col, shade(col, sim.Vec3{0, 0, 1}), true)
	case legged.Bar:
		// Two posts at the ends of the bar and the bar across at its
		// clearance.
		ax, ay, _ := footprintAxes(o.Size, o.Yaw)
		top := o.Clearance + barThick
		for _, sgn := range [2]float64{1, -1} {
			p := o.Pos.Add(ay.Scale(sgn))
			r.box(p.Add(sim.Vec3{0, 0, top / 2}), ax.Unit().Scale(postSide/2), ay.Unit().Scale(postSide/2), sim.Vec3{0, 0, top / 2}, postColor, false)
		}
		r.box(o.Pos.Add(sim.Vec3{0, 0, o.Clearance + barThick/2}), ax.Unit().Scale(barThick/2), ay, sim.Vec3{0, 0, barThick / 2}, col, true)
	default: // Box, Door, Wall
		ax, ay, az := footprintAxes(o.Size, o.Yaw)
		r.box(o.Pos.Add(az), ax, ay, az, col, true)
	}
}

// drawBase draws the quadruped: four legs, stepping with the gait's
// phase (diagonal pairs together, as a trot), under a box body.
func (r *Renderer) drawBase(b *legged.Base) {
	s, c := math.Sincos(b.Yaw)
	fwd, left := sim.Vec3{c, s, 0}, sim.Vec3{-s, c, 0}
	h := b.Pos[2]
	for k, at := range [4][2]float64{{1, 1}, {1, -1}, {-1, 1}, {-1, -1}} {
		hip := b.Pos.Add(fwd.Scale(at[0] * legged.BodyLength * 0.4)).Add(left.Scale(at[1] * legged.BodyWidth * 0.45))
		lift := 0.0
		if phase := math.Mod(b.Phase+0.5*float64(k%2^k/2), 1); !b.Stopped && phase < 0.5 {
			lift = b.Swing * math.Sin(2*math.Pi*phase)
		}
		foot := sim.Vec3{hip[0], hip[1], lift}
		knee := hip.Add(foot).Scale(0.5).Add(fwd.Scale(0.04 * h / legged.NominalHeight))
		r.line(hip, knee, legColor, 3)
		r.line(knee, foot, legColor, 3)
	}
	r.box(b.Pos, fwd.Scale(legged.BodyLength/2), left.Scale(legged.BodyWidth/2), sim.Vec3{0, 0, legged.BodyThickness / 2}, bodyColor, true)
	// A light patch on the front, so the heading shows.
	r.box(b.Pos.Add(fwd.Scale(legged.BodyLength/2)), fwd.Scale(0.01), left.Scale(legged.BodyWidth/4), sim.Vec3{0, 0, legged.BodyThickness / 3}, [3]uint8{230, 230, 230}, false)
}
