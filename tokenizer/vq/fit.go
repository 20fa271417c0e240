package vq

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/efferent/efferent/tokenizer"
)

// Fit defaults (see FitConf).
const (
	DefaultFitLevels = 4
	DefaultFitCodes  = 256
	DefaultFitIters  = 25
	DefaultFitSeed   = 1
)

// fitStream is the second PCG word of Fit's generator: the seed picks the
// first, so equal seeds give equal codebooks.
const fitStream = 0x9e3779b97f4a7c15

// FitConf configures Fit. Zero values mean the documented defaults.
type FitConf struct {
	// Horizon and Dim are the chunk shape (required): every chunk has
	// Horizon·Dim values, row-major (step, then action dim).
	Horizon, Dim int
	// Levels is the number of residual levels (tokens per chunk), default 4.
	Levels int
	// Codes is the number of codes per level, default 256.
	Codes int
	// Iters bounds the Lloyd iterations per level, default 25; a level
	// stops early once no assignment changes.
	Iters int
	// Seed seeds the k-means++ generator (PCG), default 1 (0 means 1).
	Seed uint64
	// Restarts is the number of independent k-means++ runs per level,
	// default 1; the run with the lowest squared error is kept.
	Restarts int
	// Workers is the number of goroutines of the assignment step, default
	// GOMAXPROCS. The result does not depend on it.
	Workers int
	// Norm, if set, adds action-unit errors to the report (see
	// FitReport.ScaleToActions).
	Norm *tokenizer.Normalizer
}

func (c FitConf) withDefaults() (FitConf, error) {
	c.Levels = cmp.Or(c.Levels, DefaultFitLevels)
	c.Codes = cmp.Or(c.Codes, DefaultFitCodes)
	c.Iters = cmp.Or(c.Iters, DefaultFitIters)
	c.Seed = cmp.Or(c.Seed, DefaultFitSeed)
	c.Restarts = cmp.Or(c.Restarts, 1)
	c.Workers = cmp.Or(c.Workers, runtime.GOMAXPROCS(0))
	for _, f := range []struct {
		name   string
		v, max int
	}{{"Horizon", c.Horizon, 4096}, {"Dim", c.Dim, 256}, {"Levels", c.Levels, 64}, {"Codes", c.Codes, 1 << 16},
		{"Iters", c.Iters, 1 << 20}, {"Restarts", c.Restarts, 1 << 10}, {"Workers", c.Workers, 1 << 10}} {
		if f.v <= 0 || f.v > f.max {
			return c, fmt.Errorf("%w: fit %s = %d, want 1..%d", tokenizer.ErrConfig, f.name, f.v, f.max)
		}
	}
	if c.Horizon*c.Dim > 1<<16 || c.Levels*c.Codes*c.Horizon*c.Dim > 1<<24 {
		return c, fmt.Errorf("%w: a codebook of %d×%d×%d values is too large", tokenizer.ErrConfig, c.Levels, c.Codes, c.Horizon*c.Dim)
	}
	if c.Norm != nil && c.Norm.Dim() != c.Dim {
		return c, fmt.Errorf("%w: normalisation has %d dims, chunks have %d", tokenizer.ErrConfig, c.Norm.Dim(), c.Dim)
	}
	return c, nil
}

// FitReport measures a codebook on a set of chunks: the reconstruction
// is the greedy residual encoding (Detokenizer.Encode's), decoded with the
// identity decoder. Errors are taken against the normalised (clipped)
// chunks.
type FitReport struct {
	Chunks       int
	Horizon, Dim int
	// RMS and Max are the root-mean-square and largest absolute
	// reconstruction error per action dim, over all chunks and steps, in
	// normalised units.
	RMS, Max []float64
	// RMSAll is the RMS over every value of every chunk (normalised).
	RMSAll float64
	// RMSAction and MaxAction are RMS and Max in action units: nil until
	// ScaleToActions (Fit calls it when FitConf.Norm is set).
	RMSAction, MaxAction []float64
	// Levels reports each level's code usage.
	Levels []LevelReport
}

