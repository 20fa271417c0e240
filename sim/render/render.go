package render

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

// Colours (RGB).
var (
	floorColor  = [3]uint8{58, 60, 68}
	tableColor  = [3]uint8{152, 138, 120}
	gridColor   = [3]uint8{140, 126, 109}
	shadowColor = [3]uint8{112, 102, 90}
	handColor   = [3]uint8{62, 64, 72}
	fingerColor = [3]uint8{182, 185, 192}
	linkColor   = [3]uint8{200, 202, 208}
)

// light is the direction toward the (directional) light: from above, a
// little from the camera's side, so the faces the agent view sees are lit.
var light = sim.Vec3{-0.4, 0.25, 1}.Unit()

const (
	shift     = 4 // sub-pixel bits of polygon vertices
	one       = 1 << shift
	segments  = 24 // sides of round shapes' polygons
	maxCached = 4
)

// Renderer implements sim.Renderer. It keeps its scratch buffers and a Mat
// header for each of the last few destination buffers (those buffers stay
// referenced until Close), so rendering into the same images again does
// not allocate. Not safe for concurrent use.
type Renderer struct {
	mats   []cachedMat
	closed bool

	cam   sim.Camera
	mat   *gocv.Mat
	cpts  []sim.Vec3 // polygon in camera coordinates
	clip  []sim.Vec3 // after near-plane clipping
	pts   []image.Point
	ipts  []image.Point
	ring  []sim.Vec3
	ring2 []sim.Vec3
	order []drawItem
	parts []drawItem
}

type cachedMat struct {
	ptr  *byte
	h, w int
	m    gocv.Mat
}

// drawItem is one thing to paint and its depth.
type drawItem struct {
	depth float64
	what  int // object index, or a gripper part (gripperItem…)
}

const gripperItem = -1

// New returns a renderer.
func New() *Renderer { return &Renderer{} }

// Close frees the cached matrices. The Renderer is unusable after.
func (r *Renderer) Close() {
	if r.closed {
		return
	}
	r.closed = true
	for i := range r.mats {
		r.mats[i].m.Close()
	}
	r.mats = nil
}

// Render draws w as seen by cam into dst (cam.H × cam.W × 3, RGB),
// reusing dst.Pix when its capacity suffices.
func (r *Renderer) Render(w *sim.World, cam sim.Camera, dst *efferent.Image) error {
	m, err := r.begin(cam, dst)
	if err != nil {
		return err
	}
	defer func() { r.mat = nil }()

	m.SetTo(gocv.NewScalar(float64(floorColor[0]), float64(floorColor[1]), float64(floorColor[2]), 0))
	r.drawTable()
	r.drawShadows(w)

	// Stacks and the gripper, far to near.
	r.order = r.order[:0]
	for i := range w.Objects {
		o := &w.Objects[i]
		if o.On == sim.OnTable {
			r.order = append(r.order, drawItem{r.depth(o.Pos.Add(sim.Vec3{0, 0, o.Size[2] / 2})), i})
		}
	}
	wrist := cam.Name == sim.WristView
	gd := r.depth(w.Gripper.Pos)
	if wrist {
		gd = math.Inf(-1) // the camera rides on the gripper: always in front
	}
	r.order = append(r.order, drawItem{gd, gripperItem})
	slices.SortFunc(r.order, farFirst)
	for _, it := range r.order {
		if it.what == gripperItem {
			r.drawGripper(w, wrist)
		} else {
			r.drawStack(w, it.what)
		}
	}
	return nil
}

// begin checks cam, sizes dst for it (reusing dst.Pix when its capacity
// suffices) and points the drawing primitives at dst through cam; the
// caller sets r.mat back to nil when done.
func (r *Renderer) begin(cam sim.Camera, dst *efferent.Image) (*gocv.Mat, error) {
	if r.closed {
		return nil, errors.New("render: renderer is closed")
	}
	if cam.W <= 0 || cam.H <= 0 || cam.W > 8192 || cam.H > 8192 {
		return nil, fmt.Errorf("render: camera size %dx%d out of range", cam.W, cam.H)
	}
	n := cam.H * cam.W * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	dst.Pix = dst.Pix[:n]
	dst.H, dst.W, dst.C = cam.H, cam.W, 3
	m, err := r.matFor(dst.Pix, cam.H, cam.W)
	if err != nil {
		return nil, err
	}
	r.cam, r.mat = cam, m
	return m, nil
}

func farFirst(a, b drawItem) int {
	switch {
	case a.depth > b.depth:
		return -1
	case a.depth < b.depth:
		return 1
	}
	return a.what - b.what
}

// matFor returns a Mat header over pix, cached by buffer address and size.
func (r *Renderer) matFor(pix []byte, h, w int) (*gocv.Mat, error) {
	p := unsafe.SliceData(pix)
	for i := range r.mats {
		if c := &r.mats[i]; c.ptr == p && c.h == h && c.w == w {
			return &c.m, nil
		}
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if len(r.mats) == maxCached {
		r.mats[0].m.Close()
		r.mats = append(r.mats[:0], r.mats[1:]...)
	}
	r.mats = append(r.mats, cachedMat{ptr: p, h: h, w: w, m: m})
	return &r.mats[len(r.mats)-1].m, nil
}

func (r *Renderer) depth(p sim.Vec3) float64 { return p.Sub(r.cam.Pos).Dot(r.cam.Forward) }
