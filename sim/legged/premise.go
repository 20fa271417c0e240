package legged

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
)

// The false-premise check's cameras. A quadruped's goal is often not in
// its front camera when an instruction arrives ("turn around …", "back up
// to the box"), so a check on the egocentric camera alone would refuse
// true instructions. Real legged robots carry surround cameras (Boston
// Dynamics' Spot: five around its body, and the Spot CAM's panorama on a
// mount above it); the simulated base has four level cameras on a short
// mast above its body, a quarter turn apart, each wide enough that the
// four see all the way round. The mast lifts them over the low boxes of
// the arena, so a goal behind one is still in view; the policy never sees
// them (it keeps ImageKey).
const (
	// SurroundFOV is each surround camera's horizontal (and vertical)
	// field of view, in degrees: more than 90 so that neighbours overlap
	// and an object on a seam is whole in one of them.
	SurroundFOV = 100.0
	// SurroundMast is how far above the body's centre line the surround
	// cameras sit, in metres.
	SurroundMast = 0.50
	// SurroundSize is the side of a surround image in pixels.
	SurroundSize = 448
)

// SurroundViews are the surround cameras' names (sim.Camera.Name), in the
// order of their yaw offsets 0°, 90°, 180° and 270° from the body's
// heading (front, left, back, right).
var SurroundViews = []string{"surround_front", "surround_left", "surround_back", "surround_right"}

// SurroundKeys are the observation keys ObserveSurround fills, in
// SurroundViews order: the cameras a false-premise check looks through
// (rig.CheckPremise's keys).
var SurroundKeys = []string{"observation/surround_front", "observation/surround_left", "observation/surround_back", "observation/surround_right"}

// OnBody reports whether the camera named name rides on the base (the
// egocentric and surround cameras), so that a renderer leaves the base
// itself out of its image.
func OnBody(name string) bool { return name == EgoView || slices.Contains(SurroundViews, name) }

// SurroundCameras are the four surround cameras of base b for square
// images of size pixels, in SurroundViews order: level (the horizon is
// each image's middle row), on the mast above the body's centre, looking
// out at yaw offsets 0°, 90°, 180° and 270°.
func SurroundCameras(b *Base, size int) []sim.Camera {
	pos := sim.Vec3{b.Pos[0], b.Pos[1], b.Pos[2] + SurroundMast}
	out := make([]sim.Camera, len(SurroundViews))
	for k, name := range SurroundViews {
		sy, cy := math.Sincos(b.Yaw + float64(k)*math.Pi/2)
		fwd := sim.Vec3{cy, sy, 0}
		right := sim.Vec3{sy, -cy, 0}
		out[k] = camera(name, pos, right, sim.Vec3{0, 0, -1}, fwd, SurroundFOV, size)
	}
	return out
}

// ObserveSurround renders the surround cameras (SurroundSize pixels
// square) into obs.Images under SurroundKeys, reusing the images already
// there, and fills Prompt with the instruction; the premise check's
// observe. State, Seq and Time are left alone: the policy's observation
// is Observe's.
func (e *Env) ObserveSurround(obs *efferent.Observation) error {
	if !e.loaded {
		return ErrNotReset
	}
	if e.r == nil {
		return ErrNoRenderer
	}
	if obs.Images == nil {
		obs.Images = make(map[string]efferent.Image, len(SurroundKeys))
	}
	for k, cam := range SurroundCameras(&e.w.Base, SurroundSize) {
		im := obs.Images[SurroundKeys[k]]
		err := e.r.Render(&e.w, cam, &im)
		obs.Images[SurroundKeys[k]] = im
		if err != nil {
			return fmt.Errorf("legged: %s view: %w", cam.Name, err)
		}
	}
	obs.Prompt = e.task.Instruction
	return nil
}

// PremiseObjects returns what the legged task set's instructions may name,
// as the premise checker sees it: every colour and kind of object on any
// task's scene, both with its colour ("red ball", "white box") and
// without ("the box", "the cones", "the door", "the two walls", "both
// bars": each kind under every colour it comes in), with the colour it is
// drawn in. A colour or kind no scene has is not in it: "the chair" is
// then a noun the checker asks about, never one it looks for.
func PremiseObjects() []sim.PremiseObject {
	type key struct {
		name, color string
		rgb         [3]uint8
	}
	var out []sim.PremiseObject
	seen := map[key]bool{}
	add := func(name, color, kind string, rgb [3]uint8) {
		k := key{name, color, rgb}
		if seen[k] {
			return
		}
		seen[k] = true
		out = append(out, sim.PremiseObject{Object: premise.Object{Name: name, Color: color, Category: kind}, RGB: rgb})
	}
	for _, su := range Suites() {
		for _, t := range suiteTasks[su] {
			for _, p := range t.Scene {
				kind := p.Kind.String()
				add(p.Color+" "+kind, p.Color, kind, p.RGB)
				add(kind, "", kind, p.RGB)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b sim.PremiseObject) int { return strings.Compare(a.Category, b.Category) })
	return out
}

// PremiseVocabulary is the vocabulary of the legged task set: the
// objects of PremiseObjects ("box" is a box here, not the tabletop's
// synonym for a block).
func PremiseVocabulary() (premise.Vocabulary, error) { return sim.VocabularyOf(PremiseObjects()) }
