package onnxdet

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy/ort"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/tokenizer/text"
)

// ErrOutput is wrapped when the graph answers with unexpected shapes.
var ErrOutput = errors.New("onnxdet: unexpected detector output")

// Detector is an ONNX open-vocabulary detector. It is safe for concurrent
// use (runs are serialised).
type Detector struct {
	m    *Manifest
	tok  *text.Tokenizer
	objs []premise.Object // vocabulary.yaml's; nil without one
	sess *onnx.DynamicAdvancedSession
	mu   sync.Mutex
}

var _ premise.Detector = (*Detector)(nil)

// Open loads the detector in dir (detector.yaml, its graph and tokenizer,
// and vocabulary.yaml if there is one) under ONNX Runtime with conf
// (provider and threads as for policies).
func Open(dir string, conf ort.Conf) (*Detector, error) {
	m, err := LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	objs, err := LoadVocabulary(dir)
	if err != nil {
		return nil, err
	}
	tok, err := text.Load(m.path(m.Text.Tokenizer))
	if err != nil {
		return nil, fmt.Errorf("onnxdet: %s: text.tokenizer: %w", m.Name, err)
	}
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	lib, err := ort.Init(conf.Library)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(m.path(m.File))
	if err != nil {
		return nil, fmt.Errorf("onnxdet: %s: file: %w", m.Name, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxModelBytes+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("onnxdet: %s: file: %w", m.Name, err)
	}
	if len(data) > maxModelBytes {
		return nil, fmt.Errorf("onnxdet: %s: %s is over %d bytes", m.Name, m.File, maxModelBytes)
	}
	opts, err := ort.NewSessionOptions(conf, lib)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	sess, err := onnx.NewDynamicAdvancedSessionWithONNXData(data,
		[]string{m.Image.Input, m.Text.InputIDs, m.Text.AttentionMask}, []string{m.Outputs.Logits, m.Outputs.Boxes}, opts)
	if err != nil {
		return nil, fmt.Errorf("onnxdet: %s: %s: %w", m.Name, m.File, err)
	}
	return &Detector{m: m, tok: tok, objs: objs, sess: sess}, nil
}

// Name returns the manifest's name.
func (d *Detector) Name() string { return d.m.Name }

// Objects returns the objects the directory's vocabulary.yaml names
// (premise.NewVocabulary builds the parser's vocabulary from them), or nil
// when it has none: then the task set's objects are the vocabulary.
func (d *Detector) Objects() []premise.Object { return d.objs }

// Knows reports whether q has text to look for: the vocabulary is open.
func (d *Detector) Knows(q premise.Query) bool { return q.Text != "" }

// Detect runs the detector once per frame with every query and returns,
// per frame and query, the best box and its score on the checker's scale.
func (d *Detector) Detect(frames []premise.Frame, queries []premise.Query) ([]premise.Detection, error) {
	if len(queries) == 0 || len(frames) == 0 {
		return nil, nil
	}
	m := d.m
	Q, T := len(queries), m.Text.MaxTokens
	ids, mask := make([]int64, Q*T), make([]int64, Q*T)
	for q, query := range queries {
		toks, err := d.tok.Encode(query.Text, false)
		if err != nil {
			return nil, fmt.Errorf("onnxdet: query %q: %w", query.Text, err)
		}
		for t := range T {
			ids[q*T+t] = m.Text.PadID
			if t < len(toks) {
				ids[q*T+t], mask[q*T+t] = toks[t], 1
			}
		}
	}
	idsT, err := onnx.NewTensor(onnx.NewShape(int64(Q), int64(T)), ids)
	if err != nil {
		return nil, err
	}
	defer idsT.Destroy()
	maskT, err := onnx.NewTensor(onnx.NewShape(int64(Q), int64(T)), mask)
	if err != nil {
		return nil, err
	}
	defer maskT.Destroy()
	H, W := m.Image.Height, m.Image.Width
	pix := make([]float32, 3*H*W)
	var out []premise.Detection
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, fr := range frames {
		if err := d.pixels(fr.Image, pix); err != nil {
			return nil, fmt.Errorf("onnxdet: camera %s: %w", fr.Camera, err)
		}
		img, err := onnx.NewTensor(onnx.NewShape(1, 3, int64(H), int64(W)), pix)
		if err != nil {
			return nil, err
		}
		outs := []onnx.Value{nil, nil}
		err = d.sess.Run([]onnx.Value{img, idsT, maskT}, outs)
		img.Destroy()
		if err != nil {
			return nil, fmt.Errorf("onnxdet: %s: run: %w", m.Name, err)
		}
		dets, err := d.read(outs, Q, fr)
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, dets...)
	}
	return out, nil
}

