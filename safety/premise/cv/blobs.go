package cv

import (
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
)

// features describe one colour blob: the connected region of pixels whose
// colour matches a reference at any shading, and inside it the "lit"
// region at the reference's own brightness (top faces, a bowl's rim).
type features struct {
	box  image.Rectangle
	area float64 // pixels of the blob
	// aspect is the blob's bounding box height over width: upright
	// cylinders are taller than blocks and balls.
	aspect float64
	// circ is the blob outline's circularity 4πA/P² (1 for a disc).
	circ float64
	// litFrac is the lit region's share of the blob.
	litFrac float64
	// hole is the share of the lit region's outline that is not lit
	// (a bowl's dark opening inside its rim, a basket's inside).
	hole float64
	// litRes is how far the lit outline is from an ellipse: the standard
	// deviation of its points' Mahalanobis radius over the mean (about
	// 0.02–0.05 for an ellipse, 0.08 and more for a parallelogram's
	// corners).
	litRes float64
	// litAspect is the lit region's bounding box height over width.
	litAspect float64
	// litTop is where the lit region's centre sits in the blob, 0 at the
	// top of its box and 1 at the bottom.
	litTop float64

	// upright marks a blob measured for the floor's classes, which have
	// the silhouette features below instead of the lit ones.
	upright bool
	// extent is the blob's share of its bounding box (a disc's π/4, a
	// rectangle's 1, a triangle's ½).
	extent float64
	// taper is the blob's mean width over the top third of its box over
	// that over the bottom third (a cone's well under 1).
	taper float64
	// above is how much of the blob's height is above the image's middle
	// row, the horizon of a level camera: (ztop − camera height)/ztop for
	// an object standing on the floor, at any distance (negative for one
	// lower than the camera).
	above float64
}

// uprightVector is the feature vector of the floor's classes: extent,
// taper, log height over width, circularity, above.
func (f features) uprightVector() [5]float64 {
	return [5]float64{f.extent, f.taper, math.Log(f.aspect), f.circ, f.above}
}

// mask computes the blob mask (every shading of ref: the renderer scales a
// colour by 0.55–1.08 with lighting) and the lit mask (the brightest
// shading) of img for one reference colour, as 0/255 bytes.
func mask(img efferent.Image, ref [3]uint8, full, lit []byte) {
	rh, rs, rv := hsv(ref[0], ref[1], ref[2])
	sat := rs >= satColour
	for i := range full {
		p := img.Pix[i*3 : i*3+3]
		h, s, v := hsv(p[0], p[1], p[2])
		ok := v >= 0.42*rv && v <= math.Min(1, 1.2*rv+0.02)
		if sat {
			ok = ok && hueDist(h, rh) <= hueTol && s >= 0.78*rs && s <= math.Min(1, 1.35*rs+0.05)
		} else {
			// Greys and whites: no hue to match, so they must be as
			// unsaturated as the reference (the table is not).
			ok = ok && s <= rs+0.05
			if rs >= tinted {
				// A tinted grey (the plate's blue-grey) keeps its tint
				// under shading; the gripper's greys are less tinted.
				ok = ok && s >= 0.7*rs && hueDist(h, rh) <= 2*hueTol
			}
		}
		full[i], lit[i] = 0, 0
		if ok {
			full[i] = 255
			if v >= 0.83*rv {
				lit[i] = 255
			}
		}
	}
}

// satColour separates coloured references, matched by hue, from greys,
// matched by low saturation. hueTol is the hue tolerance in degrees: the
// catalogue's colours are at least 20° apart, and shading keeps hue.
// tinted is the saturation from which a grey reference's tint is matched
// too.
const (
	tinted    = 0.05
	satColour = 0.3
	hueTol    = 11.0
)

func hsv(r8, g8, b8 uint8) (h, s, v float64) {
	r, g, b := float64(r8)/255, float64(g8)/255, float64(b8)/255
	mx, mn := math.Max(r, math.Max(g, b)), math.Min(r, math.Min(g, b))
	v = mx
	if mx == 0 {
		return 0, 0, 0
	}
	s = (mx - mn) / mx
	d := mx - mn
	switch {
	case d == 0:
		h = 0
	case mx == r:
		h = 60 * math.Mod((g-b)/d, 6)
	case mx == g:
		h = 60 * ((b-r)/d + 2)
	default:
		h = 60 * ((r-g)/d + 4)
	}
	if h < 0 {
		h += 360
	}
	return h, s, v
}

func hueDist(a, b float64) float64 {
	d := math.Abs(a - b)
	return math.Min(d, 360-d)
}

