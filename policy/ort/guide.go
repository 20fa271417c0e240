package ort

import (
	"math"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// Real-time chunking for the flow layout (Black et al. 2025, "Real-Time
// Execution of Action Chunking Flow Policies"). While a chunk executes,
// the next is sampled so that it continues it: the executing chunk's
// actions Y are inpainted into the sample with the paper's soft mask W
// (policy.GuideWeight: 1 on the steps that will be over when the chunk
// arrives, decaying after them, 0 where the executing chunk ends). After
// every Euler step to time t', each guided value of the sample is moved
// onto the flow's own path towards Y, from the sample's starting noise ε:
//
//	x ← (1 − W)·x + W·x_t'(Y),  x_t'(Y) = s(t')·ε + (1 − s(t'))·Y
//
// with s(t) = (t − t_end)/(t_start − t_end) the noise's share at t (pi0:
// x_t = t·ε + (1 − t)·a). A frozen step (W = 1) is then exactly where the
// flow would have it had Y been the sample, at every t, and Y at the end;
// the network sees inputs like those it was trained on and makes the
// free steps continue them. The paper instead adds a guidance term
// through the vector-Jacobian product of the network (ΠGDM); ONNX
// Runtime runs graphs forward only. Dropping the Jacobian (taking it as
// the identity) pushes the guided values off the flow's path, and was
// measured worse than not guiding at all with efferent-flow (spatial and
// object, 150 ms: 1.5 % against async's 26 %); this inpainting is what
// the paper's hard-masking baseline does, with its soft mask. Only
// prefix + step graphs can be guided: a flow graph runs its loop inside
// ONNX Runtime.

// setGuide fills row j's target and weights from g; it reports whether
// the row is guided. A guide of the wrong width, or none, leaves the row
// unguided (its weights 0).
func (c *Continuous) setGuide(j int, g *efferent.ActionGuide) bool {
	a := &c.m.Action
	H, MD := a.Horizon, a.ModelDimOrDim()
	w, y := c.guideW[j*H*MD:(j+1)*H*MD], c.guideY[j*H*MD:(j+1)*H*MD]
	clear(w)
	if g.Steps <= 0 || g.D != a.Dim || len(g.Actions) < g.Steps*g.D {
		return false
	}
	steps := min(g.Steps, H)
	d := min(max(g.Delay, 0), steps)
	guided := false
	for k := range steps {
		wk := float32(policy.GuideWeight(k, d, steps))
		if wk == 0 {
			continue
		}
		row := g.Actions[k*g.D : (k+1)*g.D]
		finite := true
		for _, v := range row {
			finite = finite && !math.IsNaN(v) && !math.IsInf(v, 0)
		}
		if !finite {
			continue // never guide towards NaN (the scheduler never gives it)
		}
		a.Normalize(row, y[k*MD:(k+1)*MD], c.guideOK)
		for m, ok := range c.guideOK {
			if ok {
				w[k*MD+m], guided = wk, true
			}
		}
	}
	return guided
}

// applyGuide takes one guided Euler step to time next over the n valid
// rows: x holds the samples, v their velocities, eps the rows' starting
// noise; share is the noise's share of the flow's path at next.
func (c *Continuous) applyGuide(x, v, eps []float32, dt, share float64) {
	HM := c.m.Action.Horizon * c.m.Action.ModelDimOrDim()
	d, s := float32(dt), float32(share)
	for j := range len(x) / HM {
		xs, vs, es := x[j*HM:(j+1)*HM], v[j*HM:(j+1)*HM], eps[j*HM:(j+1)*HM]
		ws, ys := c.guideW[j*HM:(j+1)*HM], c.guideY[j*HM:(j+1)*HM]
		for i := range xs {
			xn := xs[i] + d*vs[i]
			if w := ws[i]; w != 0 {
				xn = (1-w)*xn + w*(s*es[i]+(1-s)*ys[i])
			}
			xs[i] = xn
		}
	}
}
