package onnxdet

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/efferent/efferent/safety/premise"
)

// vocabulary.yaml: names normalised, the category defaulting to the
// name's last word; no file is no vocabulary; mistakes name the file, the
// line or the entry.
func TestPremiseVocabularyFile(t *testing.T) {
	dir := t.TempDir()
	if objs, err := LoadVocabulary(dir); objs != nil || err != nil {
		t.Fatalf("no file: %v, %v; want nil, nil", objs, err)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, VocabularyFile), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# a lab's objects\nobjects:\n  - {name: Red  Mug, color: red, category: mug}\n  - {name: coffee-mug}\n  - name: plate\n")
	objs, err := LoadVocabulary(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []premise.Object{{Name: "red mug", Color: "red", Category: "mug"}, {Name: "coffee mug", Category: "mug"}, {Name: "plate", Category: "plate"}}
	if !reflect.DeepEqual(objs, want) {
		t.Fatalf("objects %+v, want %+v", objs, want)
	}
	voc, err := premise.NewVocabulary(objs)
	if err != nil {
		t.Fatal(err)
	}
	in, err := voc.Parse("put the red mugs on the plate")
	if err != nil || len(in.Phrases) != 2 || in.Phrases[0].Text != "red mugs" || in.Phrases[0].Category != "mug" || in.Phrases[0].Unknown {
		t.Fatalf("parsed %+v, %v", in, err)
	}
	for doc, msg := range map[string]string{
		"objects: []\n": "objects: none",
		"objects:\n  - {name: mug, colour: red}\n":     "line 2: objects[0].colour: unknown key",
		"objects:\n  - {color: red}\n":                 "objects[0].name: required",
		"objects:\n  - {name: mug}\n  - {name: MUG}\n": `objects[1].name: "mug" is objects[0] too`,
		"objects:\n  - {name: mug, color: dark red}\n": "color and category are one word each",
		"objects:\n  - {name: a b c d e}\n":            "at most 4 words",
		"object:\n  - {name: mug}\n":                   "did you mean objects?",
	} {
		write(doc)
		if _, err := LoadVocabulary(dir); err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), VocabularyFile) {
			t.Errorf("%q: %v, want an error naming %s and %q", doc, err, VocabularyFile, msg)
		}
	}
}

// The toy detector has no vocabulary.yaml: Objects is nil, the task set's
// objects are the vocabulary.
func TestPremiseDetectorObjects(t *testing.T) {
	if objs := openToy(t).Objects(); objs != nil {
		t.Fatalf("objects %v, want none", objs)
	}
}
