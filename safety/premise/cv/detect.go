package cv

import (
	"fmt"
	"math"

	"github.com/efferent/efferent/safety/premise"
)

// Detect segments every frame once per reference colour the queries need,
// and reports each blob whose shape class matches a query's category,
// scored by how clearly it does (a colour-only query matches any blob).
func (d *Detector) Detect(frames []premise.Frame, queries []premise.Query) ([]premise.Detection, error) {
	var out []premise.Detection
	for _, fr := range frames {
		im := fr.Image
		if err := im.Validate(); err != nil || im.C != 3 {
			return nil, fmt.Errorf("premise/cv: camera %q: want an RGB image (H×W×3): %v", fr.Camera, err)
		}
		n := im.H * im.W
		full, lit := make([]byte, n), make([]byte, n)
		minArea := d.conf.MinArea * float64(n) / (224 * 224)
		cache := map[[3]uint8][]features{}
		for qi, q := range queries {
			for _, ref := range d.refs(q) {
				bs, ok := cache[ref]
				if !ok {
					mask(im, ref, full, lit)
					var err error
					if bs, err = blobs(full, lit, im.H, im.W, minArea, d.upright); err != nil {
						return nil, err
					}
					cache[ref] = bs
				}
				for _, b := range bs {
					s := 0.9 // a blob of the colour, for a colour-only query
					if q.Category != "" {
						s = classify(b, q.Category, d.classes[ref], d.models)
						if saturated(ref) && unclear(b, q.Category, d.classes[ref], d.models) {
							// Grey blobs get no such benefit of the doubt:
							// the gripper itself is grey.
							s = max(s, unclearScore)
						}
					}
					if s > 0 {
						out = append(out, premise.Detection{Query: qi, Score: s, Camera: fr.Camera, Box: b.box})
					}
				}
			}
		}
	}
	return out, nil
}

// gaussian is a diagonal Gaussian over features.vector().
type gaussian struct{ mean, sd [5]float64 }

// shapeModels are each shape class's feature distributions, one for the
// fixed (agent view) camera and one for the wrist camera, used as an equal
// mixture so the detector needs no camera name. Each is the median and a
// robust spread (1.4826 × MAD, floored) of litFrac, circ, litRes, aspect
// and litTop, measured on rendered simulator frames from the
// demonstration initial states (sim.DemoInitBase on, 8 per task), never
// the evaluation states: they describe the renderer's shapes, not any
// task. Blobs with a hole were left out; holes have their own rule.
var shapeModels = map[string][]gaussian{
	Block: {
		{mean: [5]float64{0.570, 0.730, 0.144, 1.100, 0.390}, sd: [5]float64{0.089, 0.050, 0.030, 0.100, 0.060}}, // fixed camera
		{mean: [5]float64{0.570, 0.720, 0.148, 1.000, 0.410}, sd: [5]float64{0.119, 0.059, 0.030, 0.163, 0.089}}, // wrist camera
	},
	Cylinder: {
		{mean: [5]float64{0.460, 0.820, 0.091, 1.220, 0.330}, sd: [5]float64{0.089, 0.050, 0.030, 0.104, 0.060}}, // fixed camera
		{mean: [5]float64{0.440, 0.790, 0.106, 1.000, 0.330}, sd: [5]float64{0.133, 0.050, 0.030, 0.252, 0.104}}, // wrist camera
	},
	Ball: {
		{mean: [5]float64{0.770, 0.880, 0.046, 1.000, 0.530}, sd: [5]float64{0.060, 0.050, 0.030, 0.100, 0.060}}, // fixed camera
		{mean: [5]float64{0.760, 0.890, 0.047, 1.000, 0.530}, sd: [5]float64{0.060, 0.050, 0.030, 0.100, 0.060}}, // wrist camera
	},
	Bowl: {
		{mean: [5]float64{0.160, 0.810, 0.153, 0.860, 0.500}, sd: [5]float64{0.060, 0.104, 0.144, 0.100, 0.060}}, // fixed camera
		{mean: [5]float64{0.140, 0.690, 0.242, 0.860, 0.500}, sd: [5]float64{0.060, 0.133, 0.123, 0.133, 0.060}}, // wrist camera
	},
	Plate: {
		{mean: [5]float64{0.900, 0.730, 0.073, 0.930, 0.510}, sd: [5]float64{0.060, 0.193, 0.061, 0.100, 0.060}}, // fixed camera
		{mean: [5]float64{0.640, 0.810, 0.049, 1.020, 0.510}, sd: [5]float64{0.200, 0.133, 0.037, 0.100, 0.119}}, // wrist camera
	},
	Basket: {
		{mean: [5]float64{0.150, 0.440, 0.268, 1.210, 0.440}, sd: [5]float64{0.060, 0.178, 0.055, 0.104, 0.060}}, // fixed camera
		{mean: [5]float64{0.140, 0.600, 0.211, 1.160, 0.450}, sd: [5]float64{0.060, 0.148, 0.099, 0.100, 0.060}}, // wrist camera
	},
}

// typicalD2 is the squared standardised distance (summed over the five
// features) up to which a blob is a typical member of a class: the 95th
// percentile of χ² with 5 degrees of freedom. Beyond it the score decays,
// so a blob like no class (the gripper's fingers in a grey mask, two
// objects merged into one blob) scores low for all.
const typicalD2 = 11.07

