package compare

import "fmt"

// Comparison is one comparison of two action streams to report: a policy
// against a teleoperator over an episode (efferent run --viewer), or a
// model against a recording.
type Comparison struct {
	// Title says what was compared, e.g. "policy vs teleoperator".
	Title string `json:"title"`
	// Episode, Task and Instruction say where (optional).
	Episode     int    `json:"episode,omitempty"`
	Task        string `json:"task,omitempty"`
	Instruction string `json:"instruction,omitempty"`
	// Dims names the action dims (default d0, d1, …).
	Dims    []string `json:"dims,omitempty"`
	Summary Summary  `json:"summary"`
}

// DimName is dim d's name: Dims[d], or d<d>.
func (c Comparison) DimName(d int) string {
	if d < len(c.Dims) {
		return c.Dims[d]
	}
	return fmt.Sprintf("d%d", d)
}
