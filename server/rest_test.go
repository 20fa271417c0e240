package server

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera/cv"
)

// jsonNumpy encodes a uint8 image as json_numpy does.
func jsonNumpy(im efferent.Image) map[string]any {
	return map[string]any{"__numpy__": base64.StdEncoding.EncodeToString(im.Pix), "dtype": "|u1", "shape": []int{im.H, im.W, im.C}}
}

// compressed encodes an image as base64 PNG or JPEG.
func compressed(t *testing.T, im efferent.Image, format string) string {
	t.Helper()
	rgba := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
	for i := 0; i < im.H*im.W; i++ {
		copy(rgba.Pix[4*i:], im.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, rgba)
	} else {
		err = jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// postAct posts body to /act and returns the status, and the decoded
// json_numpy array (or the error message).
func postAct(t *testing.T, s *Server, body any, header http.Header) (int, []int, []float64, string) {
	t.Helper()
	var data []byte
	if b, ok := body.([]byte); ok {
		data = b
	} else {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr().String()+"/act", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
			t.Fatalf("status %d without a JSON error body (%v)", resp.StatusCode, err)
		}
		return resp.StatusCode, nil, nil, e.Error
	}
	var a struct {
		Data  string `json:"__numpy__"`
		DType string `json:"dtype"`
		Shape []int  `json:"shape"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(a.Data)
	if err != nil || a.DType != "<f8" {
		t.Fatalf("reply is not a <f8 json_numpy array: dtype %q, %v", a.DType, err)
	}
	out := make([]float64, len(raw)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return resp.StatusCode, a.Shape, out, ""
}

// POST /act with the bundled fixture through the real ONNX Runtime: the
// same observation as json_numpy arrays, as PNGs and (lossy) as JPEGs; the
// lossless forms reproduce PyTorch's golden action.
func TestActREST(t *testing.T) {
	pol, m, g := fixturePolicy(t)
	s := start(t, Conf{}, pol)
	gc := g.Cases[0]
	obs, err := gc.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	if err != nil {
		t.Fatal(err)
	}
	keys := pol.Metadata().ImageKeys
	want := gc.FlatActions()
	check := func(name string, shape []int, got []float64, n int, tol float64) {
		t.Helper()
		if len(got) != n || len(shape) == 0 || shape[len(shape)-1] != m.Action.Dim {
			t.Fatalf("%s: shape %v, %d values, want %d", name, shape, len(got), n)
		}
		for i := range got {
			if d := math.Abs(got[i] - want[i]); d > tol || math.IsNaN(got[i]) {
				t.Fatalf("%s: action[%d] = %v, PyTorch %v", name, i, got[i], want[i])
			}
		}
	}
	base := map[string]any{"instruction": obs.Prompt, "state": obs.State}

	openvla := map[string]any{"image": jsonNumpy(obs.Images[keys[0]]), "wrist_image": jsonNumpy(obs.Images[keys[1]])}
	for k, v := range base {
		openvla[k] = v
	}
	code, shape, got, msg := postAct(t, s, openvla, nil)
	if code != 200 {
		t.Fatalf("json_numpy: %d %s", code, msg)
	}
	check("json_numpy", shape, got, m.Action.Dim, g.Tolerance.ActionsAbs)

	// OpenVLA's client may double-encode; "chunk" returns the whole chunk.
	openvla["chunk"] = true
	inner, _ := json.Marshal(openvla)
	code, shape, got, msg = postAct(t, s, map[string]any{"encoded": string(inner)}, nil)
	if code != 200 || len(shape) != 2 || shape[0] != m.Action.Horizon {
		t.Fatalf("encoded chunk: %d %s shape %v", code, msg, shape)
	}
	check("chunk", shape, got, m.Action.Horizon*m.Action.Dim, g.Tolerance.ActionsAbs)

	// Manifest keys, PNG (lossless) and a data: URL.
	pngs := map[string]any{keys[0]: compressed(t, obs.Images[keys[0]], "png"),
		keys[1]: "data:image/png;base64," + compressed(t, obs.Images[keys[1]], "png"), "prompt": obs.Prompt, "observation/state": obs.State}
	code, shape, got, msg = postAct(t, s, pngs, nil)
	if code != 200 {
		t.Fatalf("png: %d %s", code, msg)
	}
	check("png", shape, got, m.Action.Dim, g.Tolerance.ActionsAbs)

	jpegs := map[string]any{"image": compressed(t, obs.Images[keys[0]], "jpeg"), "wrist_image": compressed(t, obs.Images[keys[1]], "jpeg")}
	for k, v := range base {
		jpegs[k] = v
	}
	code, _, got, msg = postAct(t, s, jpegs, nil)
	if code != 200 || len(got) != m.Action.Dim {
		t.Fatalf("jpeg: %d %s, %d values", code, msg, len(got))
	}
}

// Every bad /act request is an HTTP error with a JSON body naming what was
// wrong, never a 200.
func TestActErrors(t *testing.T) {
	g := newGate(fakeMeta())
	s := start(t, Conf{SkipWarmup: true, MaxFrameBytes: 4096, QueueSize: 1, AuthToken: "act-token-0123456789"}, g)
	auth := http.Header{"Authorization": {"Bearer act-token-0123456789"}}
	im := map[string]any{"__numpy__": base64.StdEncoding.EncodeToString(make([]byte, 12)), "dtype": "|u1", "shape": []int{2, 2, 3}}
	good := func() map[string]any {
		return map[string]any{"image": im, "state": []float64{1, 0}, "instruction": "go"}
	}
	with := func(k string, v any) map[string]any {
		b := good()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	hugePNG := func() string {
		// A valid PNG header claiming 100000×100000: refused before decoding.
		var buf bytes.Buffer
		_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
		b := buf.Bytes()
		binary.BigEndian.PutUint32(b[16:], 100000)
		binary.BigEndian.PutUint32(b[20:], 100000)
		binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29])) // the IHDR chunk's CRC
		return base64.StdEncoding.EncodeToString(b)
	}
	cases := []struct {
		name   string
		body   any
		header http.Header
		code   int
		msg    string
	}{
		{"no token", good(), nil, 401, "needs a token"},
		{"not json", []byte("{nope"), auth, 400, "not a JSON object"},
		{"no image", with("image", nil), auth, 400, `"image"`},
		{"image not base64", with("image", "!!!"), auth, 400, "base64"},
		{"image not an image", with("image", base64.StdEncoding.EncodeToString([]byte("GIF89a"))), auth, 400, "not a PNG or JPEG"},
		{"image bomb", with("image", hugePNG()), auth, 400, "100000x100000"},
		{"image bad shape", with("image", map[string]any{"__numpy__": "AAAA", "dtype": "|u1", "shape": []int{2, 2, 3}}), auth, 400, "needs 12 bytes"},
		{"no state", with("state", nil), auth, 400, "state"},
		{"state NaN", with("state", map[string]any{"__numpy__": base64.StdEncoding.EncodeToString(binary.LittleEndian.AppendUint64(make([]byte, 8), math.Float64bits(math.NaN()))), "dtype": "<f8", "shape": []int{2}}), auth, 400, "NaN"},
		{"state wrong size", with("state", []float64{1}), auth, 400, "want 2"},
		{"instruction too long", with("instruction", strings.Repeat("x", 65)), auth, 400, "limit 64"},
		{"unnorm_key", with("unnorm_key", "bridge_orig"), auth, 400, "unnorm_key \"bridge_orig\""},
		{"too large", with("instruction", strings.Repeat("x", 5000)), auth, 413, "max_frame_bytes"},
	}
	for _, tc := range cases {
		code, _, _, msg := postAct(t, s, tc.body, tc.header)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr().String()+"/act?token=act-token-0123456789", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /act: %d, want 405", resp.StatusCode)
	}

	// Busy: one request inferring, one queued, the third refused at once.
	type result struct {
		code int
		vals []float64
	}
	done := make(chan result, 2)
	for _, x := range []float64{1, 2} {
		go func() {
			code, _, vals, _ := postAct(t, s, with("state", []float64{x, 0}), auth)
			done <- result{code, vals}
		}()
		if x == 1 {
			<-g.entered
		} else {
			waitFor(t, func() bool { return len(s.jobs) == 1 })
		}
	}
	if code, _, _, msg := postAct(t, s, good(), auth); code != 503 || !strings.Contains(msg, "busy") {
		t.Fatalf("third concurrent request: %d %q, want 503 busy", code, msg)
	}
	close(g.release)
	seen := map[float64]bool{}
	for range 2 {
		r := <-done
		if r.code != 200 || len(r.vals) != 3 {
			t.Fatalf("queued request: %d, %v", r.code, r.vals)
		}
		seen[r.vals[0]] = true
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("answers %v, want one for each state", seen)
	}
}

// Over the websocket too, a camera may arrive as PNG or JPEG bytes (msgpack
// bin) instead of a raw array, decoded by Go's decoders or by OpenCV's (what
// efferent serve uses). Both cameras as PNG (lossless) reproduce PyTorch's
// golden actions; one PNG and one JPEG give a sound chunk.
func TestCompressedImagesOverWebsocket(t *testing.T) {
	for _, dec := range []struct {
		name string
		fn   func([]byte, int) (efferent.Image, error)
	}{{"go", nil}, {"opencv", cv.DecodeImage}} {
		t.Run(dec.name, func(t *testing.T) {
			pol, m, g := fixturePolicy(t)
			s := start(t, Conf{DecodeImage: dec.fn}, pol)
			gc := g.Cases[0]
			obs, err := gc.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
			if err != nil {
				t.Fatal(err)
			}
			for _, formats := range [][]string{{"png", "png"}, {"png", "jpeg"}} {
				c, _ := dial(t, s)
				var buf bytes.Buffer
				enc := msgpack.NewEncoder(&buf)
				must := func(err error) {
					if err != nil {
						t.Fatal(err)
					}
				}
				must(enc.EncodeMapLen(4))
				for i, k := range pol.Metadata().ImageKeys {
					raw, _ := base64.StdEncoding.DecodeString(compressed(t, obs.Images[k], formats[i]))
					must(enc.EncodeString(k))
					must(enc.EncodeBytes(raw))
				}
				st := make([]byte, 8*len(obs.State))
				for i, v := range obs.State {
					binary.LittleEndian.PutUint64(st[8*i:], math.Float64bits(v))
				}
				must(enc.EncodeString("observation/state"))
				must(ndarray(enc, "<f8", []int{len(obs.State)}, st))
				must(enc.EncodeString("prompt"))
				must(enc.EncodeString(obs.Prompt))
				send(t, c, buf.Bytes())
				r := readReply(t, c)
				want := gc.FlatActions()
				if len(r.actions) != len(want) {
					t.Fatalf("%v: %d actions", formats, len(r.actions))
				}
				for i, v := range r.actions {
					if math.IsNaN(v) {
						t.Fatalf("%v: NaN action", formats)
					}
					if d := math.Abs(v - want[i]); formats[1] == "png" && d > g.Tolerance.ActionsAbs {
						t.Fatalf("%v: action %d differs from PyTorch by %g", formats, i, d)
					}
				}
			}
		})
	}
}
