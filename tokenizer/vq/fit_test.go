package vq

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/efferent/efferent/tokenizer"
)

// clustered returns n chunks of h×d values: k well-separated centres in
// [-0.8, 0.8] plus Gaussian noise of the given sigma.
func clustered(n, k, h, d int, sigma float64, seed uint64) (chunks [][]float32, centres [][]float64) {
	r := rand.New(rand.NewPCG(seed, 3))
	centres = make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, h*d)
		for i := range centres[c] {
			centres[c][i] = r.Float64()*1.6 - 0.8
		}
	}
	chunks = make([][]float32, n)
	for i := range chunks {
		c := centres[i%k]
		chunks[i] = make([]float32, h*d)
		for j := range chunks[i] {
			chunks[i][j] = float32(c[j] + r.NormFloat64()*sigma)
		}
	}
	return chunks, centres
}

// smooth returns n chunks that look like action chunks: per-dim ramps
// in [-1, 1] with a little noise; the last dim is a ±1 gripper.
func smooth(n, h, d int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 5))
	chunks := make([][]float32, n)
	for i := range chunks {
		c := make([]float32, h*d)
		g := float32(1)
		if r.IntN(2) == 0 {
			g = -1
		}
		for j := range d {
			a, b := r.Float64()*1.4-0.7, r.Float64()*0.4-0.2
			for t := range h {
				v := a + b*float64(t) + r.NormFloat64()*0.02
				c[t*d+j] = float32(min(1, max(-1, v)))
				if j == d-1 {
					c[t*d+j] = g
				}
			}
		}
		chunks[i] = c
	}
	return chunks
}

func TestFitRecoversClusters(t *testing.T) {
	const h, d, k = 5, 7, 8
	chunks, centres := clustered(2000, k, h, d, 0.01, 1)
	cb, rep, err := Fit(chunks, FitConf{Horizon: h, Dim: d, Levels: 1, Codes: k})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Chunks != 2000 || len(rep.RMS) != d || len(rep.Levels) != 1 {
		t.Fatalf("report shape: %+v", rep)
	}
	if rep.RMSAll > 0.012 {
		t.Errorf("RMS = %v, want about the noise (0.01)", rep.RMSAll)
	}
	for j := range d {
		if rep.Max[j] > 0.06 || rep.RMS[j] > 0.012 {
			t.Errorf("dim %d: RMS %v max %v", j, rep.RMS[j], rep.Max[j])
		}
	}
	if l := rep.Levels[0]; l.Used != k || math.Abs(l.Perplexity-k) > 1e-9 || l.Iters < 1 {
		t.Errorf("level 0: %+v, want all %d codes used evenly", l, k)
	}
	for c, want := range centres {
		best := math.Inf(1)
		for code := range k {
			var s float64
			for i, v := range cb.Vector(0, code) {
				s += (float64(v) - want[i]) * (float64(v) - want[i])
			}
			best = min(best, math.Sqrt(s/float64(h*d)))
		}
		if best > 0.003 {
			t.Errorf("centre %d: nearest code is %v RMS away", c, best)
		}
	}
	// A second level can only fit the noise: the error goes down a little.
	_, rep2, err := Fit(chunks, FitConf{Horizon: h, Dim: d, Levels: 2, Codes: k})
	if err != nil {
		t.Fatal(err)
	}
	if !(rep2.RMSAll < rep.RMSAll) || math.Abs(rep2.Levels[1].ResidualRMS-rep2.RMSAll) > 1e-12 {
		t.Errorf("two levels: RMS %v (one level %v), level RMS %+v", rep2.RMSAll, rep.RMSAll, rep2.Levels)
	}
	if math.Abs(rep2.Levels[0].ResidualRMS-rep.RMSAll) > 1e-3 {
		t.Errorf("level 0 residual %v, one-level fit %v", rep2.Levels[0].ResidualRMS, rep.RMSAll)
	}
}

