package eval

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// canvas is the handful of drawing primitives the two charts need: filled
// rectangles, thick lines, and text in the 7×13 bitmap font (horizontal and
// rotated a quarter turn). Nothing is anti-aliased: a chart of rates and a
// plot of action traces read fine without it.
type canvas struct{ *image.RGBA }

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{20, 20, 20, 255}
	axisGray  = color.RGBA{70, 70, 70, 255}
	gridGray  = color.RGBA{228, 228, 228, 255}
	labelGray = color.RGBA{90, 90, 90, 255}
	overallRd = color.RGBA{200, 30, 30, 255}
)

// palette is matplotlib's "tab10": ten colours that stay distinct for the
// colour-blind and in grey-scale print more than most.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

func paletteColor(i int) color.RGBA { return palette[i%len(palette)] }

var face = basicfont.Face7x13

// textH is the height of a line of text in pixels.
const textH = 13

func newCanvas(w, h int) canvas {
	c := canvas{image.NewRGBA(image.Rect(0, 0, w, h))}
	draw.Draw(c.RGBA, c.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	return c
}

func (c canvas) fill(r image.Rectangle, col color.RGBA) {
	draw.Draw(c.RGBA, r.Intersect(c.Bounds()), image.NewUniform(col), image.Point{}, draw.Src)
}

// dot sets a w×w square centred on (x, y).
func (c canvas) dot(x, y int, col color.RGBA, w int) {
	off := (w - 1) / 2
	for py := y - off; py < y-off+w; py++ {
		for px := x - off; px < x-off+w; px++ {
			if (image.Point{px, py}).In(c.Rect) {
				c.SetRGBA(px, py, col)
			}
		}
	}
}

// line draws from (x0, y0) to (x1, y1) with Bresenham's algorithm and a
// square pen w pixels wide.
func (c canvas) line(x0, y0, x1, y1 int, col color.RGBA, w int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	err := dx + dy
	for {
		c.dot(x0, y0, col, w)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

// dashedH draws a horizontal dashed line.
func (c canvas) dashedH(x0, x1, y int, col color.RGBA, w, dash int) {
	for x := x0; x <= x1; x++ {
		if (x-x0)/dash%2 == 0 {
			c.dot(x, y, col, w)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// printable replaces what the bitmap font cannot draw (it has ASCII only).
func printable(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// textW is the width of s in pixels.
func textW(s string) int { return len(printable(s)) * face.Advance }

// text draws s with its box's top-left corner at (x, y).
func (c canvas) text(x, y int, s string, col color.RGBA) {
	d := font.Drawer{Dst: c.RGBA, Src: image.NewUniform(col), Face: face, Dot: fixed.P(x, y+face.Ascent)}
	d.DrawString(printable(s))
}

// textCenter centres s horizontally on cx.
func (c canvas) textCenter(cx, y int, s string, col color.RGBA) { c.text(cx-textW(s)/2, y, s, col) }

// textRight ends s at x.
func (c canvas) textRight(x, y int, s string, col color.RGBA) { c.text(x-textW(s), y, s, col) }

// textUp draws s rotated a quarter turn anticlockwise (reading upwards),
// with its box's top-left corner at (x, y): the box is textH wide and
// textW(s) tall, and the text ends at the top.
func (c canvas) textUp(x, y int, s string, col color.RGBA) {
	w := textW(s)
	if w == 0 {
		return
	}
	tmp := canvas{image.NewRGBA(image.Rect(0, 0, w, textH))}
	tmp.text(0, 0, s, col)
	for ty := range textH {
		for tx := range w {
			if px := tmp.RGBAAt(tx, ty); px.A > 0 {
				if p := (image.Point{x + ty, y + w - 1 - tx}); p.In(c.Rect) {
					c.SetRGBA(p.X, p.Y, px)
				}
			}
		}
	}
}

// niceTicks returns about n evenly spaced round values (steps of 1, 2 or 5
// times a power of ten) covering [lo, hi], and the step.
func niceTicks(lo, hi float64, n int) ([]float64, float64) {
	if !(hi > lo) {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(max(n, 1))
	exp := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * exp
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*exp {
			step = m * exp
			break
		}
	}
	first := math.Ceil(lo/step - 1e-9)
	var ticks []float64
	for i := first; i*step <= hi+step*1e-9; i++ {
		ticks = append(ticks, i*step)
	}
	return ticks, step
}

// tickLabel formats v with as many decimals as step needs.
func tickLabel(v, step float64) string {
	dec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if math.Abs(v) < step*1e-6 {
		v = 0 // no "-0.0"
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}
