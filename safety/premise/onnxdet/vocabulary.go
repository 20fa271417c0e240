package onnxdet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/efferent/efferent/internal/strictyaml"
	"github.com/efferent/efferent/safety/premise"
)

// VocabularyFile is the optional file in a detector directory that names
// the objects instructions may name.
const VocabularyFile = "vocabulary.yaml"

// MaxVocabularyObjects bounds vocabulary.yaml's objects.
const MaxVocabularyObjects = 1000

// VocabularyObject is one entry of vocabulary.yaml's objects.
type VocabularyObject struct {
	// Name is the object as instructions say it ("red mug", "plate"):
	// what the detector is asked to find when an instruction names it.
	Name string `yaml:"name"`
	// Color is its colour word, if instructions use one ("red"), so that
	// "the red one" parses. Default none.
	Color string `yaml:"color"`
	// Category is its head noun ("mug"; its plural is understood too).
	// Default the name's last word.
	Category string `yaml:"category"`
}

// vocabularyFile is vocabulary.yaml.
type vocabularyFile struct {
	Objects []VocabularyObject `yaml:"objects"`
}

// LoadVocabulary reads dir/vocabulary.yaml strictly and returns its
// objects, or nil and no error when dir has no such file (the caller's
// task set then names the objects). Errors name the file, the line and the
// key.
func LoadVocabulary(dir string) ([]premise.Object, error) {
	path := filepath.Join(dir, VocabularyFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("onnxdet: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("onnxdet: %s: %w", path, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("onnxdet: %s: over %d bytes", path, maxManifestBytes)
	}
	var v vocabularyFile
	if err := strictyaml.Decode(data, &v); err != nil {
		return nil, fmt.Errorf("onnxdet: %s: %v", path, err)
	}
	objs, err := v.objects()
	if err != nil {
		return nil, fmt.Errorf("onnxdet: %s: %v", path, err)
	}
	return objs, nil
}

// objects validates the entries and fills in their defaults.
func (v vocabularyFile) objects() ([]premise.Object, error) {
	switch n := len(v.Objects); {
	case n == 0:
		return nil, fmt.Errorf("objects: none (name at least one, or remove %s to use the task set's objects)", VocabularyFile)
	case n > MaxVocabularyObjects:
		return nil, fmt.Errorf("objects: %d, at most %d", n, MaxVocabularyObjects)
	}
	norm := func(s string) string { return strings.Join(premise.Words(s), " ") }
	seen := map[string]int{}
	out := make([]premise.Object, 0, len(v.Objects))
	for i, o := range v.Objects {
		name, color, cat := norm(o.Name), norm(o.Color), norm(o.Category)
		switch {
		case name == "":
			return nil, fmt.Errorf("objects[%d].name: required", i)
		case len(strings.Fields(name)) > 4:
			return nil, fmt.Errorf("objects[%d].name: %q: at most 4 words", i, o.Name)
		case strings.Contains(color, " ") || strings.Contains(cat, " "):
			return nil, fmt.Errorf("objects[%d] (%s): color and category are one word each", i, name)
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("objects[%d].name: %q is objects[%d] too", i, name, j)
		}
		seen[name] = i
		if cat == "" {
			w := strings.Fields(name)
			cat = w[len(w)-1]
		}
		out = append(out, premise.Object{Name: name, Color: color, Category: cat})
	}
	return out, nil
}