// LevelReport is one level's code usage.
type LevelReport struct {
	// Used is the number of codes chosen by at least one chunk.
	Used int
	// Perplexity is exp(entropy) of the codes' usage distribution: Codes
	// when usage is uniform, 1 when one code takes every chunk.
	Perplexity float64
	// ResidualRMS is the RMS of what is left after this level (over all
	// values, normalised units).
	ResidualRMS float64
	// Iters is the Lloyd iterations run and Reseeded the dead codes moved
	// to high-error points (Fit only; zero from Check).
	Iters, Reseeded int
}

// ScaleToActions fills RMSAction and MaxAction: masked dims are scaled by
// (q99 − q01)/2 (Unnormalize is linear), unmasked ones pass through.
func (r *FitReport) ScaleToActions(n tokenizer.Normalizer) error {
	if n.Dim() != r.Dim || len(r.RMS) != r.Dim {
		return fmt.Errorf("%w: normalisation has %d dims, report %d", tokenizer.ErrConfig, n.Dim(), r.Dim)
	}
	r.RMSAction, r.MaxAction = make([]float64, r.Dim), make([]float64, r.Dim)
	for j := range r.Dim {
		s := 1.0
		if n.Mask[j] {
			s = (n.Q99[j] - n.Q01[j]) / 2
		}
		r.RMSAction[j], r.MaxAction[j] = r.RMS[j]*s, r.Max[j]*s
	}
	return nil
}

// Fit fits a residual VQ codebook to chunks (each Horizon·Dim normalised
// values, row-major), level by level: level 0 runs k-means on the chunks,
// level g on what levels < g left (chunk − sum of the chosen codes). Each
// level is k-means++ seeded from a PCG generator and refined by up to
// Iters Lloyd iterations (accelerated with Hamerly's bounds, which skip
// points that provably keep their code; the labels are those of a full
// search); a code left without points after an iteration is moved to the
// point with the largest current error (one point per dead code, largest
// error first). Code vectors are float32 throughout, and the final labels
// of each level come from the same greedy nearest-code search, summed in
// the same order, as Detokenizer.Encode, so the residuals Fit works on
// and reports are the ones Encode computes.
//
// The codebook lives in chunk space (LatentDim = Horizon·Dim, no latent
// decoder). The result is deterministic for a seed whatever Workers is.
// The report is Check's on the training chunks, plus iteration counts.
func Fit(chunks [][]float32, conf FitConf) (*Codebook, FitReport, error) {
	conf, err := conf.withDefaults()
	if err != nil {
		return nil, FitReport{}, err
	}
	d := conf.Horizon * conf.Dim
	x, err := flatten(chunks, d)
	if err != nil {
		return nil, FitReport{}, err
	}
	n := len(chunks)
	cb := &Codebook{Horizon: conf.Horizon, Dim: conf.Dim, Levels: conf.Levels, Codes: conf.Codes, LatentDim: d,
		Vectors: make([]float32, conf.Levels*conf.Codes*d)}
	rng := rand.New(rand.NewPCG(conf.Seed, fitStream))
	km := newKmeans(x, n, d, conf.Codes, conf.Workers)
	bestCents, bestLabels := make([]float64, conf.Codes*d), make([]int32, n)
	fits := make([]LevelReport, conf.Levels)
	for g := range conf.Levels {
		bestSSE := math.Inf(1)
		for range conf.Restarts {
			sse, iters, reseeded := km.run(rng, conf.Iters)
			fits[g].Iters += iters
			fits[g].Reseeded += reseeded
			if sse < bestSSE {
				bestSSE = sse
				copy(bestCents, km.cents)
				copy(bestLabels, km.labels)
			}
		}
		for c := range conf.Codes {
			v := cb.Vector(g, c)
			for k := range v {
				v[k] = float32(bestCents[c*d+k])
			}
		}
		parallel(n, conf.Workers, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				xi, ci := x[i*d:(i+1)*d], bestCents[int(bestLabels[i])*d:]
				for k := range xi {
					xi[k] -= ci[k]
				}
			}
		})
	}
	rep, err := check(cb, chunks, conf.Workers)
	if err != nil {
		return nil, FitReport{}, err
	}
	for g := range rep.Levels {
		rep.Levels[g].Iters, rep.Levels[g].Reseeded = fits[g].Iters, fits[g].Reseeded
	}
	if conf.Norm != nil {
		if err := rep.ScaleToActions(*conf.Norm); err != nil {
			return nil, FitReport{}, err
		}
	}
	return cb, rep, nil
}

