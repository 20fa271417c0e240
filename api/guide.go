package api

import (
	"fmt"
	"math"

	"github.com/efferent/efferent"
)

// Real-time chunking over the wire: a request may carry the executing
// chunk's actions from the observation on and the expected inference
// delay (efferent.ActionGuide), named as LeRobot's RTC names them. A
// server whose model can use them says so in its metadata frame
// (MetaRealTimeChunking: true); openpi clients send neither key.
const (
	// GuideKey is the optional float ndarray (steps, D) of the executing
	// chunk's actions, robot units, row k for the step k periods after
	// the observation.
	GuideKey = "prev_chunk_left_over"
	// GuideDelayKey is the optional integer: how many of those steps
	// will be over when the reply arrives (0 … steps). Default 0.
	GuideDelayKey = "inference_delay"
	// MetaRealTimeChunking is the metadata key a server sets to true
	// when its model reads a guide.
	MetaRealTimeChunking = "real_time_chunking"
	// MetaMaxLagSteps is the metadata key a server sets to the model's
	// declared lag tolerance (manifest action.max_lag_steps): how many
	// steps into a chunk it may start executing it. A client in async or
	// rtc mode slows chunks down beyond it (control.SchedulerConf).
	MetaMaxLagSteps = "max_lag_steps"
	// MaxGuideSteps bounds a guide's rows.
	MaxGuideSteps = 1024
)

// guide parses the optional guide keys into g. dim is the model's action
// dim (spec.GuideDim); 0 means the model cannot guide, and the keys are
// ignored as any other unknown key.
func guide(v *Value, dim int, g *efferent.ActionGuide) error {
	gv, ok := v.Get(GuideKey)
	if !ok || dim == 0 || gv.Kind == Nil {
		return nil
	}
	if gv.Kind != Array {
		return fmt.Errorf("%s: %w: is %v, want a float ndarray (steps, %d)", GuideKey, ErrMalformed, gv.Kind, dim)
	}
	a := gv.Array
	if len(a.Shape) != 2 || a.Shape[1] != dim || a.Shape[0] < 1 || a.Shape[0] > MaxGuideSteps {
		return fmt.Errorf("%s: %w: shape %v, want (1..%d, %d)", GuideKey, ErrBadShape, a.Shape, MaxGuideSteps, dim)
	}
	if a.DType.Kind != 'f' {
		return fmt.Errorf("%s: %w: %s, want float", GuideKey, ErrBadDType, a.DType)
	}
	n := a.Shape[0] * dim
	g.Actions = make([]float64, n)
	for i := range g.Actions {
		f := a.Float64(i)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s: %w: element %d is %v", GuideKey, ErrNotFinite, i, f)
		}
		g.Actions[i] = f
	}
	g.Steps, g.D = a.Shape[0], dim
	if dv, ok := v.Get(GuideDelayKey); ok && dv.Kind != Nil {
		if dv.Kind != Int || dv.Int < 0 || dv.Int > int64(g.Steps) {
			return fmt.Errorf("%s: %w: want an integer 0..%d (the guide's steps)", GuideDelayKey, ErrMalformed, g.Steps)
		}
		g.Delay = int(dv.Int)
	}
	return nil
}

// appendGuide appends the guide's two keys (the caller counted them).
func appendGuide(b []byte, g *efferent.ActionGuide) []byte {
	b = AppendFloat64Array(appendStr(b, GuideKey), []int{g.Steps, g.D}, g.Actions[:g.Steps*g.D])
	return appendInt(appendStr(b, GuideDelayKey), int64(g.Delay))
}

// sendsGuide says whether EncodeObservation writes obs's guide.
func sendsGuide(obs *efferent.Observation, spec ObsSpec) bool {
	g := &obs.Guide
	return spec.GuideDim > 0 && g.Steps > 0 && g.D == spec.GuideDim && len(g.Actions) >= g.Steps*g.D
}
