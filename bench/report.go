package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what every measurement returns: printed as a table and
// written as <dir>/<Name>.json by Write.
type Report struct {
	// Name is the part measured (tick, detok, …): the JSON file's name.
	Name string `json:"name"`
	// Machine and When are filled in by Write.
	Machine Machine   `json:"machine"`
	When    time.Time `json:"when"`
	// Rows are the measured cases, in the table's order.
	Rows []Row `json:"rows"`
	// Targets are the goals the numbers are checked against, as text.
	Targets []string `json:"targets,omitempty"`
}

// Row is one measured case. Times are microseconds.
type Row struct {
	// Case names what was measured; N is the number of samples.
	Case string `json:"case"`
	N    int    `json:"n"`
	// P50 and P99 are nearest-rank percentiles of the samples.
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
	// Allocs is the heap allocations per operation of the whole process;
	// −1: not measured (another process's, e.g. a server's).
	Allocs float64 `json:"allocs_per_op"`
	// Extra holds the case's other numbers (ticks, missed deadlines,
	// requests/s, …), printed under the table sorted by key.
	Extra map[string]float64 `json:"extra,omitempty"`
	// Verdict is "meets …" or "MISSES …" against the target, if any.
	Verdict string `json:"verdict,omitempty"`
}

// Machine is the machine a report was measured on: the CPU's model name,
// the logical cores, GOOS/GOARCH, the Go version and, where the NVIDIA
// driver lists them, the GPUs.
type Machine struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	OS    string `json:"os"`
	Go    string `json:"go"`
	GPU   string `json:"gpu,omitempty"`
}

// thisMachine describes the machine this process runs on (the CPU and
// GPU from /proc on Linux).
func thisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					m.CPU = strings.TrimSpace(v)
					break
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/driver/nvidia/gpus"); err == nil {
		m.GPU = strings.TrimSpace(string(data))
	}
	return m
}

// durationRow summarises samples (nearest rank: the sample at index
// ⌊p·n⌋ of the sorted ones).
func durationRow(name string, d []time.Duration) Row {
	r := Row{Case: name, N: len(d)}
	if len(d) == 0 {
		return r
	}
	s := slices.Clone(d)
	slices.Sort(s)
	us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1e3 }
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	rank := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	r.P50, r.P99, r.Max, r.Mean = us(rank(0.5)), us(rank(0.99)), us(s[len(s)-1]), us(sum/time.Duration(len(s)))
	return r
}

// meets formats a target check.
func meets(ok bool, what string) string {
	if ok {
		return "meets " + what
	}
	return "MISSES " + what
}

// Write stamps the report with this machine and the time, prints it to w
// as a table (then each row's extra values and the targets) and, unless
// dir is empty, writes it as JSON to dir/<Name>.json.
func (rep Report) Write(w io.Writer, dir string) error {
	rep.Machine, rep.When = thisMachine(), time.Now().UTC()
	fmt.Fprintf(w, "%s on %s (%d cores)\n", rep.Name, rep.Machine.CPU, rep.Machine.Cores)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tn\tp50 µs\tp99 µs\tmax µs\tmean µs\tallocs/op\t")
	for _, r := range rep.Rows {
		allocs := "-" // not measured (another process's, e.g. a server's)
		if r.Allocs >= 0 {
			allocs = strconv.FormatFloat(r.Allocs, 'f', 2, 64)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\n", r.Case, r.N, r.P50, r.P99, r.Max, r.Mean, allocs, r.Verdict)
	}
	tw.Flush()
	for _, r := range rep.Rows {
		if len(r.Extra) == 0 {
			continue
		}
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(w, "%s:", r.Case)
		for _, k := range keys {
			fmt.Fprintf(w, " %s %g", k, r.Extra[k])
		}
		fmt.Fprintln(w)
	}
	for _, t := range rep.Targets {
		fmt.Fprintln(w, "target:", t)
	}
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, rep.Name+".json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(w, "wrote", path)
	return nil
}
