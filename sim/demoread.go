package sim

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/efferent/efferent/internal/bounded"
)

// The demonstration format has exactly one reader, this file's: ReadDemo
// for whole episodes and ReadDemoActions for the actions alone (what
// fitting an action tokenizer needs, without the images' gigabytes), with
// the same bounds and checks; FindDemos finds the episodes under a root.

// MaxDemoMeta bounds the size of a meta.json that ReadDemo and
// ReadDemoActions accept.
const MaxDemoMeta = 1 << 20

// MaxDemoActions bounds the data of an actions.npy that ReadDemo and
// ReadDemoActions accept (256 MiB: over nine million steps).
const MaxDemoActions = 256 << 20

// Demo is one episode read back by ReadDemo. Agent and Wrist are T×H×W×3
// RGB bytes; State is T×8 and Actions T×7, row-major. ReadDemoActions
// leaves Agent, Wrist and State nil and H, W zero.
type Demo struct {
	Meta         DemoMeta
	Agent, Wrist []byte
	T, H, W      int
	State        []float32
	Actions      []float32
}

// ReadDemo reads an episode directory written by WriteDemos and checks
// that its arrays agree with each other and with meta.json (see
// ReadDemoActions for the checks of the actions).
func ReadDemo(dir string) (*Demo, error) { return readDemo(dir, true) }

// ReadDemoActions reads only an episode's meta.json and actions.npy. It
// checks meta.json's format and size (MaxDemoMeta), that actions.npy is
// float32 [T, ActionDim] with T ≥ 1 and at most MaxDemoActions bytes of
// data, that T is meta.json's steps, and that every action is finite.
// Errors name the file at fault.
func ReadDemoActions(dir string) (*Demo, error) { return readDemo(dir, false) }

func readDemo(dir string, all bool) (*Demo, error) {
	mp := filepath.Join(dir, "meta.json")
	mb, err := bounded.ReadFile(mp, MaxDemoMeta)
	if err != nil {
		return nil, err
	}
	d := &Demo{}
	if err := json.Unmarshal(mb, &d.Meta); err != nil {
		return nil, fmt.Errorf("%s: %w", mp, err)
	}
	if d.Meta.Format != DemoFormat && (all || d.Meta.Format != LeggedDemoFormat) {
		want := fmt.Sprintf("%q", DemoFormat)
		if !all {
			want += fmt.Sprintf(" or %q", LeggedDemoFormat)
		}
		return nil, fmt.Errorf("%s: format %q, want %s", mp, d.Meta.Format, want)
	}
	ap := filepath.Join(dir, "actions.npy")
	ac, err := readNPYFile(ap, MaxDemoActions)
	if err != nil {
		return nil, err
	}
	if ac.Descr != DescrFloat32 || len(ac.Shape) != 2 || ac.Shape[1] != ActionDim || ac.Shape[0] < 1 {
		return nil, fmt.Errorf("%s: %s %v, want %s [T, %d] with T >= 1", ap, ac.Descr, ac.Shape, DescrFloat32, ActionDim)
	}
	d.T = ac.Shape[0]
	if d.T != d.Meta.Steps {
		return nil, fmt.Errorf("%s: %d actions, meta.json says %d steps", ap, d.T, d.Meta.Steps)
	}
	if d.Actions, err = ac.Float32(); err != nil {
		return nil, fmt.Errorf("%s: %w", ap, err)
	}
	for i, v := range d.Actions {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s: step %d dim %d is %v", ap, i/ActionDim, i%ActionDim, v)
		}
	}
	if !all {
		return d, nil
	}
	arrays := [3]*NPY{}
	for i, name := range []string{"agent.npy", "wrist.npy", "state.npy"} {
		// The file's size bounds the data it may declare.
		if arrays[i], err = readNPYFile(filepath.Join(dir, name), math.MaxInt64); err != nil {
			return nil, err
		}
	}
	ag, wr, st := arrays[0], arrays[1], arrays[2]
	if ag.Descr != DescrUint8 || len(ag.Shape) != 4 || ag.Shape[0] != d.T || ag.Shape[3] != 3 {
		return nil, fmt.Errorf("%s: %s %v, want %s [%d, H, W, 3]", filepath.Join(dir, "agent.npy"), ag.Descr, ag.Shape, DescrUint8, d.T)
	}
	d.H, d.W = ag.Shape[1], ag.Shape[2]
	for _, w := range []struct {
		a     *NPY
		name  string
		descr string
		shape []int
	}{
		{wr, "wrist.npy", DescrUint8, []int{d.T, d.H, d.W, 3}},
		{st, "state.npy", DescrFloat32, []int{d.T, StateDim}},
	} {
		if w.a.Descr != w.descr || !slices.Equal(w.a.Shape, w.shape) {
			return nil, fmt.Errorf("%s: %s %v, want %s %v", filepath.Join(dir, w.name), w.a.Descr, w.a.Shape, w.descr, w.shape)
		}
	}
	d.Agent, d.Wrist = ag.Data, wr.Data
	d.State, _ = st.Float32()
	return d, nil
}

// FindDemos returns the episode directories under root, root included:
// the directories holding regular files actions.npy and meta.json, sorted.
// It does not look inside an episode directory, and skips directories
// named *.tmp (episodes WriteDemos is still writing). Finding none is not
// an error; a root that is not a directory is.
func FindDemos(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", root)
	}
	var dirs []string
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			return nil
		}
		if p != root && strings.HasSuffix(e.Name(), ".tmp") {
			return filepath.SkipDir
		}
		if isRegular(filepath.Join(p, "actions.npy")) && isRegular(filepath.Join(p, "meta.json")) {
			dirs = append(dirs, p)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(dirs)
	return dirs, nil
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// readNPYFile reads an NPY file whose data may be at most limit bytes (and
// at most the file's size).
func readNPYFile(path string, limit int64) (*NPY, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	a, err := ReadNPY(bufio.NewReaderSize(f, 1<<20), min(fi.Size(), limit))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// WriteDemoActions writes the parts of an episode directory that
// ReadDemoActions reads: actions.npy (float32 [T, ActionDim]) and
// meta.json, with meta's Format and Steps set from actions. For
// demonstrations recorded elsewhere that only the tokenizer will read,
// and for tests.
func WriteDemoActions(dir string, meta DemoMeta, actions [][]float64) error {
	data := make([]byte, 0, len(actions)*ActionDim*4)
	for s, a := range actions {
		if len(a) != ActionDim {
			return fmt.Errorf("sim: action %d has %d values, want %d", s, len(a), ActionDim)
		}
		for _, v := range a {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(v)))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteNPY(&buf, DescrFloat32, []int{len(actions), ActionDim}, data); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "actions.npy"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	meta.Format, meta.Steps = DemoFormat, len(actions)
	mb, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "meta.json"), mb, 0o644)
}
