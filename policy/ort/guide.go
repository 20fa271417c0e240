package ort

import (
	"math"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// Real-time chunking for the flow layout (Black et al. 2025, "Real-Time
// Execution of Action Chunking Flow Policies"). While a chunk executes,
// the next is sampled so that it continues it: at every Euler step the
// sample's own estimate of the final chunk, Â = x + (t_end − t)·v, is
// pulled towards the executing chunk's actions Y with the soft mask W
// (policy.GuideWeight: 1 on the steps that will be over when the chunk
// arrives, decaying after them, 0 where the executing chunk ends) and
// the ΠGDM weight (policy.GuidanceScale):
//
//	x ← x + dt·v + |dt|·g(τ)·W⊙(Y − Â)
//
// The paper multiplies W⊙(Y − Â) by the Jacobian ∂Â/∂x (a
// vector-Jacobian product through the action expert). ONNX Runtime runs
// graphs forward only, so efferent takes the Jacobian as the identity
// (Â = x + (t_end − t)·v, dropping v's own dependence on x): the guidance
// moves each guided value of x straight towards its target. The flow
// then carries the change to the free steps through the expert's
// attention on the next Euler steps. Only prefix + step graphs can be
// guided: a flow graph runs its loop inside ONNX Runtime.

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
				w[k*MD+m] = wk
			}
		}
	}
	beta := g.MaxGuidance
	if beta <= 0 {
		beta = policy.DefaultMaxGuidance
	}
	// The weights carry β·W; GuidanceScale's τ-dependence is applied per
	// Euler step with the cap folded in (guideScale below).
	c.guideBeta[j] = float32(beta)
	return true
}

// applyGuide takes one guided Euler step over the n valid rows: x holds
// the samples at time t (progress tau), v their velocities.
func (c *Continuous) applyGuide(x, v []float32, t, tau, dt, to float64) {
	HM := c.m.Action.Horizon * c.m.Action.ModelDimOrDim()
	ahead := float32(to - t)
	adt := float32(math.Abs(dt))
	d := float32(dt)
	for j := range len(x) / HM {
		g := adt * float32(policy.GuidanceScale(tau, float64(c.guideBeta[j])))
		xs, vs := x[j*HM:(j+1)*HM], v[j*HM:(j+1)*HM]
		ws, ys := c.guideW[j*HM:(j+1)*HM], c.guideY[j*HM:(j+1)*HM]
		for i := range xs {
			step := d * vs[i]
			if w := ws[i]; w != 0 {
				est := xs[i] + ahead*vs[i]
				step += g * w * (ys[i] - est)
			}
			xs[i] += step
		}
	}
}
