package bench

import (
	"errors"
	"runtime"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/calibration"
	"github.com/efferent/efferent/camera"
)

// Preprocessor applies a camera.Spec to frames (camera/cv.Preprocessor).
type Preprocessor interface {
	// Apply brings src to the spec, into dst (reusing its pixels).
	Apply(src efferent.Image, dst *efferent.Image) error
	// SetUndistort makes Apply undistort with the lens in.
	SetUndistort(in calibration.Intrinsics) error
	// Close frees it.
	Close()
}

// PreprocessConf configures Preprocess. Zero values mean the documented
// default.
type PreprocessConf struct {
	// N is how many frames each case preprocesses. Default 2000.
	N int
	// New makes a preprocessor for a spec (required: camera/cv.New, as
	// Preprocessors(cv.New)).
	New func(camera.Spec) (Preprocessor, error)
}

// Preprocessors adapts a constructor of a concrete preprocessor
// (camera/cv.New) to PreprocessConf.New.
func Preprocessors[P Preprocessor](newP func(camera.Spec) (P, error)) func(camera.Spec) (Preprocessor, error) {
	return func(s camera.Spec) (Preprocessor, error) {
		p, err := newP(s)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// Preprocess measures camera preprocessing on one core, as a camera
// goroutine gets (GOMAXPROCS is 1 while it runs): a 640x480 frame to the
// model's 224x224 with a plain resize with pad, and with undistortion,
// a centre crop, the resize and BGR in one remap.
func Preprocess(c PreprocessConf) (Report, error) {
	rep := Report{Name: "preprocess", Targets: []string{"preprocessing < 1 ms per frame"}}
	if c.New == nil {
		return rep, errors.New("bench: PreprocessConf.New: required")
	}
	if c.N == 0 {
		c.N = 2000
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	src := efferent.Image{H: 480, W: 640, C: 3, Pix: make([]byte, 480*640*3)}
	for i := range src.Pix {
		src.Pix[i] = byte(i*7 + i/1920)
	}
	for _, tc := range []struct {
		name string
		spec camera.Spec
		und  bool
	}{
		{"640x480 → 224x224 resize with pad", camera.Spec{Height: 224, Width: 224}, false},
		{"640x480 → 224x224 undistort, 0.9 crop, resize with pad, BGR", camera.Spec{Height: 224, Width: 224, CenterCrop: 0.9, Color: "bgr"}, true},
	} {
		p, err := c.New(tc.spec)
		if err != nil {
			return rep, err
		}
		if tc.und {
			lab := calibration.Intrinsics{Width: 640, Height: 480, Fx: 600, Fy: 600, Cx: 320, Cy: 240, D: [5]float64{-0.2, 0.05}}
			if err := p.SetUndistort(lab); err != nil {
				p.Close()
				return rep, err
			}
		}
		var dst efferent.Image
		_ = p.Apply(src, &dst)
		lat, allocs, err := timeN(c.N, func() error { return p.Apply(src, &dst) })
		p.Close()
		if err != nil {
			return rep, err
		}
		r := durationRow(tc.name, lat)
		r.Allocs, r.Verdict = allocs, meets(r.P50 < 1000, "< 1 ms")
		rep.Rows = append(rep.Rows, r)
	}
	return rep, nil
}