// read turns one run's logits and boxes into the best detection per query.
func (d *Detector) read(outs []onnx.Value, Q int, fr premise.Frame) ([]premise.Detection, error) {
	lt, ok1 := outs[0].(*onnx.Tensor[float32])
	bt, ok2 := outs[1].(*onnx.Tensor[float32])
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: %s and %s must be float tensors", ErrOutput, d.m.Outputs.Logits, d.m.Outputs.Boxes)
	}
	ls, bs := lt.GetShape(), bt.GetShape()
	if len(ls) != 3 || ls[0] != 1 || ls[2] != int64(Q) || len(bs) != 3 || bs[0] != 1 || bs[1] != ls[1] || bs[2] != 4 {
		return nil, fmt.Errorf("%w: %s %v and %s %v, want [1 N %d] and [1 N 4]", ErrOutput, d.m.Outputs.Logits, ls, d.m.Outputs.Boxes, bs, Q)
	}
	N := int(ls[1])
	logits, boxes := lt.GetData(), bt.GetData()
	dets := make([]premise.Detection, 0, Q)
	for q := range Q {
		best, arg := math.Inf(-1), -1
		for n := range N {
			if l := float64(logits[n*Q+q]); l > best && !math.IsNaN(l) {
				best, arg = l, n
			}
		}
		if arg < 0 {
			continue
		}
		s := 1 / (1 + math.Exp(-best))
		b := boxes[arg*4 : arg*4+4]
		w, h := float64(fr.Image.W), float64(fr.Image.H)
		box := image.Rect(int((float64(b[0])-float64(b[2])/2)*w), int((float64(b[1])-float64(b[3])/2)*h),
			int((float64(b[0])+float64(b[2])/2)*w), int((float64(b[1])+float64(b[3])/2)*h))
		dets = append(dets, premise.Detection{Query: q, Score: min(1, s*premise.DefaultPresent/d.m.Threshold), Camera: fr.Camera, Box: box})
	}
	return dets, nil
}

// pixels resizes img (RGB, bilinear) to the detector's input and
// normalises it into dst, NCHW.
func (d *Detector) pixels(img efferent.Image, dst []float32) error {
	if img.C != 3 || img.W < 1 || img.H < 1 || len(img.Pix) < img.W*img.H*3 {
		return fmt.Errorf("image %dx%dx%d: want RGB", img.W, img.H, img.C)
	}
	H, W := d.m.Image.Height, d.m.Image.Width
	sx, sy := float64(img.W)/float64(W), float64(img.H)/float64(H)
	for y := range H {
		fy := max(0, (float64(y)+0.5)*sy-0.5)
		y0 := min(int(fy), img.H-1)
		y1, wy := min(y0+1, img.H-1), fy-float64(y0)
		for x := range W {
			fx := max(0, (float64(x)+0.5)*sx-0.5)
			x0 := min(int(fx), img.W-1)
			x1, wx := min(x0+1, img.W-1), fx-float64(x0)
			for c := range 3 {
				p := func(yy, xx int) float64 { return float64(img.Pix[(yy*img.W+xx)*3+c]) }
				v := (p(y0, x0)*(1-wx)+p(y0, x1)*wx)*(1-wy) + (p(y1, x0)*(1-wx)+p(y1, x1)*wx)*wy
				dst[c*H*W+y*W+x] = float32((v/255 - d.m.Image.Mean[c]) / d.m.Image.Std[c])
			}
		}
	}
	return nil
}

// Close releases the session.
func (d *Detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess == nil {
		return nil
	}
	err := d.sess.Destroy()
	d.sess = nil
	return err
}
