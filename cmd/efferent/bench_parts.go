package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/calibration"
	"github.com/efferent/efferent/camera"
	camcv "github.com/efferent/efferent/camera/cv"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/ort"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/bins"
)

// mallocs returns the process's heap allocations so far.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// timeN runs f n times and returns each call's duration and the heap
// allocations per call.
func timeN(n int, f func() error) ([]time.Duration, float64, error) {
	lat := make([]time.Duration, n)
	a0 := mallocs()
	for i := range n {
		t0 := time.Now()
		if err := f(); err != nil {
			return nil, 0, err
		}
		lat[i] = time.Since(t0)
	}
	return lat, float64(mallocs()-a0) / float64(n), nil
}

func benchDetokCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "detok",
		Short: "Action detokenizers: ns per chunk of the bundled model's residual VQ and of OpenVLA's 256 bins",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			n, _ := cmd.Flags().GetInt("n")
			out, _ := cmd.Flags().GetString("out")
			m, err := loadManifest(cfg.Model)
			if err != nil {
				return err
			}
			v, err := ort.Open(m, cfg.ORT)
			if err != nil {
				return err
			}
			defer v.Close()
			vqTok := v.Detokenizer()
			K := vqTok.TokensPerChunk()
			toks := make([]int64, K)
			for s := range K {
				lo, _ := vqTok.Allowed(s)
				toks[s] = lo + int64(s*7%16)
			}
			rep := benchReport{Name: "detok", Targets: []string{"VQ detokenize < 10 µs per chunk"}}
			dst := make([]float64, m.Action.Horizon*m.Action.Dim)
			row, err := detokRow(fmt.Sprintf("vq %s (%d tokens → %dx%d)", m.Name, K, m.Action.Horizon, m.Action.Dim), n, vqTok, toks, dst)
			if err != nil {
				return err
			}
			row.Verdict = meets(row.P50 < 10, "< 10 µs")
			rep.Rows = append(rep.Rows, row)

			q01, q99 := make([]float64, 7), make([]float64, 7)
			for i := range q01 {
				q01[i], q99[i] = -1, 1
			}
			norm, err := tokenizer.NewNormalizer(q01, q99, nil)
			if err != nil {
				return err
			}
			bt, err := bins.New(bins.Conf{VocabSize: 32000, Bins: 256, Dim: 7, Horizon: 1, Norm: norm})
			if err != nil {
				return err
			}
			btoks := make([]int64, bt.TokensPerChunk())
			for i := range btoks {
				lo, hi := bt.Allowed(i)
				btoks[i] = lo + (hi-lo)/2
			}
			row, err = detokRow("bins 256 (OpenVLA, 7 tokens → 1x7)", n, bt, btoks, make([]float64, 7))
			if err != nil {
				return err
			}
			rep.Rows = append(rep.Rows, row)
			return writeBench(cmd.OutOrStdout(), out, rep)
		},
	}
	cmd.Flags().Int("n", 200000, "chunks decoded per detokenizer")
	addBenchOut(cmd.Flags())
	addModelFlags(cmd.Flags())
	return cmd
}

func detokRow(name string, n int, d tokenizer.Detokenizer, toks []int64, dst []float64) (benchRow, error) {
	if err := d.Decode(toks, dst); err != nil {
		return benchRow{}, fmt.Errorf("%s: %w", name, err)
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
		return benchRow{}, err
	}
	for i := range lat {
		lat[i] /= batch
	}
	r := durationRow(name, lat)
	r.N, r.Allocs = len(lat)*batch, allocs/batch
	return r, nil
}

func benchPreprocessCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "preprocess",
		Short: "Camera preprocessing with OpenCV: a 640x480 frame to the model's 224x224 (resize with pad; and undistort + crop + resize + BGR in one remap)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, _ := cmd.Flags().GetInt("n")
			out, _ := cmd.Flags().GetString("out")
			runtime.GOMAXPROCS(1) // one core, as a camera goroutine gets
			src := efferent.Image{H: 480, W: 640, C: 3, Pix: make([]byte, 480*640*3)}
			for i := range src.Pix {
				src.Pix[i] = byte(i*7 + i/1920)
			}
			rep := benchReport{Name: "preprocess", Targets: []string{"preprocessing < 1 ms per frame"}}
			for _, c := range []struct {
				name string
				spec camera.Spec
				und  bool
			}{
				{"640x480 → 224x224 resize with pad", camera.Spec{Height: 224, Width: 224}, false},
				{"640x480 → 224x224 undistort, 0.9 crop, resize with pad, BGR", camera.Spec{Height: 224, Width: 224, CenterCrop: 0.9, Color: "bgr"}, true},
			} {
				p, err := camcv.New(c.spec)
				if err != nil {
					return err
				}
				if c.und {
					lab := calibration.Intrinsics{Width: 640, Height: 480, Fx: 600, Fy: 600, Cx: 320, Cy: 240, D: [5]float64{-0.2, 0.05}}
					if err := p.SetUndistort(lab); err != nil {
						p.Close()
						return err
					}
				}
				var dst efferent.Image
				_ = p.Apply(src, &dst)
				lat, allocs, err := timeN(n, func() error { return p.Apply(src, &dst) })
				p.Close()
				if err != nil {
					return err
				}
				r := durationRow(c.name, lat)
				r.Allocs, r.Verdict = allocs, meets(r.P50 < 1000, "< 1 ms")
				rep.Rows = append(rep.Rows, r)
			}
			return writeBench(cmd.OutOrStdout(), out, rep)
		},
	}
	cmd.Flags().Int("n", 2000, "frames per case")
	addBenchOut(cmd.Flags())
	return cmd
}

func benchInferCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "infer",
		Short: "The model: prefix (encoder), one action token (decoder step) and the whole chunk, p50/p99, with and without the KV cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			n, _ := cmd.Flags().GetInt("n")
			out, _ := cmd.Flags().GetString("out")
			m, err := loadManifest(cfg.Model)
			if err != nil {
				return err
			}
			obs := modelObservation(m)
			rep := benchReport{Name: "infer"}
			for _, cache := range []bool{true, false} {
				conf := cfg.ORT
				conf.NoKVCache = !cache
				v, err := ort.Open(m, conf)
				if err != nil {
					return err
				}
				label := "kv cache"
				if !cache {
					label = "no kv cache"
				}
				var ch efferent.Chunk
				ctx := context.Background()
				if err := v.Infer(ctx, &obs, &ch); err != nil {
					v.Close()
					return err
				}
				var prefix, token, chunk []time.Duration
				a0 := mallocs()
				for range n {
					if err := v.Infer(ctx, &obs, &ch); err != nil {
						v.Close()
						return err
					}
					t := v.LastTiming()
					prefix, chunk = append(prefix, t.Encoder), append(chunk, t.Total)
					token = append(token, t.Steps[:t.NSteps]...)
				}
				allocs := float64(mallocs()-a0) / float64(n)
				v.Close()
				threads := conf.WithDefaults().IntraOpThreads
				for _, r := range []benchRow{
					durationRow(fmt.Sprintf("%s %s: prefix (encoder)", m.Name, label), prefix),
					durationRow(fmt.Sprintf("%s %s: one action token", m.Name, label), token),
					durationRow(fmt.Sprintf("%s %s: whole chunk (%d tokens)", m.Name, label, len(token)/n), chunk),
				} {
					r.Allocs = allocs
					r.Extra = map[string]float64{"intra_op_threads": float64(threads)}
					rep.Rows = append(rep.Rows, r)
				}
			}
			rep.Targets = []string{fmt.Sprintf("provider %s; a chunk is executed for 5 steps at 20 Hz: a 250 ms budget", cfg.ORT.WithDefaults().Provider)}
			return writeBench(cmd.OutOrStdout(), out, rep)
		},
	}
	cmd.Flags().Int("n", 1000, "inferences per case")
	addBenchOut(cmd.Flags())
	addModelFlags(cmd.Flags())
	return cmd
}

// loadManifest resolves a model reference (directory or embedded name).
func loadManifest(ref string) (*policy.Manifest, error) {
	fsys, source, err := models.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return policy.LoadManifest(fsys, source)
}

// modelObservation is an observation for m: its cameras at the model's
// size with a pattern, its state, an instruction.
func modelObservation(m *policy.Manifest) efferent.Observation {
	obs := efferent.Observation{Images: map[string]efferent.Image{}, State: make([]float64, m.Obs.State.Dim),
		Prompt: "put the red block in the blue bowl", Time: time.Unix(0, 0), Seq: 1}
	h, w := m.Obs.ImageHeight, m.Obs.ImageWidth
	for k, im := range m.Obs.Images {
		pix := make([]byte, h*w*3)
		for i := range pix {
			pix[i] = byte(i*(k+3) + i/(w*3))
		}
		obs.Images[im.Key] = efferent.Image{H: h, W: w, C: 3, Pix: pix}
	}
	for i := range obs.State {
		obs.State[i] = math.Sin(float64(i))
	}
	return obs
}
