// Package cv is a premise.Detector for known tabletop objects, with
// OpenCV (gocv): it segments each camera frame by the colours the task
// set's objects have (hue and saturation, so that any shading of a face
// matches) and tells the shape classes apart by the geometry of each blob
// and of its lit part (top faces, a bowl's rim): holes for containers,
// an elliptical versus a polygonal top for cylinders, balls and plates
// versus blocks, the blob's height over its width for upright cylinders.
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

// Categories are the shape classes the detector tells apart.
func Categories() []string {
	return []string{Block, Cylinder, Ball, Bowl, Plate, Basket}
}

// Shape classes.
const (
	Block    = "block"
	Cylinder = "cylinder"
	Ball     = "ball"
	Bowl     = "bowl"
	Plate    = "plate"
	Basket   = "basket"
)

// Conf configures a Detector.
type Conf struct {
	// Objects are the known objects (required).
	Objects []Known
	// MinArea is the smallest blob, in pixels of a 224×224 image (scaled
	// with the image's area), that counts. Default 24: a 5 cm block at the
	// far edge of the simulator's table covers about 100.
	MinArea float64
}

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
}

// New validates conf and returns a Detector.
func New(conf Conf) (*Detector, error) {
	if len(conf.Objects) == 0 {
		return nil, errors.New("premise/cv: Conf.Objects is empty")
	}
	if conf.MinArea == 0 {
		conf.MinArea = 24
	}
	if conf.MinArea < 1 {
		return nil, fmt.Errorf("premise/cv: Conf.MinArea = %v, want ≥ 1", conf.MinArea)
	}
	d := &Detector{conf: conf, colours: map[string][][3]uint8{}, plain: map[string][][3]uint8{}, classes: map[[3]uint8][]string{}}
	for i, o := range conf.Objects {
		if !isCategory(o.Category) {
			return nil, fmt.Errorf("premise/cv: Conf.Objects[%d]: category %q is none of %s", i, o.Category, strings.Join(Categories(), ", "))
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
// colour-less known object) and a category it can tell apart.
func (d *Detector) Knows(q premise.Query) bool {
	if q.Category != "" && !isCategory(q.Category) {
		return false
	}
	return len(d.refs(q)) > 0
}

var white = color.RGBA{255, 255, 255, 255}
