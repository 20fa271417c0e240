package api

import (
	"fmt"
	"math"
	"strings"

	"github.com/efferent/efferent"
)

// ObsSpec says which keys an observation must have (from the model's
// manifest).
type ObsSpec struct {
	// ImageKeys name the cameras, e.g. "observation/image".
	ImageKeys []string
	// StateKey names the state vector of StateDim values.
	StateKey string
	StateDim int
	// PromptKey names the instruction; PromptRequired makes an absent or
	// empty one an error; MaxPromptBytes bounds it (0: 1024).
	PromptKey      string
	PromptRequired bool
	MaxPromptBytes int
	// DecodeImage decodes a compressed (PNG or JPEG) camera frame into RGB
	// HWC uint8, refusing one whose header says a side exceeds maxSide.
	// Called only after DecodeCompressedImage has checked the header.
	// Default: Go's image/png and image/jpeg (DecodeStdImage); the server
	// sets OpenCV's (camera/cv.DecodeImage: libjpeg-turbo, several times
	// faster), keeping cgo out of this package.
	DecodeImage func(data []byte, maxSide int) (efferent.Image, error)
	// GuideDim is the model's action dim when it reads a guide (real-time
	// chunking: GuideKey, GuideDelayKey); 0 ignores those keys on decode
	// and leaves them out on encode.
	GuideDim int
}

// SeqKey is the optional request key a client numbers its requests with
// (an integer ≥ 0); the reply echoes it, so a client can tell which request
// a reply answers. openpi clients do not send it.
const SeqKey = "seq"

// RequestInfo is what a request carries besides the observation.
type RequestInfo struct {
	// Seq is the client's SeqKey value; HasSeq says whether it sent one.
	Seq    int64
	HasSeq bool
}

// DecodeObservation parses a request frame into an Observation. Images that
// arrive as uint8 HWC alias frame (no copy); float images (values in [0, 1],
// scaled by 255 as openpi does) and CHW layouts are converted into new
// buffers. Keys the spec does not name are ignored.
func DecodeObservation(frame []byte, spec ObsSpec, lim Limits) (efferent.Observation, error) {
	obs, _, err := DecodeRequest(frame, spec, lim)
	return obs, err
}

// DecodeRequest is DecodeObservation that also reads the optional SeqKey.
func DecodeRequest(frame []byte, spec ObsSpec, lim Limits) (efferent.Observation, RequestInfo, error) {
	lim = lim.orDefaults()
	var obs efferent.Observation
	var info RequestInfo
	v, err := Decode(frame, lim)
	if err != nil {
		return obs, info, err
	}
	if v.Kind != Map {
		return obs, info, fmt.Errorf("%w: observation is %v, want a map", ErrMalformed, v.Kind)
	}
	if sv, ok := v.Get(SeqKey); ok {
		if sv.Kind != Int || sv.Int < 0 {
			return obs, info, fmt.Errorf("%s: %w: is %v, want an integer ≥ 0", SeqKey, ErrMalformed, sv.Kind)
		}
		info.Seq, info.HasSeq = sv.Int, true
	}
	obs, err = observation(&v, spec, lim)
	return obs, info, err
}

func observation(v *Value, spec ObsSpec, lim Limits) (efferent.Observation, error) {
	var obs efferent.Observation
	var err error
	obs.Images = make(map[string]efferent.Image, len(spec.ImageKeys))
	for _, key := range spec.ImageKeys {
		iv, ok := v.Get(key)
		if !ok {
			return obs, fmt.Errorf("%w: %s (an image)", ErrMissingKey, key)
		}
		im, err := image(iv, spec, lim)
		if err != nil {
			return obs, fmt.Errorf("%s: %w", key, err)
		}
		obs.Images[key] = im
	}
	sv, ok := v.Get(spec.StateKey)
	if !ok {
		return obs, fmt.Errorf("%w: %s (the state vector)", ErrMissingKey, spec.StateKey)
	}
	if obs.State, err = state(sv, spec.StateDim); err != nil {
		return obs, fmt.Errorf("%s: %w", spec.StateKey, err)
	}
	if pv, ok := v.Get(spec.PromptKey); ok && pv.Kind != Nil {
		if pv.Kind != Str {
			return obs, fmt.Errorf("%s: %w: is %v, want str", spec.PromptKey, ErrMalformed, pv.Kind)
		}
		obs.Prompt = pv.Str
	}
	if err := guide(v, spec.GuideDim, &obs.Guide); err != nil {
		return obs, err
	}
	return obs, checkPrompt(spec.PromptKey, obs.Prompt, spec)
}

// checkPrompt applies spec's prompt rules to prompt, which arrived under
// key: at most MaxPromptBytes (0: 1024), and not blank if PromptRequired.
func checkPrompt(key, prompt string, spec ObsSpec) error {
	maxPrompt := spec.MaxPromptBytes
	if maxPrompt <= 0 {
		maxPrompt = 1024
	}
	if len(prompt) > maxPrompt {
		return fmt.Errorf("%s: %w: %d bytes, limit %d", key, ErrTooLarge, len(prompt), maxPrompt)
	}
	if spec.PromptRequired && strings.TrimSpace(prompt) == "" {
		return fmt.Errorf("%w: %s (the instruction is required)", ErrMissingKey, key)
	}
	return nil
}

