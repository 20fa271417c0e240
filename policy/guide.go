package policy

import "math"

// GuideWeight is real-time chunking's soft mask (Black et al. 2025, eq. 5)
// for step i of a new chunk, when the executing chunk gives the first
// steps of it and d of them will be over when it arrives: 1 for the
// frozen steps i < d; c·(e^c − 1)/(e − 1) with c = (steps − i)/(steps − d + 1)
// for d ≤ i < steps, decaying from nearly 1 towards 0; 0 from steps on,
// where the executing chunk has nothing to say. (The paper's H − s is
// steps here: how far the executing chunk reaches.)
func GuideWeight(i, d, steps int) float64 {
	switch {
	case i < 0 || i >= steps:
		return 0
	case i < d:
		return 1
	}
	c := float64(steps-i) / float64(steps-d+1)
	return c * math.Expm1(c) / (math.E - 1)
}

// Normalize maps one robot-unit action row (action.dim values) into the
// model's units and dims (model_dim values), the inverse of Unnormalize.
// It reports in ok which model dims it set: a robot dim whose statistics
// collapse (q01 = q99, std = 0) carries no information back and is not
// set, nor are the model's padding dims.
func (a ActionSpec) Normalize(src []float64, dst []float32, ok []bool) {
	clear(ok)
	n := a.Normalization
	for i, v := range src {
		j := i
		if a.RobotDims != nil {
			j = a.RobotDims[i]
		}
		if n.Mask == nil || n.Mask[i] {
			switch n.Kind {
			case NormMeanStd:
				if n.Std[i] == 0 {
					continue
				}
				v = (v - n.Mean[i]) / n.Std[i]
			default:
				span := n.Q99[i] - n.Q01[i]
				if span == 0 {
					continue
				}
				v = 2*(v-n.Q01[i])/span - 1
			}
		}
		dst[j], ok[j] = float32(v), true
	}
}
