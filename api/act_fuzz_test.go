package api

import (
	"bytes"
	"encoding/base64"
	stdimage "image"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
)

func encodedPNG(w, h int) []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, stdimage.NewRGBA(stdimage.Rect(0, 0, w, h)))
	return buf.Bytes()
}

// FuzzDecodeActRequest: whatever the body, DecodeActRequest either refuses
// it or returns a complete observation with valid images and finite state.
func FuzzDecodeActRequest(f *testing.F) {
	img := base64.StdEncoding.EncodeToString(encodedPNG(3, 2))
	f.Add([]byte(`{"image": "` + img + `", "wrist_image": "` + img + `", "state": [0,1,2,3,4,5,6,7], "instruction": "go"}`))
	f.Add([]byte(`{"image": {"__numpy__": "AAAAAAAAAAAAAAAA", "dtype": "|u1", "shape": [2, 2, 3]}, "wrist_image": "data:image/png;base64,` + img + `", "state": {"__numpy__": "` +
		base64.StdEncoding.EncodeToString(make([]byte, 64)) + `", "dtype": "<f8", "shape": [8]}, "prompt": "x", "chunk": true}`))
	f.Add([]byte(`{"encoded": "{\"instruction\": \"a\"}"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeActRequest(body, liberoSpec(), Limits{MaxImageSide: 512})
		if err != nil {
			return
		}
		if len(req.Obs.State) != 8 || req.Obs.Prompt == "" || len(req.Obs.Images) != 2 {
			t.Fatalf("accepted an incomplete observation: %+v", req.Obs)
		}
		for _, v := range req.Obs.State {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted a non-finite state %v", req.Obs.State)
			}
		}
		for k, im := range req.Obs.Images {
			if err := im.Validate(); err != nil || im.C != 3 || im.H > 512 || im.W > 512 {
				t.Fatalf("%s: accepted a bad image %dx%dx%d: %v", k, im.H, im.W, im.C, err)
			}
		}
	})
}

// FuzzDecodeCompressedImage: PNG/JPEG bytes decode to a valid RGB image
// within the size limit, or are refused; never a panic or a huge buffer.
func FuzzDecodeCompressedImage(f *testing.F) {
	f.Add(encodedPNG(4, 3))
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, stdimage.NewRGBA(stdimage.Rect(0, 0, 8, 8)), nil)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := DecodeCompressedImage(data, nil, Limits{MaxImageSide: 256})
		if err != nil {
			return
		}
		if err := im.Validate(); err != nil || im.C != 3 || im.H > 256 || im.W > 256 {
			t.Fatalf("accepted a bad image %dx%dx%d: %v", im.H, im.W, im.C, err)
		}
	})
}
