package sim

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// Array names one array of a demonstration episode: its file name, dtype
// and the shape of one row.
type Array struct {
	Name  string // e.g. "state.npy"
	Descr string // DescrUint8, DescrFloat32
	Tail  []int  // the shape after the first (time) dimension
}

// EpisodeDir writes one demonstration episode: its arrays, streamed a row
// per step into a ".tmp" sibling of the episode's directory, then
// meta.json, and the whole renamed into place by Commit, replacing an
// older episode; an episode that is not committed leaves nothing. The
// tabletop's and the legged simulator's demonstrations share it.
type EpisodeDir struct {
	dir, tmp string
	arrays   []*NPYStream
}

// CreateEpisodeDir starts the episode that will be dir.
func CreateEpisodeDir(dir string, arrays []Array) (*EpisodeDir, error) {
	d := &EpisodeDir{dir: dir, tmp: dir + ".tmp"}
	if err := os.RemoveAll(d.tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(d.tmp, 0o755); err != nil {
		return nil, err
	}
	for _, a := range arrays {
		s, err := CreateNPYStream(filepath.Join(d.tmp, a.Name), a.Descr, a.Tail)
		if err != nil {
			d.Abort()
			return nil, err
		}
		d.arrays = append(d.arrays, s)
	}
	return d, nil
}

// Array is the i-th array's stream, in CreateEpisodeDir's order.
func (d *EpisodeDir) Array(i int) *NPYStream { return d.arrays[i] }

// Commit closes the arrays, writes meta as meta.json and renames the
// episode into place.
func (d *EpisodeDir) Commit(meta any) error {
	for i, s := range d.arrays {
		err := s.Close()
		d.arrays[i] = nil
		if err != nil {
			d.Abort()
			return err
		}
	}
	js, err := json.MarshalIndent(meta, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(d.tmp, "meta.json"), append(js, '\n'), 0o644)
	}
	if err == nil {
		err = os.RemoveAll(d.dir)
	}
	if err == nil {
		err = os.Rename(d.tmp, d.dir)
	}
	if err != nil {
		d.Abort()
	}
	return err
}

// Abort drops the episode (after Commit it does nothing).
func (d *EpisodeDir) Abort() {
	for i, s := range d.arrays {
		if s != nil {
			s.Abort()
			d.arrays[i] = nil
		}
	}
	os.RemoveAll(d.tmp)
}