// blobs finds the blobs of the full mask (h×w) with at least minArea
// pixels and measures them: their lit parts, or with upright their
// silhouettes. The masks are modified.
func blobs(full, lit []byte, h, w int, minArea float64, upright bool) ([]features, error) {
	fm, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC1, full)
	if err != nil {
		return nil, fmt.Errorf("premise/cv: %w", err)
	}
	defer fm.Close()
	lm, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC1, lit)
	if err != nil {
		return nil, fmt.Errorf("premise/cv: %w", err)
	}
	defer lm.Close()
	// Close one-pixel seams (anti-aliased edges between faces, outline
	// strokes) so that one object is one blob.
	k := gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3))
	defer k.Close()
	gocv.MorphologyEx(fm, &fm, gocv.MorphClose, k)
	// The lit mask counts only inside the blob mask.
	gocv.BitwiseAnd(lm, fm, &lm)

	cs := gocv.FindContours(fm, gocv.RetrievalExternal, gocv.ChainApproxNone)
	defer cs.Close()
	var out []features
	for i := range cs.Size() {
		c := cs.At(i)
		a := gocv.ContourArea(c)
		if a < minArea {
			continue
		}
		f := features{box: gocv.BoundingRect(c), area: a}
		if p := gocv.ArcLength(c, true); p > 0 {
			f.circ = 4 * math.Pi * a / (p * p)
		}
		f.aspect = float64(f.box.Dy()) / float64(max(1, f.box.Dx()))
		if upright {
			measureSilhouette(&f, c, h)
		} else if err := measureLit(&f, lm); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// measureLit fills the lit-region features of blob f from the lit mask.
func measureLit(f *features, lm gocv.Mat) error {
	roi := lm.Region(f.box)
	defer roi.Close()
	crop := roi.Clone()
	defer crop.Close()
	hier := gocv.NewMat()
	defer hier.Close()
	cs := gocv.FindContoursWithParams(crop, &hier, gocv.RetrievalCComp, gocv.ChainApproxNone)
	defer cs.Close()
	litArea := float64(gocv.CountNonZero(crop))
	f.litFrac = litArea / f.area
	// The largest outer lit outline is the lit face (or rim).
	best, bestArea := -1, 0.0
	for i := range cs.Size() {
		if parent := hier.GetVeciAt(0, i)[3]; parent >= 0 {
			continue
		}
		if a := gocv.ContourArea(cs.At(i)); a > bestArea {
			best, bestArea = i, a
		}
	}
	if best < 0 || bestArea < 3 {
		return nil
	}
	c := cs.At(best)
	// Hole: what the outline encloses that is not lit. Counted from the
	// outline's own filled area against the lit pixels inside it.
	inside := gocv.NewMatWithSize(crop.Rows(), crop.Cols(), gocv.MatTypeCV8UC1)
	defer inside.Close()
	one := gocv.NewPointsVector()
	defer one.Close()
	one.Append(c)
	gocv.DrawContours(&inside, one, 0, white, -1)
	filled := float64(gocv.CountNonZero(inside))
	gocv.BitwiseAnd(inside, crop, &inside)
	if filled > 0 {
		f.hole = 1 - float64(gocv.CountNonZero(inside))/filled
	}
	pts := c.ToPoints()
	r := gocv.BoundingRect(c)
	f.litAspect = float64(r.Dy()) / float64(max(1, r.Dx()))
	f.litTop = (float64(r.Min.Y+r.Max.Y)/2 + 0.5) / float64(max(1, f.box.Dy()))
	f.litRes = ellipseResidual(pts)
	return nil
}

// ellipseResidual fits the points' covariance ellipse and returns the
// coefficient of variation of their Mahalanobis radii: near 0 when the
// outline is an ellipse, larger for polygons (corners stick out).
func ellipseResidual(pts []image.Point) float64 {
	n := float64(len(pts))
	if n < 6 {
		return 1
	}
	var mx, my float64
	for _, p := range pts {
		mx += float64(p.X)
		my += float64(p.Y)
	}
	mx, my = mx/n, my/n
	var sxx, syy, sxy float64
	for _, p := range pts {
		dx, dy := float64(p.X)-mx, float64(p.Y)-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	sxx, syy, sxy = sxx/n, syy/n, sxy/n
	det := sxx*syy - sxy*sxy
	if det <= 1e-9 {
		return 1
	}
	var sum, sum2 float64
	for _, p := range pts {
		dx, dy := float64(p.X)-mx, float64(p.Y)-my
		r := math.Sqrt((syy*dx*dx - 2*sxy*dx*dy + sxx*dy*dy) / det)
		sum += r
		sum2 += r * r
	}
	mean := sum / n
	return math.Sqrt(math.Max(0, sum2/n-mean*mean)) / mean
}

// saturated reports whether ref is matched by hue (not a grey).
func saturated(ref [3]uint8) bool {
	_, s, _ := hsv(ref[0], ref[1], ref[2])
	return s >= satColour
}

// measureSilhouette fills the floor classes' features of blob f, whose
// outline is c, in an image h rows high.
func measureSilhouette(f *features, c gocv.PointVector, h int) {
	f.upright = true
	bw, bh := f.box.Dx(), f.box.Dy()
	f.extent = f.area / float64(max(1, bw*bh))
	// Row widths of the filled outline: the leftmost and rightmost outline
	// point on each row.
	lo, hi := make([]int, bh), make([]int, bh)
	for i := range lo {
		lo[i], hi[i] = bw, -1
	}
	for _, p := range c.ToPoints() {
		y, x := p.Y-f.box.Min.Y, p.X-f.box.Min.X
		if y >= 0 && y < bh {
			lo[y], hi[y] = min(lo[y], x), max(hi[y], x)
		}
	}
	width := func(a, b int) float64 {
		var s float64
		n := 0
		for y := a; y < b; y++ {
			if hi[y] >= lo[y] {
				s += float64(hi[y] - lo[y] + 1)
				n++
			}
		}
		if n == 0 {
			return 0
		}
		return s / float64(n)
	}
	third := max(1, bh/3)
	if bottom := width(bh-third, bh); bottom > 0 {
		f.taper = width(0, third) / bottom
	}
	horizon := float64(h-1) / 2
	f.above = (horizon - float64(f.box.Min.Y)) / float64(max(1, bh))
}
