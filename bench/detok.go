package bench

import (
	"errors"
	"fmt"

	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/bins"
)

// DetokConf configures Detok. Zero values mean the documented default.
type DetokConf struct {
	// Model is the model whose detokenizer is measured: a directory or
	// an embedded model's name (models.Resolve). Default models.Default.
	Model string
	// N is how many chunks each detokenizer decodes. Default 200000.
	N int
	// Open opens the model (required).
	Open Opener
}

// Detok measures the action detokenizers, ns per chunk: the model's (the
// bundled one's residual VQ) and OpenVLA's 256 bins over 7 dimensions.
func Detok(c DetokConf) (Report, error) {
	rep := Report{Name: "detok", Targets: []string{"VQ detokenize < 10 µs per chunk"}}
	if c.Open == nil {
		return rep, errors.New("bench: DetokConf.Open: required")
	}
	if c.N == 0 {
		c.N = 200000
	}
	m, err := models.Manifest(c.Model)
	if err != nil {
		return rep, err
	}
	v, err := c.Open(m, false)
	if err != nil {
		return rep, err
	}
	defer v.Close()
	vqTok := v.Detokenizer()
	if vqTok == nil {
		return rep, fmt.Errorf("model %s: layout %s has no action detokenizer to measure", m.Name, m.LayoutName())
	}
	K := vqTok.TokensPerChunk()
	toks := make([]int64, K)
	for s := range K {
		lo, _ := vqTok.Allowed(s)
		toks[s] = lo + int64(s*7%16)
	}
	dst := make([]float64, m.Action.Horizon*m.Action.Dim)
	row, err := detokRow(fmt.Sprintf("vq %s (%d tokens → %dx%d)", m.Name, K, m.Action.Horizon, m.Action.Dim), c.N, vqTok, toks, dst)
	if err != nil {
		return rep, err
	}
	row.Verdict = meets(row.P50 < 10, "< 10 µs")
	rep.Rows = append(rep.Rows, row)

	q01, q99 := make([]float64, 7), make([]float64, 7)
	for i := range q01 {
		q01[i], q99[i] = -1, 1
	}
	norm, err := tokenizer.NewNormalizer(q01, q99, nil)
	if err != nil {
		return rep, err
	}
	bt, err := bins.New(bins.Conf{VocabSize: 32000, Bins: 256, Dim: 7, Horizon: 1, Norm: norm})
	if err != nil {
		return rep, err
	}
	btoks := make([]int64, bt.TokensPerChunk())
	for i := range btoks {
		lo, hi := bt.Allowed(i)
		btoks[i] = lo + (hi-lo)/2
	}
	row, err = detokRow("bins 256 (OpenVLA, 7 tokens → 1x7)", c.N, bt, btoks, make([]float64, 7))
	if err != nil {
		return rep, err
	}
	rep.Rows = append(rep.Rows, row)
	return rep, nil
}

// detokRow times n decodes of toks by d.
func detokRow(name string, n int, d tokenizer.Detokenizer, toks []int64, dst []float64) (Row, error) {
	if err := d.Decode(toks, dst); err != nil {
		return Row{}, fmt.Errorf("%s: %w", name, err)
	}
	// Single calls are ~1 µs: time batches of 100 so the clock's own cost
	// does not dominate, and report per chunk.
	const batch = 100
	lat, allocs, err := timeN(max(1, n/batch), func() error {
		for range batch {
			if err := d.Decode(toks, dst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Row{}, err
	}
	for i := range lat {
		lat[i] /= batch
	}
	r := durationRow(name, lat)
	r.N, r.Allocs = len(lat)*batch, allocs/batch
	return r, nil
}
