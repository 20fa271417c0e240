package ort

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/efferent/efferent"
)

// Every graph optimisation level loads a float16 graph and gives the same
// chunk, up to float16 rounding; an unknown level is refused by name.
func TestOptimizationLevels(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	if err := (Conf{Optimization: "max"}).Validate(); err == nil || !strings.Contains(err.Error(), "ort.optimization") {
		t.Fatalf("unknown level: %v", err)
	}
	m, g := loadDir(t, "efferent-oft-fixture")
	obs := goldenObservation(t, m, g.Cases[0])
	var first []float64
	for _, level := range []string{"all", "extended", "basic", "disabled"} {
		c, err := OpenContinuous(m, Conf{IntraOpThreads: 1, Optimization: level})
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		var out efferent.Chunk
		err = c.Infer(context.Background(), obs, &out)
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		if first == nil {
			first = out.Actions
			continue
		}
		for i, a := range out.Actions {
			if math.Abs(a-first[i]) > 5e-3 {
				t.Fatalf("%s: action %d = %v, at level all %v", level, i, a, first[i])
			}
		}
	}
}
