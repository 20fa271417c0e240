package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cmd/efferent parses flags and injects the cgo parts; the control path
// is assembled in package rig. So no file here imports a package of the
// control path, except parts.go and the OpenCV parts (parts_cv.go and its
// nocv twin), which name the premise detector's type to inject one.
func TestCmdDoesNotAssembleTheControlPath(t *testing.T) {
	const mod = "github.com/efferent/efferent/"
	controlPath := map[string]bool{"control": true, "safety": true, "ros": true, "record": true, "teleop": true,
		"metrics": true, "compare": true, "robot": true, "policy/remote": true, "safety/premise": true}
	allowed := map[string]string{"parts.go": "safety/premise", "parts_cv.go": "safety/premise", "parts_nocv.go": "safety/premise"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			pkg, ok := strings.CutPrefix(path, mod)
			if ok && controlPath[pkg] && allowed[name] != pkg {
				t.Errorf("%s imports %s: the control path belongs in package rig", name, path)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d files checked", checked)
	}
}
