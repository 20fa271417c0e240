package api

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	stdimage "image"
	"image/draw"
	_ "image/jpeg" // registers the JPEG decoder for image.Decode
	_ "image/png"  // registers the PNG decoder for image.Decode
	"math"
	"strconv"
	"strings"

	"github.com/efferent/efferent"
)

// ActRequest is a decoded POST /act body: OpenVLA's REST protocol
// ({"image": …, "instruction": …, "unnorm_key": …}, optionally wrapped as
// {"encoded": "<that JSON as a string>"}), extended with what a model with
// several cameras and a state needs.
//
// Keys: "instruction" (or the model's prompt key); "image" (the first
// camera) and "wrist_image" (the second), or the model's own image keys;
// "state" (or the model's state key): a JSON list of numbers or a
// json_numpy array; "unnorm_key" (optional); "chunk": true to get the
// whole chunk instead of its first action. An image is a json_numpy array
// ({"__numpy__": base64, "dtype": "|u1", "shape": [H, W, 3]}), or a base64
// PNG or JPEG (optionally a data: URL). Other keys are ignored.
type ActRequest struct {
	Obs       efferent.Observation
	UnnormKey string
	Chunk     bool
}

// Act image aliases: OpenVLA's single "image", and a wrist camera.
var actImageAliases = []string{"image", "wrist_image"}

// DecodeActRequest parses a POST /act body. The body's size is bounded by
// the caller; decoded images are bounded by lim.MaxImageSide before any
// pixel is decompressed.
func DecodeActRequest(body []byte, spec ObsSpec, lim Limits) (ActRequest, error) {
	lim = lim.orDefaults()
	var req ActRequest
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return req, fmt.Errorf("%w: body is not a JSON object: %v", ErrMalformed, err)
	}
	if enc, ok := top["encoded"]; ok {
		// OpenVLA's client may send the payload JSON-encoded in a string.
		var inner string
		if err := json.Unmarshal(enc, &inner); err != nil {
			return req, fmt.Errorf("encoded: %w: want a string holding the JSON payload", ErrMalformed)
		}
		top = nil
		if err := json.Unmarshal([]byte(inner), &top); err != nil {
			return req, fmt.Errorf("encoded: %w: not a JSON object: %v", ErrMalformed, err)
		}
	}
	str := func(key string) (string, bool, error) {
		raw, ok := top[key]
		if !ok || string(raw) == "null" {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", true, fmt.Errorf("%s: %w: want a string", key, ErrMalformed)
		}
		return s, true, nil
	}

	req.Obs.Images = make(map[string]efferent.Image, len(spec.ImageKeys))
	for i, key := range spec.ImageKeys {
		raw, ok := top[key]
		name := key
		if !ok && i < len(actImageAliases) {
			name = actImageAliases[i]
			raw, ok = top[name]
		}
		if !ok {
			want := key
			if i < len(actImageAliases) {
				want = fmt.Sprintf("%q (or %q)", actImageAliases[i], key)
			}
			return req, fmt.Errorf("%w: %s, an image", ErrMissingKey, want)
		}
		im, err := actImage(raw, spec, lim)
		if err != nil {
			return req, fmt.Errorf("%s: %w", name, err)
		}
		req.Obs.Images[key] = im
	}

	stateKey := spec.StateKey
	raw, ok := top[stateKey]
	if !ok {
		stateKey = "state"
		raw, ok = top[stateKey]
	}
	if spec.StateDim > 0 {
		if !ok {
			return req, fmt.Errorf("%w: \"state\" (or %q), %d numbers", ErrMissingKey, spec.StateKey, spec.StateDim)
		}
		v, err := actArray(raw, lim)
		if err != nil {
			return req, fmt.Errorf("%s: %w", stateKey, err)
		}
		if req.Obs.State, err = state(&v, spec.StateDim); err != nil {
			return req, fmt.Errorf("%s: %w", stateKey, err)
		}
	}

	promptKey := "instruction"
	prompt, ok, err := str(promptKey)
	if err == nil && !ok && spec.PromptKey != "" {
		promptKey = spec.PromptKey
		prompt, _, err = str(promptKey)
	}
	if err != nil {
		return req, err
	}
	if err := checkPrompt(promptKey, prompt, spec); err != nil {
		return req, err
	}
	req.Obs.Prompt = prompt

	if req.UnnormKey, _, err = str("unnorm_key"); err != nil {
		return req, err
	}
	if raw, ok := top["chunk"]; ok {
		if err := json.Unmarshal(raw, &req.Chunk); err != nil {
			return req, fmt.Errorf("chunk: %w: want true or false", ErrMalformed)
		}
	}
	return req, nil
}