// holeMin is the share of a lit outline left unlit above which the blob is
// a container seen from above (a bowl's opening, a basket's inside).
const holeMin = 0.3

func (f features) vector() [5]float64 {
	if f.upright {
		return f.uprightVector()
	}
	return [5]float64{f.litFrac, f.circ, f.litRes, f.aspect, f.litTop}
}

func isContainer(c string) bool { return c == Bowl || c == Basket }

// classify scores a blob for category want in [0, 1]: the posterior of
// want among the classes that objects of this colour come in (equal
// priors, independent Gaussian features), times how typical the blob is
// of want. A blob with a hole is a container: it scores high for a
// container class and low for anything else. models are the shape
// family's (shapeModels, or uprightModels for floor scenes).
func classify(f features, want string, classes []string, models map[string][]gaussian) float64 {
	wm, ok := models[want]
	if !ok {
		return 0
	}
	if f.hole >= holeMin && !f.upright {
		if !isContainer(want) {
			return 0.05
		}
		n := 1
		for _, c := range classes {
			if c != want && isContainer(c) {
				n++
			}
		}
		return 0.95 / float64(n)
	}
	x := f.vector()
	lw := logLik(x, wm)
	den := 1.0
	for _, c := range classes {
		if m, ok := models[c]; ok && c != want {
			den += math.Exp(logLik(x, m) - lw)
		}
	}
	return typicality(f, want, models) / den
}

// d2 is x's squared standardised distance from g.
func (g gaussian) d2(x [5]float64) float64 {
	var s float64
	for j := range x {
		z := (x[j] - g.mean[j]) / g.sd[j]
		s += z * z
	}
	return s
}

// logLik is x's log likelihood under an equal mixture of m's Gaussians.
func logLik(x [5]float64, m []gaussian) float64 {
	l := make([]float64, len(m))
	hi := math.Inf(-1)
	for k, g := range m {
		l[k] = -0.5 * g.d2(x)
		for _, sd := range g.sd {
			l[k] -= math.Log(sd)
		}
		hi = math.Max(hi, l[k])
	}
	var sum float64
	for _, v := range l {
		sum += math.Exp(v - hi)
	}
	return hi + math.Log(sum/float64(len(m)))
}

// typicality is 1 for a blob within typicalD2 of any of class c's
// Gaussians, decaying beyond.
func typicality(f features, c string, models map[string][]gaussian) float64 {
	x := f.vector()
	d := math.Inf(1)
	for _, g := range models[c] {
		d = math.Min(d, g.d2(x))
	}
	if d <= typicalD2 {
		return 1
	}
	return math.Exp(-(d - typicalD2) / 8)
}

// unclearScore is what a coloured blob that fits none of its colour's
// classes scores for any of them: the uncertain band's middle, so that it
// neither confirms nor refutes. Such blobs are mostly objects half hidden
// behind the gripper; calling them absent would refuse a true premise.
const unclearScore = 0.35

// unclear reports whether f is typical of none of the classes (and of the
// asked one).
func unclear(f features, want string, classes []string, models map[string][]gaussian) bool {
	if f.hole >= holeMin && !f.upright {
		return false
	}
	if typicality(f, want, models) >= 0.5 {
		return false
	}
	for _, c := range classes { // classes is shared: never append to it
		if typicality(f, c, models) >= 0.5 {
			return false
		}
	}
	return true
}

// uprightModels are the floor classes' feature distributions
// (features.uprightVector): the median and a robust spread (1.4826 × MAD)
// of each feature, measured on the legged simulator's surround cameras
// (level, 0.78 m above the floor) at the demonstration initial states
// (sim.DemoInitBase on, 8 per task), never the evaluation states, over
// the blobs of every object whose colour no other kind on its scene
// shares. They describe the renderer's shapes seen from a quadruped, not
// any task. The spreads are floored at 0.08, 0.1, 0.15, 0.08 and 0.25:
// far objects are a few dozen pixels (a small disc fills less of its box
// than π/4), and one partly hidden behind a nearer one (a cone's tip over
// a box) reaches less far below the horizon.
var uprightModels = map[string][]gaussian{
	Ball: {{mean: [5]float64{0.700, 1.000, 0.000, 0.891, -2.441}, sd: [5]float64{0.08, 0.130, 0.15, 0.08, 0.25}}},
	Cone: {{mean: [5]float64{0.577, 0.451, 0.490, 0.582, -0.635}, sd: [5]float64{0.08, 0.1, 0.15, 0.08, 0.25}}},
	Box:  {{mean: [5]float64{0.861, 0.987, -0.269, 0.749, -0.533}, sd: [5]float64{0.08, 0.127, 0.325, 0.08, 0.25}}},
	Door: {{mean: [5]float64{0.956, 1.000, 0.794, 0.671, 0.605}, sd: [5]float64{0.08, 0.1, 0.15, 0.08, 0.25}}},
	Wall: {{mean: [5]float64{0.729, 1.443, -0.433, 0.595, 0.024}, sd: [5]float64{0.136, 0.997, 0.410, 0.089, 0.25}}},
	Bar:  {{mean: [5]float64{0.655, 1.063, -2.565, 0.146, -4.500}, sd: [5]float64{0.106, 0.275, 0.15, 0.08, 0.890}}},
}
