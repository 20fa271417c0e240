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
					if bs, err = blobs(full, lit, im.H, im.W, minArea); err != nil {
						return nil, err
					}
					cache[ref] = bs
				}
				for _, b := range bs {
					s := 0.9 // a blob of the colour, for a colour-only query
					if q.Category != "" {
						s = classify(b, q.Category, d.classes[ref])
						if saturated(ref) && unclear(b, q.Category, d.classes[ref]) {
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
var shapeModels = map[string][2]gaussian{
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
	return [5]float64{f.litFrac, f.circ, f.litRes, f.aspect, f.litTop}
}

func isContainer(c string) bool { return c == Bowl || c == Basket }

// classify scores a blob for category want in [0, 1]: the posterior of
// want among the classes that objects of this colour come in (equal
// priors, independent Gaussian features), times how typical the blob is
// of want. A blob with a hole is a container: it scores high for a
// container class and low for anything else.
func classify(f features, want string, classes []string) float64 {
	wm, ok := shapeModels[want]
	if !ok {
		return 0
	}
	if f.hole >= holeMin {
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
	d2 := func(g gaussian) float64 {
		var s float64
		for j := range x {
			z := (x[j] - g.mean[j]) / g.sd[j]
			s += z * z
		}
		return s
	}
	logLik := func(m [2]gaussian) float64 {
		var l [2]float64
		for k, g := range m {
			l[k] = -0.5 * d2(g)
			for _, sd := range g.sd {
				l[k] -= math.Log(sd)
			}
		}
		hi := math.Max(l[0], l[1])
		return hi + math.Log(0.5*math.Exp(l[0]-hi)+0.5*math.Exp(l[1]-hi))
	}
	lw := logLik(wm)
	den := 1.0
	for _, c := range classes {
		if c != want {
			den += math.Exp(logLik(shapeModels[c]) - lw)
		}
	}
	return typicality(f, want) / den
}

// typicality is 1 for a blob within typicalD2 of either of class c's
// Gaussians, decaying beyond.
func typicality(f features, c string) float64 {
	x := f.vector()
	d := math.Inf(1)
	for _, g := range shapeModels[c] {
		var s float64
		for j := range x {
			z := (x[j] - g.mean[j]) / g.sd[j]
			s += z * z
		}
		d = math.Min(d, s)
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
func unclear(f features, want string, classes []string) bool {
	if f.hole >= holeMin {
		return false
	}
	if typicality(f, want) >= 0.5 {
		return false
	}
	for _, c := range classes { // classes is shared: never append to it
		if typicality(f, c) >= 0.5 {
			return false
		}
	}
	return true
}