// Check measures cb on chunks (each Horizon·Dim normalised values): it
// encodes every chunk greedily, as Detokenizer.Encode does, and reports
// the reconstruction error and code usage. Use it on held-out data.
func Check(cb *Codebook, chunks [][]float32) (FitReport, error) {
	return check(cb, chunks, runtime.GOMAXPROCS(0))
}

func check(cb *Codebook, chunks [][]float32, workers int) (FitReport, error) {
	d := cb.Horizon * cb.Dim
	if cb.LatentDim != d || len(cb.Vectors) != cb.Levels*cb.Codes*d || cb.Dim <= 0 {
		return FitReport{}, fmt.Errorf("%w: codebook latent_dim %d must equal horizon×dim = %d (no latent decoder)", tokenizer.ErrConfig, cb.LatentDim, d)
	}
	x, err := flatten(chunks, d)
	if err != nil {
		return FitReport{}, err
	}
	n, L, K := len(chunks), cb.Levels, cb.Codes
	cents := make([]float64, len(cb.Vectors))
	for i, v := range cb.Vectors {
		cents[i] = float64(v)
	}
	codes := make([]int32, n*L)
	resid := make([]float64, n*L) // squared residual norm after each level
	parallel(n, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi := x[i*d : (i+1)*d]
			for g := range L {
				lc := cents[g*K*d : (g+1)*K*d]
				c, _ := nearest(xi, lc, K, d)
				codes[i*L+g] = int32(c)
				var s float64
				for k, v := range lc[c*d : (c+1)*d] {
					xi[k] -= v
					s += xi[k] * xi[k]
				}
				resid[i*L+g] = s
			}
		}
	})
	rep := FitReport{Chunks: n, Horizon: cb.Horizon, Dim: cb.Dim, RMS: make([]float64, cb.Dim), Max: make([]float64, cb.Dim),
		Levels: make([]LevelReport, L)}
	var all float64
	for i, e := range x { // x now holds the final residuals
		j := i % d % cb.Dim
		rep.RMS[j] += e * e
		rep.Max[j] = max(rep.Max[j], math.Abs(e))
		all += e * e
	}
	if n > 0 {
		for j := range rep.RMS {
			rep.RMS[j] = math.Sqrt(rep.RMS[j] / float64(n*cb.Horizon))
		}
		rep.RMSAll = math.Sqrt(all / float64(n*d))
	}
	count := make([]int, K)
	for g := range L {
		clear(count)
		var s float64
		for i := range n {
			count[codes[i*L+g]]++
			s += resid[i*L+g]
		}
		lr := &rep.Levels[g]
		var h float64
		for _, c := range count {
			if c > 0 {
				lr.Used++
				p := float64(c) / float64(n)
				h -= p * math.Log(p)
			}
		}
		lr.Perplexity = math.Exp(h)
		if n > 0 {
			lr.ResidualRMS = math.Sqrt(s / float64(n*d))
		}
	}
	return rep, nil
}

// flatten copies chunks into one float64 slice, checking sizes and values.
func flatten(chunks [][]float32, d int) ([]float64, error) {
	if len(chunks) == 0 {
		return nil, errors.New("vq: no chunks")
	}
	x := make([]float64, 0, len(chunks)*d)
	for i, c := range chunks {
		if len(c) != d {
			return nil, fmt.Errorf("vq: chunk %d has %d values, want %d", i, len(c), d)
		}
		for k, v := range c {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("vq: chunk %d [%d] is %v", i, k, v)
			}
			x = append(x, float64(v))
		}
	}
	return x, nil
}

// kmeans is one level's Lloyd state over x (n points of d values). The
// Lloyd iterations skip points with Hamerly's bounds (G. Hamerly, "Making
// k-means even faster", SDM 2010): upper[i] bounds the distance to the
// point's centre, lower[i] that to every other centre, and a point is only
// searched again when the bounds no longer prove its centre is strictly
// the nearest (with a margin for rounding, so the labels are exactly
// those of a full search).
type kmeans struct {
	x       []float64
	n, d, k int
	workers int
	labels  []int32   // nearest code per point
	dist    []float64 // squared distance to it (exact after run)
	cents   []float64 // k×d, every value float32-representable
	old     []float64 // cents before an update
	sums    []float64
	counts  []int
	order   []int

	upper, lower []float64 // Hamerly bounds (distances, not squared)
	move, half   []float64 // per centre: distance moved; half the gap to the nearest other centre
	tol          float64   // rounding margin on the bounds
}

