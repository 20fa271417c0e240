// Package cv is a premise.Detector for known objects, with OpenCV
// (gocv): it segments each camera frame by the colours the task set's
// objects have (hue and saturation, so that any shading of a face
// matches) and tells the shape classes apart by the geometry of each blob.
//
// Tabletop objects (block, cylinder, ball, bowl, plate, basket: the
// simulator's) are told apart by the blob and its lit part (top faces, a
// bowl's rim): holes for containers, an elliptical versus a polygonal top
// for cylinders, balls and plates versus blocks, the blob's height over
// its width for upright cylinders.
//
// Objects on a floor seen by level cameras (the legged base's surround
// cameras: ball, box, cone, door, wall, bar) are told apart by their
// silhouettes: how much of its bounding box a blob fills, whether it
// narrows upwards (a cone), its height over its width (a bar is a thin
// horizontal stroke) and how far it reaches above the horizon, the
// image's middle row (walls and doors stand taller than the cameras,
// boxes and balls do not). A detector whose objects include any of the
// floor-only classes (FloorCategories) classifies every blob so, balls
// included; one catalogue is either a tabletop's or a floor's.
//
// It sees only pixels and the query; what it knows is data: the objects'
// colours (Conf.Objects). It is the only cgo package under safety.
package cv

import (
	"errors"
	"fmt"
	"image/color"
	"slices"
	"strings"

	"github.com/efferent/efferent/safety/premise"
)

// Known is an object the detector can look for: its colour word ("" for
// objects named without one, such as "plate"), its category (one of
// Categories) and its rendered colour, RGB, as a lit top face shows it.
type Known struct {
	Color    string
	Category string
	RGB      [3]uint8
}

// Categories are the shape classes the detector tells apart: the
// tabletop's and the floor's (FloorCategories; Ball is both).
func Categories() []string {
	return []string{Block, Cylinder, Ball, Bowl, Plate, Basket, Box, Cone, Door, Wall, Bar}
}

// FloorCategories are the classes only a floor scene has: a catalogue
// with any of them is classified by silhouette (see the package doc).
func FloorCategories() []string { return []string{Box, Cone, Door, Wall, Bar} }

// Shape classes.
const (
	Block    = "block"
	Cylinder = "cylinder"
	Ball     = "ball"
	Bowl     = "bowl"
	Plate    = "plate"
	Basket   = "basket"
	Box      = "box"  // a box standing on the floor
	Cone     = "cone" // a traffic cone
	Door     = "door" // an upright panel taller than the cameras
	Wall     = "wall" // an obstacle slab taller than the cameras
	Bar      = "bar"  // a horizontal bar across a passage
)

// Conf configures a Detector.
type Conf struct {
	// Objects are the known objects (required).
	Objects []Known
	// MinArea is the smallest blob, in pixels of a 224×224 image (scaled
	// with the image's area), that counts. Default 24: a 5 cm block at the
	// far edge of the simulator's table covers about 100. For a floor
	// catalogue (FloorCategories) the default is FloorMinArea.
	MinArea float64
}

// FloorMinArea is Conf.MinArea's default for a floor catalogue: a
// 0.22 m ball 5 m from the legged base's surround cameras covers about 50
// pixels of their 448×448 images (12 of a 224×224 one); the arena is 8 m
// across.
const FloorMinArea = 6

// Detector implements premise.Detector. It keeps no state between calls
// and is safe for concurrent use.
type Detector struct {
	conf    Conf
	colours map[string][][3]uint8 // colour word → reference colours
	plain   map[string][][3]uint8 // category → colours of its objects named without a colour
	// classes lists, per reference colour, the categories that share its
	// colour word (for the colour-less, its own): a blob of that colour is
	// classified among them, plus the asked category.
	classes map[[3]uint8][]string
	// upright: the catalogue is a floor scene's (FloorCategories), and
	// models are uprightModels; else shapeModels.
	upright bool
	models  map[string][]gaussian
}

// New validates conf and returns a Detector.
func New(conf Conf) (*Detector, error) {
	if len(conf.Objects) == 0 {
		return nil, errors.New("premise/cv: Conf.Objects is empty")
	}
	floor := slices.ContainsFunc(conf.Objects, func(o Known) bool { return slices.Contains(FloorCategories(), o.Category) })
	switch {
	case conf.MinArea == 0 && floor:
		conf.MinArea = FloorMinArea
	case conf.MinArea == 0:
		conf.MinArea = 24
	}
	if conf.MinArea < 1 {
		return nil, fmt.Errorf("premise/cv: Conf.MinArea = %v, want ≥ 1", conf.MinArea)
	}
	d := &Detector{conf: conf, colours: map[string][][3]uint8{}, plain: map[string][][3]uint8{}, classes: map[[3]uint8][]string{},
		models: shapeModels}
	for i, o := range conf.Objects {
		if !isCategory(o.Category) {
			return nil, fmt.Errorf("premise/cv: Conf.Objects[%d]: category %q is none of %s", i, o.Category, strings.Join(Categories(), ", "))
		}
		if slices.Contains(FloorCategories(), o.Category) {
			d.upright, d.models = true, uprightModels
		}
		if o.Color == "" {
			d.plain[o.Category] = appendColour(d.plain[o.Category], o.RGB)
		} else {
			d.colours[o.Color] = appendColour(d.colours[o.Color], o.RGB)
		}
	}
	for _, o := range conf.Objects {
		for _, ref := range d.refs(premise.Query{Color: o.Color, Category: o.Category}) {
			if !slices.Contains(d.classes[ref], o.Category) {
				d.classes[ref] = append(d.classes[ref], o.Category)
			}
		}
	}
	return d, nil
}

func isCategory(c string) bool {
	for _, k := range Categories() {
		if c == k {
			return true
		}
	}
	return false
}

func appendColour(s [][3]uint8, c [3]uint8) [][3]uint8 {
	for _, x := range s {
		if x == c {
			return s
		}
	}
	return append(s, c)
}

// refs returns the reference colours to segment for q.
func (d *Detector) refs(q premise.Query) [][3]uint8 {
	if q.Color != "" {
		return d.colours[q.Color]
	}
	return d.plain[q.Category]
}

// Knows reports whether q has a colour the detector knows (or names a
// colour-less known object) and a category it can tell apart in its
// catalogue's scenes (the tabletop's or the floor's shape classes).
func (d *Detector) Knows(q premise.Query) bool {
	if _, ok := d.models[q.Category]; q.Category != "" && !ok {
		return false
	}
	return len(d.refs(q)) > 0
}

var white = color.RGBA{255, 255, 255, 255}
