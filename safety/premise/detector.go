package premise

import (
	"image"

	"github.com/efferent/efferent"
)

// Frame is one camera image at one instant. A frame set (all cameras at
// the same instant) is what a Session counts as one frame.
type Frame struct {
	Camera string
	Image  efferent.Image
}

// Query is what a detector is asked to find: one phrase.
type Query struct {
	// Text is the phrase as written ("red block"): what an
	// open-vocabulary detector embeds as its label.
	Text string
	// Color and Category are the phrase's canonical colour (may be "")
	// and category ("" for a colour-only phrase).
	Color    string
	Category string
}

// QueryOf returns the query for a phrase.
func QueryOf(p Phrase) Query { return Query{Text: p.Text, Color: p.Color, Category: p.Category} }

// Detection is one place where a query was seen.
type Detection struct {
	// Query is the index of the query in Detect's argument.
	Query int
	// Score is the detector's confidence in [0, 1].
	Score float64
	// Camera names the frame it was seen in; Box is where, in pixels.
	Camera string
	Box    image.Rectangle
}

// Detector grounds queries in camera frames. A Detector that may be
// shared between Sessions must be safe for concurrent use.
type Detector interface {
	// Knows reports whether the detector can look for q at all. A phrase
	// no detector knows is asked about (clarify): its absence from the
	// detections would mean nothing.
	Knows(q Query) bool
	// Detect looks for every query in every frame and returns what it
	// found, in any order, any number per query (the checker keeps the
	// best score per query). Finding nothing is not an error.
	Detect(frames []Frame, queries []Query) ([]Detection, error)
}

// Detectors combines several detectors (say an open-vocabulary one and a
// policy's premise head): a query is known when any of them knows it, and
// is asked of those that know it; their detections are pooled, so the best
// score of any of them counts.
type Detectors []Detector

// Knows reports whether any detector knows q.
func (ds Detectors) Knows(q Query) bool {
	for _, d := range ds {
		if d.Knows(q) {
			return true
		}
	}
	return false
}

// Detect asks each detector for the queries it knows.
func (ds Detectors) Detect(frames []Frame, queries []Query) ([]Detection, error) {
	var out []Detection
	for _, d := range ds {
		var qs []Query
		var idx []int
		for i, q := range queries {
			if d.Knows(q) {
				qs, idx = append(qs, q), append(idx, i)
			}
		}
		if len(qs) == 0 {
			continue
		}
		dets, err := d.Detect(frames, qs)
		if err != nil {
			return nil, err
		}
		for _, det := range dets {
			if det.Query >= 0 && det.Query < len(idx) {
				det.Query = idx[det.Query]
				out = append(out, det)
			}
		}
	}
	return out, nil
}