func newKmeans(x []float64, n, d, k, workers int) *kmeans {
	return &kmeans{x: x, n: n, d: d, k: k, workers: workers,
		labels: make([]int32, n), dist: make([]float64, n), cents: make([]float64, k*d), old: make([]float64, k*d),
		sums: make([]float64, k*d), counts: make([]int, k),
		upper: make([]float64, n), lower: make([]float64, n), move: make([]float64, k), half: make([]float64, k)}
}

// run seeds and refines the centres; it leaves labels and dist exact for
// cents and returns the squared error, the iterations run and the codes
// reseeded.
func (m *kmeans) run(rng *rand.Rand, iters int) (sse float64, ran, reseeded int) {
	var scale float64
	for _, v := range m.x {
		scale = max(scale, math.Abs(v))
	}
	m.tol = 1e-9 * scale * math.Sqrt(float64(m.d))
	m.seed(rng)
	m.searchAll()
	for ran < iters {
		ran++
		moved, r := m.update()
		reseeded += r
		if !moved {
			break // the centres are the means of their points: converged
		}
		if ran < iters {
			m.assignBounded()
		}
	}
	m.assign()
	for _, v := range m.dist {
		sse += v
	}
	return sse, ran, reseeded
}

// seed is k-means++: the first centre is a uniformly drawn point, each next
// one a point drawn with probability proportional to its squared distance
// to the nearest centre so far (uniformly when every point is on a
// centre, as when there are more codes than distinct points).
func (m *kmeans) seed(rng *rand.Rand) {
	d := m.d
	m.setCent(0, rng.IntN(m.n))
	for i := range m.dist {
		m.dist[i] = math.Inf(1)
	}
	for c := 0; c+1 < m.k; c++ {
		cc := m.cents[c*d : (c+1)*d]
		parallel(m.n, m.workers, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if s, ok := distBelow(m.x[i*d:(i+1)*d], cc, m.dist[i]); ok {
					m.dist[i] = s
				}
			}
		})
		var total float64
		for _, v := range m.dist {
			total += v
		}
		pick := -1
		if total > 0 && !math.IsInf(total, 0) {
			u := rng.Float64() * total
			var cum float64
			for i, v := range m.dist {
				if v > 0 {
					pick = i
					if cum += v; cum > u {
						break
					}
				}
			}
		}
		if pick < 0 {
			pick = rng.IntN(m.n)
		}
		m.setCent(c+1, pick)
	}
}

// setCent sets centre c to point i, rounded to float32.
func (m *kmeans) setCent(c, i int) {
	for k, v := range m.x[i*m.d : (i+1)*m.d] {
		m.cents[c*m.d+k] = float64(float32(v))
	}
}

// searchAll labels every point by a full search and sets its bounds.
func (m *kmeans) searchAll() {
	d := m.d
	parallel(m.n, m.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			c, d1, d2 := nearest2(m.x[i*d:(i+1)*d], m.cents, m.k, d)
			m.labels[i], m.upper[i], m.lower[i] = int32(c), math.Sqrt(d1), math.Sqrt(d2)
		}
	})
}

// assignBounded relabels the points whose bounds do not prove their centre
// is still the nearest.
func (m *kmeans) assignBounded() {
	d := m.d
	parallel(m.n, m.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			a := int(m.labels[i])
			bound := max(m.half[a], m.lower[i]) - m.tol
			if m.upper[i] < bound {
				continue
			}
			x := m.x[i*d : (i+1)*d]
			s, _ := distBelow(x, m.cents[a*d:(a+1)*d], math.Inf(1))
			if m.upper[i] = math.Sqrt(s) + m.tol; m.upper[i] < bound {
				continue
			}
			c, d1, d2 := nearest2(x, m.cents, m.k, d)
			m.labels[i], m.upper[i], m.lower[i] = int32(c), math.Sqrt(d1), math.Sqrt(d2)
		}
	})
}

