package main

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The nocv build is for hosts without OpenCV's shared libraries: it must
// not need one to start (no libopencv* in its ELF DT_NEEDED), and what
// needs OpenCV must fail with the build's error, not a panic or a
// fallback.
func TestNoCVBuildNeedsNoOpenCV(t *testing.T) {
	if testing.Short() {
		t.Skip("builds efferent with -tags nocv")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	if needOpenCV("") == nil {
		// This test binary is of the normal build: the check below must
		// see its OpenCV, or seeing none in the nocv binary means nothing.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if libs := openCVLibraries(t, self); len(libs) == 0 {
			t.Fatalf("%s: no libopencv* in DT_NEEDED, though it is built with OpenCV", self)
		}
	}
	bin := filepath.Join(t.TempDir(), "efferent-nocv")
	build := exec.Command(gobin, "build", "-tags", "nocv", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nocv: %v\n%s", err, out)
	}
	if libs := openCVLibraries(t, bin); len(libs) > 0 {
		t.Errorf("the nocv build needs OpenCV: DT_NEEDED has %v", libs)
	}

	run := exec.Command(bin, "run", "--robot", "sim", "--episodes", "1")
	run.Env = append(os.Environ(), "EFFERENT_CONFIG=") // no user configuration
	out, err := run.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("run --robot sim with the nocv build: want a non-zero exit, got %v\n%s", err, out)
	}
	const want = "efferent was built without OpenCV (-tags nocv): run --robot sim"
	if s := string(out); !strings.Contains(s, want) || strings.Contains(s, "panic") {
		t.Errorf("run --robot sim with the nocv build: want %q, got:\n%s", want, s)
	}
}

// openCVLibraries is the libopencv* shared libraries the ELF file at path
// needs (its DT_NEEDED entries).
func openCVLibraries(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var cv []string
	for _, lib := range libs {
		if strings.HasPrefix(lib, "libopencv") {
			cv = append(cv, lib)
		}
	}
	return cv
}