func TestFitDeterministic(t *testing.T) {
	chunks := smooth(3000, 5, 7, 2)
	conf := FitConf{Horizon: 5, Dim: 7, Levels: 3, Codes: 32, Iters: 10, Seed: 7}
	var sums []string
	var reps []FitReport
	for _, w := range []int{1, 2, 3, 1} {
		c := conf
		c.Workers = w
		cb, rep, err := Fit(chunks, c)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, cb.Checksum())
		reps = append(reps, rep)
	}
	for i := range sums {
		if sums[i] != sums[0] || reps[i].RMSAll != reps[0].RMSAll {
			t.Fatalf("run %d: checksum %s RMS %v, run 0: %s %v", i, sums[i], reps[i].RMSAll, sums[0], reps[0].RMSAll)
		}
	}
	conf.Seed = 8
	cb, _, err := Fit(chunks, conf)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Checksum() == sums[0] {
		t.Error("seeds 7 and 8 gave the same codebook")
	}
	conf.Restarts = 3
	cb3, rep3, err := Fit(chunks, conf)
	if err != nil {
		t.Fatal(err)
	}
	if cb3.Checksum() == "" || rep3.Levels[0].Iters < 3 {
		t.Errorf("restarts: %+v", rep3.Levels[0])
	}
}

// More codes than distinct points: k-means++ runs out of points to draw,
// dead codes cannot be reseeded usefully, and every point is still
// reconstructed exactly.
func TestFitMoreCodesThanPoints(t *testing.T) {
	distinct, _ := clustered(10, 10, 2, 3, 0.3, 4)
	var chunks [][]float32
	for range 5 {
		chunks = append(chunks, distinct...)
	}
	for _, codes := range []int{10, 64, 300} {
		cb, rep, err := Fit(chunks, FitConf{Horizon: 2, Dim: 3, Levels: 3, Codes: codes})
		if err != nil {
			t.Fatal(err)
		}
		if rep.RMSAll != 0 || rep.Levels[0].Used != 10 {
			t.Fatalf("codes %d: RMS %v, level 0 uses %d codes", codes, rep.RMSAll, rep.Levels[0].Used)
		}
		for j, m := range rep.Max {
			if m != 0 {
				t.Fatalf("codes %d: dim %d max error %v", codes, j, m)
			}
		}
		if rep.Levels[1].Used != 1 || rep.Levels[1].Perplexity != 1 {
			t.Errorf("codes %d: level 1 %+v, want one code (zero residual)", codes, rep.Levels[1])
		}
		if _, err := ParseCodebook(must(cb.MarshalJSON())); err != nil {
			t.Fatal(err)
		}
	}
	// Fewer points than workers' minimum share, one point, one code.
	if _, rep, err := Fit(chunks[:1], FitConf{Horizon: 2, Dim: 3, Codes: 4}); err != nil || rep.RMSAll != 0 {
		t.Fatalf("one chunk: %v %v", rep.RMSAll, err)
	}
}

// Dead codes after an iteration (a centre drawn onto an outlier that a
// neighbour then wins) are moved to high-error points.
func TestFitReseedsDeadCodes(t *testing.T) {
	m := newKmeans([]float64{0, 0.1, 10, 10.1, 20, 30}, 6, 1, 3, 1)
	copy(m.cents, []float64{0, 100, 10.05}) // code 1 is never nearest: dead
	m.searchAll()
	if moved, r := m.update(); r != 1 || !moved {
		t.Fatalf("reseeded %d, want 1", r)
	}
	if m.cents[1] != 30 { // the point farthest from its (updated) centre
		t.Fatalf("dead code moved to %v, want 30", m.cents[1])
	}
}