// assign labels every point with its nearest centre by a full search
// (started at its current label) and sets dist.
func (m *kmeans) assign() {
	d := m.d
	parallel(m.n, m.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			c, s := nearestFrom(m.x[i*d:(i+1)*d], m.cents, m.k, d, int(m.labels[i]))
			m.labels[i], m.dist[i] = int32(c), s
		}
	})
}

// update moves every centre to the mean of its points (rounded to
// float32), reseeds the dead ones and updates the bounds; it reports
// whether any centre moved and how many it reseeded.
func (m *kmeans) update() (moved bool, reseeded int) {
	d := m.d
	copy(m.old, m.cents)
	clear(m.sums)
	clear(m.counts)
	for i := range m.n {
		c := int(m.labels[i])
		m.counts[c]++
		s := m.sums[c*d : (c+1)*d]
		for k, v := range m.x[i*d : (i+1)*d] {
			s[k] += v
		}
	}
	var dead []int
	for c, n := range m.counts {
		if n == 0 {
			dead = append(dead, c)
			continue
		}
		for k := range d {
			m.cents[c*d+k] = float64(float32(m.sums[c*d+k] / float64(n)))
		}
	}
	if len(dead) > 0 {
		reseeded = m.reseed(dead)
	}
	// Bounds: a point's centre moved by at most move[a], any other by at
	// most the largest move among the others.
	top, top2, arg := 0.0, 0.0, -1
	for c := range m.k {
		s, _ := distBelow(m.cents[c*d:(c+1)*d], m.old[c*d:(c+1)*d], math.Inf(1))
		p := math.Sqrt(s)
		m.move[c] = p
		if p > top {
			top, top2, arg = p, top, c
		} else if p > top2 {
			top2 = p
		}
	}
	if top == 0 {
		return false, reseeded
	}
	parallel(m.n, m.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			a := int(m.labels[i])
			m.upper[i] += m.move[a]
			if a == arg {
				m.lower[i] -= top2
			} else {
				m.lower[i] -= top
			}
		}
	})
	for c := range m.k {
		m.half[c] = math.Inf(1)
	}
	for c := range m.k {
		for o := c + 1; o < m.k; o++ {
			s, _ := distBelow(m.cents[c*d:(c+1)*d], m.cents[o*d:(o+1)*d], math.Inf(1))
			h := 0.5 * math.Sqrt(s)
			m.half[c], m.half[o] = min(m.half[c], h), min(m.half[o], h)
		}
	}
	return true, reseeded
}