// jsonNumpy is json_numpy's encoding of an ndarray.
type jsonNumpy struct {
	Data  *string `json:"__numpy__"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// actArray reads a json_numpy array or a JSON list of numbers as a Value.
func actArray(raw json.RawMessage, lim Limits) (Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var xs []float64
		if err := json.Unmarshal(raw, &xs); err != nil {
			return Value{}, fmt.Errorf("%w: want a list of numbers: %v", ErrMalformed, err)
		}
		if len(xs) > lim.MaxEntries {
			return Value{}, fmt.Errorf("%w: %d numbers (limit %d)", ErrTooLarge, len(xs), lim.MaxEntries)
		}
		v := Value{Kind: List, List: make([]Value, len(xs))}
		for i, x := range xs {
			v.List[i] = Value{Kind: Float, Float: x}
		}
		return v, nil
	}
	var jn jsonNumpy
	if err := json.Unmarshal(raw, &jn); err != nil || jn.Data == nil {
		return Value{}, fmt.Errorf("%w: want a json_numpy array {\"__numpy__\": base64, \"dtype\", \"shape\"} or a list", ErrMalformed)
	}
	data, err := base64.StdEncoding.DecodeString(*jn.Data)
	if err != nil {
		return Value{}, fmt.Errorf("%w: __numpy__ is not base64: %v", ErrMalformed, err)
	}
	return newArray(jn.DType, jn.Shape, data, lim)
}

// actImage reads an image: json_numpy, or a base64 PNG/JPEG string.
func actImage(raw json.RawMessage, spec ObsSpec, lim Limits) (efferent.Image, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		v, err := actArray(raw, lim)
		if err != nil {
			return efferent.Image{}, err
		}
		return image(&v, spec, lim)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return efferent.Image{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if strings.HasPrefix(s, "data:") {
		_, after, ok := strings.Cut(s, ";base64,")
		if !ok {
			return efferent.Image{}, fmt.Errorf("%w: a data: URL must be base64", ErrMalformed)
		}
		s = after
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return efferent.Image{}, fmt.Errorf("%w: an image string must be a base64 PNG or JPEG: %v", ErrMalformed, err)
	}
	return DecodeCompressedImage(data, spec.DecodeImage, lim)
}

// DecodeCompressedImage decodes a PNG or JPEG into RGB HWC uint8 with
// decode (nil: DecodeStdImage). Its size is read from the header and
// checked against lim.MaxImageSide before any pixel is decompressed, so a
// small file cannot expand into a huge image.
func DecodeCompressedImage(data []byte, decode func([]byte, int) (efferent.Image, error), lim Limits) (efferent.Image, error) {
	lim = lim.orDefaults()
	if err := CheckCompressedImage(data, lim.MaxImageSide); err != nil {
		return efferent.Image{}, err
	}
	if decode == nil {
		decode = DecodeStdImage
	}
	return decode(data, lim.MaxImageSide)
}

// CheckCompressedImage reads a PNG or JPEG header and refuses an image
// with a side outside 1..maxSide, or data that is neither format.
func CheckCompressedImage(data []byte, maxSide int) error {
	_, _, err := CompressedImageSize(data, maxSide)
	return err
}

// CompressedImageSize reads a PNG or JPEG header and returns the image's
// height and width, refusing as CheckCompressedImage does; nothing is
// decompressed.
func CompressedImageSize(data []byte, maxSide int) (h, w int, err error) {
	cfg, format, err := stdimage.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: not a PNG or JPEG image: %v", ErrMalformed, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxSide || cfg.Height > maxSide {
		return 0, 0, fmt.Errorf("%w: %dx%d %s image, each side must be 1..%d", ErrBadShape, cfg.Height, cfg.Width, format, maxSide)
	}
	return cfg.Height, cfg.Width, nil
}

// DecodeStdImage decodes a PNG or JPEG with Go's standard library into RGB
// HWC uint8 (the header is checked against maxSide first).
func DecodeStdImage(data []byte, maxSide int) (efferent.Image, error) {
	if err := CheckCompressedImage(data, maxSide); err != nil {
		return efferent.Image{}, err
	}
	img, format, err := stdimage.Decode(bytes.NewReader(data))
	if err != nil {
		return efferent.Image{}, fmt.Errorf("%w: %s image: %v", ErrMalformed, format, err)
	}
	b := img.Bounds()
	rgba, ok := img.(*stdimage.RGBA)
	if !ok || rgba.Stride != 4*b.Dx() {
		rgba = stdimage.NewRGBA(stdimage.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	}
	h, w := b.Dy(), b.Dx()
	pix := make([]byte, h*w*3)
	for i := 0; i < h*w; i++ {
		copy(pix[3*i:3*i+3], rgba.Pix[4*i:4*i+3])
	}
	return efferent.Image{H: h, W: w, C: 3, Pix: pix}, nil
}

// AppendJSONNumpy appends a float64 array in json_numpy's encoding, which
// OpenVLA's clients decode into a numpy array.
func AppendJSONNumpy(b []byte, shape []int, data []float64) []byte {
	raw := make([]byte, 8*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(f))
	}
	b = append(b, `{"__numpy__": "`...)
	b = base64.StdEncoding.AppendEncode(b, raw)
	b = append(b, `", "dtype": "<f8", "shape": [`...)
	for i, s := range shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(s), 10)
	}
	return append(b, "]}"...)
}
