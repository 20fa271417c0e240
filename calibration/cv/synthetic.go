package cv

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent/calibration"
)

// Scene renders grayscale views of a chessboard, seen by a camera with
// known intrinsics (distortion included) from known poses, with blur and
// pixel noise: ground truth for testing calibration. The board is drawn at
// 4 px/mm, pre-blurred against aliasing, warped by the exact homography
// K·[r1 r2 t], then distorted by remapping through the inverse of the
// plumb-bob model.
type Scene struct {
	Camera calibration.Intrinsics
	Board  calibration.Board
	// Noise is the standard deviation of the Gaussian pixel noise (grey
	// levels); Blur the sigma of a Gaussian blur before it (pixels).
	Noise, Blur float64

	texture    gocv.Mat
	ppm        float64 // texture pixels per metre
	margin     float64 // metres of texture around the squares' origin
	mapX, mapY gocv.Mat
}

// NewScene prepares the board texture and the distortion maps.
func NewScene(cam calibration.Intrinsics, b calibration.Board, noise, blur float64) (*Scene, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	s := &Scene{Camera: cam, Board: b, Noise: noise, Blur: blur, ppm: 4000, margin: 2 * b.Square}
	tw := int(math.Ceil((float64(b.Cols+1)*b.Square + 2*s.margin) * s.ppm))
	th := int(math.Ceil((float64(b.Rows+1)*b.Square + 2*s.margin) * s.ppm))
	if tw*th > 64<<20 {
		return nil, fmt.Errorf("calibration: board texture %dx%d too large", tw, th)
	}
	pix := make([]byte, tw*th)
	for v := range th {
		y := (float64(v)+0.5)/s.ppm - s.margin
		for u := range tw {
			x := (float64(u)+0.5)/s.ppm - s.margin
			pix[v*tw+u] = 255
			if x >= -b.Square && x < float64(b.Cols)*b.Square && y >= -b.Square && y < float64(b.Rows)*b.Square {
				i, j := int(math.Floor(x/b.Square))+1, int(math.Floor(y/b.Square))+1
				if (i+j)%2 == 0 {
					pix[v*tw+u] = 0
				}
			}
		}
	}
	tex, err := gocv.NewMatFromBytes(th, tw, gocv.MatTypeCV8UC1, pix)
	if err != nil {
		return nil, err
	}
	s.texture = tex.Clone() // own the pixels
	tex.Close()
	gocv.GaussianBlur(s.texture, &s.texture, image.Pt(0, 0), 1.5, 1.5, gocv.BorderReflect)
	// Distortion maps: for each distorted pixel, where it is in the ideal
	// (undistorted) view.
	w, h := cam.Width, cam.Height
	s.mapX, s.mapY = gocv.NewMatWithSize(h, w, gocv.MatTypeCV32F), gocv.NewMatWithSize(h, w, gocv.MatTypeCV32F)
	for v := range h {
		for u := range w {
			x, y := cam.Undistort((float64(u)-cam.Cx)/cam.Fx, (float64(v)-cam.Cy)/cam.Fy)
			s.mapX.SetFloatAt(v, u, float32(cam.Fx*x+cam.Cx))
			s.mapY.SetFloatAt(v, u, float32(cam.Fy*y+cam.Cy))
		}
	}
	return s, nil
}

// Close frees the scene's matrices.
func (s *Scene) Close() {
	s.texture.Close()
	s.mapX.Close()
	s.mapY.Close()
}

// Visible reports whether every inner corner, and a square's margin
// around them, is in front of the camera and inside the image.
func (s *Scene) Visible(camFromBoard calibration.Pose) bool {
	b := s.Board
	for _, c := range [][3]float64{{-b.Square, -b.Square, 0}, {float64(b.Cols) * b.Square, -b.Square, 0},
		{-b.Square, float64(b.Rows) * b.Square, 0}, {float64(b.Cols) * b.Square, float64(b.Rows) * b.Square, 0}} {
		p := camFromBoard.Apply(c)
		if p[2] < 0.05 {
			return false
		}
		u, v := s.Camera.Project(p)
		if u < 10 || v < 10 || u > float64(s.Camera.Width-10) || v > float64(s.Camera.Height-10) {
			return false
		}
	}
	return true
}

// Render draws the view from camFromBoard (camera ← board). The caller
// closes the returned Mat.
func (s *Scene) Render(camFromBoard calibration.Pose, rng *rand.Rand) (gocv.Mat, error) {
	cam := s.Camera
	R, t := camFromBoard.R, camFromBoard.T
	// texture pixel → board (x, y, 1) → camera ideal pixel.
	S := [3][3]float64{{1 / s.ppm, 0, 0.5/s.ppm - s.margin}, {0, 1 / s.ppm, 0.5/s.ppm - s.margin}, {0, 0, 1}}
	P := [3][3]float64{{R[0][0], R[0][1], t[0]}, {R[1][0], R[1][1], t[1]}, {R[2][0], R[2][1], t[2]}}
	K := [3][3]float64{{cam.Fx, 0, cam.Cx}, {0, cam.Fy, cam.Cy}, {0, 0, 1}}
	H := mul3(K, mul3(P, S))
	hm := gocv.NewMatWithSize(3, 3, gocv.MatTypeCV64F)
	defer hm.Close()
	for r := range 3 {
		for c := range 3 {
			hm.SetDoubleAt(r, c, H[r][c])
		}
	}
	ideal := gocv.NewMat()
	defer ideal.Close()
	grey := color.RGBA{128, 128, 128, 0}
	gocv.WarpPerspectiveWithParams(s.texture, &ideal, hm, image.Pt(cam.Width, cam.Height), gocv.InterpolationLinear, gocv.BorderConstant, grey)
	out := gocv.NewMat()
	gocv.Remap(ideal, &out, &s.mapX, &s.mapY, gocv.InterpolationLinear, gocv.BorderConstant, grey)
	if s.Blur > 0 {
		gocv.GaussianBlur(out, &out, image.Pt(0, 0), s.Blur, s.Blur, gocv.BorderReflect)
	}
	if s.Noise > 0 {
		pix, err := out.DataPtrUint8()
		if err != nil {
			out.Close()
			return gocv.Mat{}, err
		}
		for i, p := range pix {
			pix[i] = uint8(math.Max(0, math.Min(255, math.Round(float64(p)+rng.NormFloat64()*s.Noise))))
		}
	}
	return out, nil
}

func mul3(a, b [3][3]float64) [3][3]float64 {
	var c [3][3]float64
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}