// reseed moves the dead codes to the points with the largest error (squared
// distance to their updated centre), largest first, ties by index; points
// on their centre are not used. It returns how many it moved.
func (m *kmeans) reseed(dead []int) int {
	d := m.d
	parallel(m.n, m.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			a := int(m.labels[i])
			m.dist[i], _ = distBelow(m.x[i*d:(i+1)*d], m.cents[a*d:(a+1)*d], math.Inf(1))
		}
	})
	m.order = m.order[:0]
	for i, v := range m.dist {
		if v > 0 {
			m.order = append(m.order, i)
		}
	}
	slices.SortFunc(m.order, func(a, b int) int {
		if c := cmp.Compare(m.dist[b], m.dist[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	r := 0
	for j, c := range dead {
		if j == len(m.order) {
			break
		}
		m.setCent(c, m.order[j])
		r++
	}
	return r
}

// nearest2 returns the nearest centre and the squared distances to it and
// to the second nearest (+Inf when k is 1); ties go to the lower index.
func nearest2(x, cents []float64, k, d int) (c1 int, d1, d2 float64) {
	d1, d2 = math.Inf(1), math.Inf(1)
	var s [4]float64
	for c := 0; c < k; c += 4 {
		n := dist4(x, cents, c, k, d, d2, &s)
		for j := range n {
			if s[j] < d1 {
				d1, d2, c1 = s[j], d1, c+j
			} else if s[j] < d2 {
				d2 = s[j]
			}
		}
	}
	return c1, d1, d2
}

// nearest returns the index of the centre nearest x and the squared
// distance; ties go to the lower index. Distances are summed in dim order
// in float64, exactly as Detokenizer.Encode does, so both pick the same
// code.
func nearest(x, cents []float64, k, d int) (int, float64) {
	best, bc := math.Inf(1), 0
	var s [4]float64
	for c := 0; c < k; c += 4 {
		n := dist4(x, cents, c, k, d, best, &s)
		for j := range n {
			if s[j] < best {
				best, bc = s[j], c+j
			}
		}
	}
	return bc, best
}

// dist4 sets s[j] to the squared distance between x and centre c+j for
// the (up to) four centres from c, and returns how many there were. Each
// sum runs in dim order (four independent chains, for the pipeline); it
// may stop early once every sum has reached bound, leaving partial sums
// that are still >= bound (partial sums of non-negative terms never
// decrease), so s[j] < bound holds exactly when the full distance is below
// bound.
func dist4(x, cents []float64, c, k, d int, bound float64, s *[4]float64) int {
	if c+4 > k {
		n := k - c
		for j := range n {
			s[j], _ = distBelow(x, cents[(c+j)*d:(c+j+1)*d], bound)
		}
		return n
	}
	c0 := cents[c*d : (c+1)*d][:len(x)]
	c1 := cents[(c+1)*d : (c+2)*d][:len(x)]
	c2 := cents[(c+2)*d : (c+3)*d][:len(x)]
	c3 := cents[(c+3)*d : (c+4)*d][:len(x)]
	var s0, s1, s2, s3 float64
	k0 := 0
	for ; k0+4 <= len(x); k0 += 4 {
		for kk, v := range x[k0 : k0+4] {
			kk += k0
			e0, e1, e2, e3 := v-c0[kk], v-c1[kk], v-c2[kk], v-c3[kk]
			s0 += e0 * e0
			s1 += e1 * e1
			s2 += e2 * e2
			s3 += e3 * e3
		}
		if s0 >= bound && s1 >= bound && s2 >= bound && s3 >= bound {
			*s = [4]float64{s0, s1, s2, s3}
			return 4
		}
	}
	for ; k0 < len(x); k0++ {
		v := x[k0]
		e0, e1, e2, e3 := v-c0[k0], v-c1[k0], v-c2[k0], v-c3[k0]
		s0 += e0 * e0
		s1 += e1 * e1
		s2 += e2 * e2
		s3 += e3 * e3
	}
	*s = [4]float64{s0, s1, s2, s3}
	return 4
}

// nearestFrom is nearest, with the search started at centre hint (if
// hint >= 0): when points rarely move, the first distance is already the
// smallest and most others stop after a few dims. The result is nearest's.
func nearestFrom(x, cents []float64, k, d, hint int) (int, float64) {
	if hint < 0 {
		return nearest(x, cents, k, d)
	}
	best, _ := distBelow(x, cents[hint*d:(hint+1)*d], math.Inf(1))
	bc := hint
	for c := range k {
		if c == hint {
			continue
		}
		bound := best
		if c < bc {
			bound = math.Nextafter(best, math.Inf(1)) // ties go to the lower index
		}
		if s, ok := distBelow(x, cents[c*d:(c+1)*d], bound); ok {
			best, bc = s, c
		}
	}
	return bc, best
}

// distBelow returns the squared distance between x and c and whether it
// is below bound; it stops early once the partial sum reaches bound (the
// partial sums of non-negative terms never decrease, so this is exact).
func distBelow(x, c []float64, bound float64) (float64, bool) {
	c = c[:len(x)]
	var s float64
	k := 0
	for ; k+4 <= len(x); k += 4 {
		e0, e1, e2, e3 := x[k]-c[k], x[k+1]-c[k+1], x[k+2]-c[k+2], x[k+3]-c[k+3]
		s += e0 * e0
		s += e1 * e1
		s += e2 * e2
		s += e3 * e3
		if s >= bound {
			return s, false
		}
	}
	for ; k < len(x); k++ {
		e := x[k] - c[k]
		s += e * e
	}
	return s, s < bound
}

// parallel runs f over [0, n) split into at most workers contiguous ranges
// (of at least 256 points each).
func parallel(n, workers int, f func(lo, hi int)) {
	workers = max(1, min(workers, n/256))
	if workers == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f(n*w/workers, n*(w+1)/workers) })
	}
	wg.Wait()
}