func image(v *Value, spec ObsSpec, lim Limits) (efferent.Image, error) {
	if v.Kind == Bin {
		// A compressed camera frame (PNG or JPEG bytes): a fraction of the
		// bandwidth of raw arrays when several cameras stream.
		return DecodeCompressedImage(v.Bin, spec.DecodeImage, lim)
	}
	if v.Kind != Array {
		return efferent.Image{}, fmt.Errorf("%w: is %v, want an ndarray, or PNG/JPEG bytes", ErrMalformed, v.Kind)
	}
	a := v.Array
	if len(a.Shape) != 3 {
		return efferent.Image{}, fmt.Errorf("%w: shape %v, want (H, W, 3) or (3, H, W)", ErrBadShape, a.Shape)
	}
	chw := a.Shape[2] != 3 && a.Shape[0] == 3
	h, w, c := a.Shape[0], a.Shape[1], a.Shape[2]
	if chw {
		h, w, c = a.Shape[1], a.Shape[2], a.Shape[0]
	}
	if c != 3 {
		return efferent.Image{}, fmt.Errorf("%w: shape %v has %d channels, want 3 (RGB)", ErrBadShape, a.Shape, c)
	}
	if h == 0 || w == 0 || h > lim.MaxImageSide || w > lim.MaxImageSide {
		return efferent.Image{}, fmt.Errorf("%w: %dx%d image, each side must be 1..%d", ErrBadShape, h, w, lim.MaxImageSide)
	}
	isU8 := a.DType.Kind == 'u' && a.DType.Size == 1
	if !isU8 && a.DType.Kind != 'f' {
		return efferent.Image{}, fmt.Errorf("%w: image dtype %s, want uint8, or float in [0, 1]", ErrBadDType, a.DType)
	}
	if isU8 && !chw {
		return efferent.Image{H: h, W: w, C: 3, Pix: a.Data}, nil
	}
	pix := make([]byte, h*w*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < 3; ch++ {
				src := (y*w+x)*3 + ch
				if chw {
					src = (ch*h+y)*w + x
				}
				f := a.Float64(src)
				if !isU8 {
					if math.IsNaN(f) {
						return efferent.Image{}, fmt.Errorf("%w: pixel (%d, %d, %d) is NaN", ErrNotFinite, y, x, ch)
					}
					f = math.Round(f * 255)
				}
				pix[(y*w+x)*3+ch] = byte(min(255, max(0, f)))
			}
		}
	}
	return efferent.Image{H: h, W: w, C: 3, Pix: pix}, nil
}

func state(v *Value, dim int) ([]float64, error) {
	var out []float64
	switch v.Kind {
	case Array:
		a := v.Array
		if len(a.Shape) != 1 || a.Shape[0] != dim {
			return nil, fmt.Errorf("%w: shape %v, want [%d]", ErrBadShape, a.Shape, dim)
		}
		if a.DType.Kind == 'b' {
			return nil, fmt.Errorf("%w: %s, want a number type", ErrBadDType, a.DType)
		}
		out = make([]float64, dim)
		for i := range out {
			out[i] = a.Float64(i)
		}
	case List:
		if len(v.List) != dim {
			return nil, fmt.Errorf("%w: %d values, want %d", ErrBadShape, len(v.List), dim)
		}
		out = make([]float64, dim)
		for i := range v.List {
			f, ok := v.List[i].Number()
			if !ok {
				return nil, fmt.Errorf("%w: element %d is %v, want a number", ErrMalformed, i, v.List[i].Kind)
			}
			out[i] = f
		}
	default:
		return nil, fmt.Errorf("%w: is %v, want an ndarray", ErrMalformed, v.Kind)
	}
	for i, f := range out {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: element %d is %v", ErrNotFinite, i, f)
		}
	}
	return out, nil
}

// EncodeObservation appends an observation as openpi's LIBERO client sends
// it: uint8 HWC images, float64 state, str prompt (omitted when empty);
// and the guide when spec.GuideDim is set and obs has one of that width.
func EncodeObservation(b []byte, obs *efferent.Observation, spec ObsSpec) []byte {
	n := len(spec.ImageKeys) + 1
	if obs.Prompt != "" {
		n++
	}
	guided := sendsGuide(obs, spec)
	if guided {
		n += 2
	}
	b = appendMapLen(b, n)
	for _, k := range spec.ImageKeys {
		im := obs.Images[k]
		b = AppendUint8Array(appendStr(b, k), []int{im.H, im.W, im.C}, im.Pix)
	}
	b = AppendFloat64Array(appendStr(b, spec.StateKey), []int{len(obs.State)}, obs.State)
	if obs.Prompt != "" {
		b = appendStr(appendStr(b, spec.PromptKey), obs.Prompt)
	}
	if guided {
		b = appendGuide(b, &obs.Guide)
	}
	return b
}
