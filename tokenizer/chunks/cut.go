package chunks

import (
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/tokenizer"
)

// Cut normalises every episode and cuts it into one chunk of h steps per
// step, repeating the episode's last action past its end. The chunks
// share one backing array.
func Cut(eps []Episode, h int, norm tokenizer.Normalizer) [][]float32 {
	d := sim.ActionDim
	total := 0
	for _, e := range eps {
		total += e.Steps()
	}
	buf := make([]float32, total*h*d)
	chunks := make([][]float32, 0, total)
	var a []float64
	for _, e := range eps {
		t := e.Steps()
		a = a[:0]
		for _, v := range e.Actions {
			a = append(a, float64(v))
		}
		norm.Normalize(a)
		for s := range t {
			c := buf[: h*d : h*d]
			buf = buf[h*d:]
			for k := range h {
				src := min(s+k, t-1) * d
				for j := range d {
					c[k*d+j] = float32(a[src+j])
				}
			}
			chunks = append(chunks, c)
		}
	}
	return chunks
}
