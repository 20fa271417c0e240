package policy

import "math"

// FlowNoise fills dst with standard normal noise from seed: the flow
// layout's starting sample, reproducible in any language from this
// definition. A splitmix64 stream (state += 0x9E3779B97F4A7C15, then the
// finalizer) gives two 53-bit uniforms per pair of values, u1 in (0, 1]
// and u2 in [0, 1), and Box–Muller turns them into
// r·cos(2π u2), r·sin(2π u2) with r = sqrt(−2 ln u1), computed in float64
// and rounded to float32. It allocates nothing.
func FlowNoise(seed uint64, dst []float32) {
	state := seed
	next := func() uint64 {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	const scale = 1.0 / (1 << 53)
	for i := 0; i < len(dst); i += 2 {
		u1 := float64((next()>>11)+1) * scale
		u2 := float64(next()>>11) * scale
		r := math.Sqrt(-2 * math.Log(u1))
		dst[i] = float32(r * math.Cos(2*math.Pi*u2))
		if i+1 < len(dst) {
			dst[i+1] = float32(r * math.Sin(2*math.Pi*u2))
		}
	}
}

// Unnormalize maps one row of the model's actions (model_dim values) to
// the robot's (action.dim values): the robot dims picked out, then
// unnormalised as the statistics' kind says.
func (a ActionSpec) Unnormalize(row []float32, dst []float64) {
	n := a.Normalization
	dims := a.RobotDims
	for i := range dst {
		j := i
		if dims != nil {
			j = dims[i]
		}
		v := float64(row[j])
		if n.Mask == nil || n.Mask[i] {
			switch n.Kind {
			case NormMeanStd:
				v = v*n.Std[i] + n.Mean[i]
			default:
				v = 0.5*(v+1)*(n.Q99[i]-n.Q01[i]) + n.Q01[i]
			}
		}
		dst[i] = v
	}
}
