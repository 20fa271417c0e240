package onnxdet

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/efferent/efferent/internal/strictyaml"
)

// Format is the manifest's format line.
const Format = "efferent-detector/1"

// maxManifestBytes and maxModelBytes bound what is read from disk.
const (
	maxManifestBytes = 1 << 20
	maxModelBytes    = 2 << 30
)

// ErrManifest is wrapped by errors about detector.yaml.
var ErrManifest = errors.New("onnxdet: bad detector manifest")

// Manifest is detector.yaml.
type Manifest struct {
	Format string `yaml:"format"`
	Name   string `yaml:"name"`
	// File is the ONNX graph, relative to the manifest.
	File  string `yaml:"file"`
	Image struct {
		// Input names the image input, [1, 3, Height, Width] float.
		Input         string `yaml:"input"`
		Height, Width int
		// Mean and Std normalise RGB in 0..1: (v − mean) / std. Default
		// 0 and 1.
		Mean [3]float64 `yaml:"mean"`
		Std  [3]float64 `yaml:"std"`
	} `yaml:"image"`
	Text struct {
		// Tokenizer is a Hugging Face tokenizer.json, relative to the
		// manifest.
		Tokenizer     string `yaml:"tokenizer"`
		InputIDs      string `yaml:"input_ids"`
		AttentionMask string `yaml:"attention_mask"`
		// MaxTokens per query (longer ones are cut); PadID fills the rest.
		MaxTokens int   `yaml:"max_tokens"`
		PadID     int64 `yaml:"pad_id"`
	} `yaml:"text"`
	Outputs struct {
		// Logits [1, N, Q]; Boxes [1, N, 4] as (cx, cy, w, h) in 0..1.
		Logits string `yaml:"logits"`
		Boxes  string `yaml:"boxes"`
	} `yaml:"outputs"`
	// Threshold is the detector's own score (sigmoid of a logit) for "the
	// object is there" (OWLv2: about 0.1). Required, in (0, 1).
	Threshold float64 `yaml:"threshold"`

	dir string
}

// LoadManifest reads dir/detector.yaml strictly (unknown keys are errors)
// and validates it; errors name the key.
func LoadManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, "detector.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: detector.yaml over %d bytes", ErrManifest, maxManifestBytes)
	}
	m := &Manifest{dir: dir}
	if err := strictyaml.Decode(data, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, dir, err)
	}
	for i := range m.Image.Std {
		if m.Image.Std[i] == 0 {
			m.Image.Std[i] = 1
		}
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, dir, err)
	}
	return m, nil
}

func (m *Manifest) validate() error {
	switch {
	case m.Format != Format:
		return fmt.Errorf("format: %q, want %q", m.Format, Format)
	case m.File == "":
		return errors.New("file: required")
	case m.Image.Input == "" || m.Text.InputIDs == "" || m.Text.AttentionMask == "" || m.Outputs.Logits == "" || m.Outputs.Boxes == "":
		return errors.New("image.input, text.input_ids, text.attention_mask, outputs.logits and outputs.boxes: all required")
	case m.Image.Height < 8 || m.Image.Height > 4096 || m.Image.Width < 8 || m.Image.Width > 4096:
		return fmt.Errorf("image: %dx%d, want 8..4096 each", m.Image.Width, m.Image.Height)
	case m.Text.Tokenizer == "":
		return errors.New("text.tokenizer: required")
	case m.Text.MaxTokens < 1 || m.Text.MaxTokens > 512:
		return fmt.Errorf("text.max_tokens: %d, want 1..512", m.Text.MaxTokens)
	case !(m.Threshold > 0 && m.Threshold < 1):
		return fmt.Errorf("threshold: %g, want 0 < threshold < 1", m.Threshold)
	}
	for i, s := range m.Image.Std {
		if !(s > 0) || math.IsInf(s, 0) || math.IsNaN(m.Image.Mean[i]) {
			return fmt.Errorf("image.std[%d] = %g / mean %g: want std > 0", i, s, m.Image.Mean[i])
		}
	}
	return nil
}

// path resolves a file named in the manifest.
func (m *Manifest) path(name string) string { return filepath.Join(m.dir, name) }
