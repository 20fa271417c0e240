package vq

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/efferent/efferent/tokenizer"
)

// Format is the codebook file format this package reads and writes.
const Format = "efferent-vq/1"

// MaxCodebookBytes bounds a codebook file.
const MaxCodebookBytes = 64 << 20

// Codebook is a residual VQ codebook: Levels × Codes vectors of LatentDim.
type Codebook struct {
	Horizon, Dim     int
	Levels, Codes    int
	LatentDim        int
	Vectors          []float32 // [level][code][latent], flattened
	checksumVerified bool
}

// Vector returns code c of level g (aliases Vectors).
func (cb *Codebook) Vector(g, c int) []float32 {
	o := (g*cb.Codes + c) * cb.LatentDim
	return cb.Vectors[o : o+cb.LatentDim]
}

type codebookJSON struct {
	Format    string        `json:"format"`
	Horizon   int           `json:"horizon"`
	Dim       int           `json:"dim"`
	Levels    int           `json:"levels"`
	Codes     int           `json:"codes"`
	LatentDim int           `json:"latent_dim"`
	Codebook  [][][]float64 `json:"codebook"`
	SHA256    string        `json:"sha256"`
}

// Load reads a codebook file.
func Load(path string) (*Codebook, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxCodebookBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", tokenizer.ErrConfig, path, st.Size(), MaxCodebookBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cb, err := ParseCodebook(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cb, nil
}

// ParseCodebook decodes and validates a codebook file's contents.
func ParseCodebook(data []byte) (*Codebook, error) {
	if len(data) > MaxCodebookBytes {
		return nil, fmt.Errorf("%w: codebook is %d bytes, limit %d", tokenizer.ErrConfig, len(data), MaxCodebookBytes)
	}
	var j codebookJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: codebook: %v", tokenizer.ErrConfig, err)
	}
	if j.Format != Format {
		return nil, fmt.Errorf("%w: codebook format %q, want %q", tokenizer.ErrConfig, j.Format, Format)
	}
	for _, f := range []struct {
		name   string
		v, max int
	}{{"horizon", j.Horizon, 4096}, {"dim", j.Dim, 256}, {"levels", j.Levels, 64}, {"codes", j.Codes, 1 << 16}, {"latent_dim", j.LatentDim, 1 << 16}} {
		if f.v <= 0 || f.v > f.max {
			return nil, fmt.Errorf("%w: codebook %s = %d, want 1..%d", tokenizer.ErrConfig, f.name, f.v, f.max)
		}
	}
	if j.Levels*j.Codes*j.LatentDim > 1<<24 {
		return nil, fmt.Errorf("%w: codebook of %d×%d×%d values is too large", tokenizer.ErrConfig, j.Levels, j.Codes, j.LatentDim)
	}
	cb := &Codebook{Horizon: j.Horizon, Dim: j.Dim, Levels: j.Levels, Codes: j.Codes, LatentDim: j.LatentDim,
		Vectors: make([]float32, 0, j.Levels*j.Codes*j.LatentDim)}
	if len(j.Codebook) != j.Levels {
		return nil, fmt.Errorf("%w: codebook has %d levels, header says %d", tokenizer.ErrConfig, len(j.Codebook), j.Levels)
	}
	for g, level := range j.Codebook {
		if len(level) != j.Codes {
			return nil, fmt.Errorf("%w: codebook level %d has %d codes, header says %d", tokenizer.ErrConfig, g, len(level), j.Codes)
		}
		for c, vec := range level {
			if len(vec) != j.LatentDim {
				return nil, fmt.Errorf("%w: codebook level %d code %d has %d values, latent_dim is %d", tokenizer.ErrConfig, g, c, len(vec), j.LatentDim)
			}
			for k, x := range vec {
				f := float32(x)
				if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
					return nil, fmt.Errorf("%w: codebook level %d code %d [%d] is %v", tokenizer.ErrConfig, g, c, k, x)
				}
				cb.Vectors = append(cb.Vectors, f)
			}
		}
	}
	if sum := cb.Checksum(); sum != j.SHA256 {
		return nil, fmt.Errorf("%w: codebook checksum is %s, file says %q", tokenizer.ErrConfig, sum, j.SHA256)
	}
	cb.checksumVerified = true
	return cb, nil
}

// Checksum is the hex SHA-256 of the vectors as float32 little-endian bytes.
func (cb *Codebook) Checksum() string {
	h := sha256.New()
	var b [4]byte
	for _, v := range cb.Vectors {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// MarshalJSON writes the efferent-vq/1 file format.
func (cb *Codebook) MarshalJSON() ([]byte, error) {
	j := codebookJSON{Format: Format, Horizon: cb.Horizon, Dim: cb.Dim, Levels: cb.Levels, Codes: cb.Codes,
		LatentDim: cb.LatentDim, SHA256: cb.Checksum()}
	j.Codebook = make([][][]float64, cb.Levels)
	for g := range j.Codebook {
		j.Codebook[g] = make([][]float64, cb.Codes)
		for c := range j.Codebook[g] {
			v := cb.Vector(g, c)
			row := make([]float64, len(v))
			for k, x := range v {
				row[k] = float64(x)
			}
			j.Codebook[g][c] = row
		}
	}
	return json.Marshal(j)
}

// WriteFile writes the codebook in the efferent-vq/1 format.
func (cb *Codebook) WriteFile(path string) error {
	data, err := cb.MarshalJSON()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
