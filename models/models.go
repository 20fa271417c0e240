// Package models holds the small models efferent ships, embedded in the
// binary so that `efferent serve` works from any directory with nothing
// but the ONNX Runtime library installed.
//
// Each model is a directory with a manifest.yaml (see package policy) and
// the files it names, built by a committed script beside them (Python with
// Debian's torch/onnx, run offline; never needed to build or test).
//
//   - efferent-tiny (the default): a small VLA trained by behaviour cloning
//     on the built-in simulator's expert demonstrations, with a residual-VQ
//     action tokenizer fitted by `efferent tokenizer fit`. It solves the
//     simulator's tasks from pixels, state and instruction; see
//     models/efferent-tiny/README.md for its training and evaluation.
//   - efferent-flow: efferent-tiny's encoder with a flow-matching action
//     head (pi0's design, small) over 16-step chunks, trained on the same
//     demonstrations: the flow layout and real-time chunking (scheduler
//     mode rtc) on a model that solves tasks; see
//     models/efferent-flow/README.md.
//   - efferent-quadruped: efferent-tiny's recipe on the legged-base
//     simulator (sim/legged): one egocentric camera, the 7-d odometry and
//     velocity state and the instruction in; 2 residual-VQ tokens out,
//     decoded to a 10-step chunk of 7-d command vectors at 50 Hz; trained
//     by behaviour cloning on the legged expert's demonstrations; see
//     models/efferent-quadruped/README.md.
//   - efferent-fixture: tiny RANDOM-weight VLA; a fixture for the runtime
//     path with fixed PyTorch golden outputs (its own latent decoder graph,
//     special tokens). Its actions are meaningless; tests that need an
//     output that never changes when the trained model is retrained use it.
package models

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/efferent/efferent/policy"
)

// Default is the model `efferent serve`, `run` and `eval` load when none
// is named: the trained one.
const Default = "efferent-tiny"

// Flow is the trained flow-matching model (the flow layout, real-time
// chunking).
const Flow = "efferent-flow"

// Quadruped is the trained legged-base model (a QUART-style command
// vector at 50 Hz): what efferent run drives the legged simulator with
// when the configured model is Default, which drives the tabletop.
const Quadruped = "efferent-quadruped"

// Fixture is the random-weight runtime fixture, whose golden outputs never
// change; tests that pin exact outputs use it rather than Default.
const Fixture = "efferent-fixture"

// The embedded files: the manifest and what it names (not the build
// scripts or docs).
//
//go:embed efferent-fixture/manifest.yaml efferent-fixture/*.json efferent-fixture/*.onnx
//go:embed efferent-tiny/manifest.yaml efferent-tiny/codebook.json
//go:embed efferent-tiny/tokenizer.json efferent-tiny/golden.json efferent-tiny/*.onnx
//go:embed efferent-quadruped/manifest.yaml efferent-quadruped/codebook.json
//go:embed efferent-quadruped/tokenizer.json efferent-quadruped/golden.json efferent-quadruped/*.onnx
//go:embed efferent-flow/manifest.yaml efferent-flow/tokenizer.json efferent-flow/golden.json efferent-flow/*.onnx
var embedded embed.FS

// Names lists the embedded models.
func Names() []string {
	ents, _ := fs.ReadDir(embedded, ".")
	var n []string
	for _, e := range ents {
		if e.IsDir() {
			n = append(n, e.Name())
		}
	}
	slices.Sort(n)
	return n
}

// Embedded returns an embedded model directory by name.
func Embedded(name string) (fs.FS, error) {
	if !slices.Contains(Names(), name) {
		return nil, fmt.Errorf("no embedded model %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return fs.Sub(embedded, name)
}

// Resolve finds a model by reference: a directory on disk (anything that
// contains a path separator or exists as a directory), else the name of an
// embedded model. It returns the directory and a label for messages.
func Resolve(ref string) (fs.FS, string, error) {
	if ref == "" {
		ref = Default
	}
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		return os.DirFS(ref), ref, nil
	} else if strings.ContainsRune(ref, os.PathSeparator) {
		return nil, "", fmt.Errorf("model directory %s: %w", ref, err)
	}
	f, err := Embedded(ref)
	if err != nil {
		return nil, "", fmt.Errorf("model %q is neither a directory nor an embedded model: %w", ref, err)
	}
	return f, "embedded:" + ref, nil
}

// Manifest resolves a model reference as Resolve does and reads its
// manifest.yaml (policy.LoadManifest).
func Manifest(ref string) (*policy.Manifest, error) {
	fsys, source, err := Resolve(ref)
	if err != nil {
		return nil, err
	}
	return policy.LoadManifest(fsys, source)
}