// Encoding through the existing Detokenizer with the fitted codebook
// reproduces the errors Fit reports, in action units.
func TestFitEncodeRoundTrip(t *testing.T) {
	const h, d = 5, 7
	chunks := smooth(1500, h, d, 3)
	nm := norm(t, d)
	cb, rep, err := Fit(chunks, FitConf{Horizon: h, Dim: d, Levels: 3, Codes: 16, Norm: &nm})
	if err != nil {
		t.Fatal(err)
	}
	det, err := New(cb, Conf{Base: 1023, Norm: nm})
	if err != nil {
		t.Fatal(err)
	}
	sq, mx := make([]float64, d), make([]float64, d)
	act, got := make([]float64, h*d), make([]float64, h*d)
	tokens := make([]int64, cb.Levels)
	for _, c := range chunks {
		for i, v := range c {
			act[i] = float64(v)
		}
		nm.Unnormalize(act)
		if err := det.Encode(act, tokens); err != nil {
			t.Fatal(err)
		}
		if err := det.Decode(tokens, got); err != nil {
			t.Fatal(err)
		}
		for i := range act {
			e := got[i] - act[i]
			sq[i%d] += e * e
			mx[i%d] = max(mx[i%d], math.Abs(e))
		}
	}
	for j := range d {
		rms := math.Sqrt(sq[j] / float64(len(chunks)*h))
		if math.Abs(rms-rep.RMSAction[j]) > 1e-6*(1+rep.RMSAction[j]) || math.Abs(mx[j]-rep.MaxAction[j]) > 1e-5 {
			t.Errorf("dim %d: encode/decode RMS %v max %v, Fit reports %v %v", j, rms, mx[j], rep.RMSAction[j], rep.MaxAction[j])
		}
	}
	// Check on the training chunks is Fit's report.
	again, err := Check(cb, chunks)
	if err != nil {
		t.Fatal(err)
	}
	if again.RMSAll != rep.RMSAll || again.Levels[2].Used != rep.Levels[2].Used {
		t.Errorf("Check %v / %+v, Fit %v / %+v", again.RMSAll, again.Levels, rep.RMSAll, rep.Levels)
	}
	// Held-out data from the same distribution: similar error.
	held, err := Check(cb, smooth(500, h, d, 99))
	if err != nil {
		t.Fatal(err)
	}
	if held.RMSAll > 2*rep.RMSAll || held.Chunks != 500 {
		t.Errorf("held-out RMS %v, train %v", held.RMSAll, rep.RMSAll)
	}
}

func TestFitErrors(t *testing.T) {
	good := smooth(10, 2, 3, 1)
	nan := smooth(10, 2, 3, 1)
	nan[4][2] = float32(math.NaN())
	nm := norm(t, 4)
	for _, tc := range []struct {
		name   string
		chunks [][]float32
		conf   FitConf
		config bool
	}{
		{"no chunks", nil, FitConf{Horizon: 2, Dim: 3}, false},
		{"short chunk", append(append([][]float32{}, good...), make([]float32, 5)), FitConf{Horizon: 2, Dim: 3}, false},
		{"nan", nan, FitConf{Horizon: 2, Dim: 3}, false},
		{"no horizon", good, FitConf{Dim: 3}, true},
		{"levels", good, FitConf{Horizon: 2, Dim: 3, Levels: 65}, true},
		{"codes", good, FitConf{Horizon: 2, Dim: 3, Codes: -1}, true},
		{"too large", good, FitConf{Horizon: 2, Dim: 3, Levels: 64, Codes: 1 << 16}, true},
		{"norm dims", good, FitConf{Horizon: 2, Dim: 3, Norm: &nm}, true},
	} {
		_, _, err := Fit(tc.chunks, tc.conf)
		if err == nil || errors.Is(err, tokenizer.ErrConfig) != tc.config {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	cb := makeCodebook(2, 3, 2, 4, 1)
	cb.LatentDim = 4
	if _, err := Check(cb, good); !errors.Is(err, tokenizer.ErrConfig) {
		t.Errorf("latent codebook: err = %v", err)
	}
	rep := FitReport{Dim: 3, RMS: make([]float64, 3), Max: make([]float64, 3)}
	if err := rep.ScaleToActions(nm); !errors.Is(err, tokenizer.ErrConfig) {
		t.Errorf("ScaleToActions dims: err = %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkFit: "small" is a quick check; "libero" is the size the
// command meets (50 000 chunks of 5×7, 4 levels of 256 codes).
func BenchmarkFit(b *testing.B) {
	for _, bc := range []struct {
		name                  string
		n, codes, levels, its int
	}{{"small", 5000, 64, 2, 25}, {"libero", 50000, 256, 4, 25}} {
		b.Run(bc.name, func(b *testing.B) {
			chunks := smooth(bc.n, 5, 7, 1)
			for b.Loop() {
				if _, _, err := Fit(chunks, FitConf{Horizon: 5, Dim: 7, Levels: bc.levels, Codes: bc.codes, Iters: bc.its}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
