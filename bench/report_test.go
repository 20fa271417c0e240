package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// durationRow: nearest rank at ⌊p·n⌋ of the sorted samples, whatever
// their order, in microseconds.
func TestDurationRow(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Microsecond)
	}
	r := durationRow("x", d)
	if r.Case != "x" || r.N != 100 || r.P50 != 51 || r.P99 != 100 || r.Max != 100 || r.Mean != 50.5 {
		t.Fatalf("%+v", r)
	}
	if d[0] != 100*time.Microsecond {
		t.Fatal("durationRow sorted its argument")
	}
	if r := durationRow("none", nil); r.N != 0 || r.P50 != 0 {
		t.Fatalf("no samples: %+v", r)
	}
}

func TestMeets(t *testing.T) {
	if meets(true, "< 1 ms") != "meets < 1 ms" || meets(false, "< 1 ms") != "MISSES < 1 ms" {
		t.Fatal(meets(true, "< 1 ms"), meets(false, "< 1 ms"))
	}
}

// Write prints the table (allocations "-" when not measured), the extras
// sorted by key and the targets, and writes the same report as JSON with
// the machine and the time filled in.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	rep := Report{Name: "demo", Targets: []string{"fast"}, Rows: []Row{
		{Case: "a", N: 3, P50: 1, P99: 2, Max: 3, Mean: 1.5, Allocs: 0, Verdict: meets(true, "< 2 µs")},
		{Case: "b", N: 1, Allocs: -1, Extra: map[string]float64{"zeta": 2, "alpha": 1}},
	}}
	var out bytes.Buffer
	if err := rep.Write(&out, dir); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"demo on ", "case", "p50 µs", "allocs/op", "0.00", "meets < 2 µs", "b: alpha 1 zeta 2\n", "target: fast\n", "wrote " + filepath.Join(dir, "demo.json")} {
		if !strings.Contains(s, want) {
			t.Fatalf("no %q in\n%s", want, s)
		}
	}
	lines := strings.Split(s, "\n")
	if f := strings.Fields(lines[3]); len(f) < 7 || f[0] != "b" || f[6] != "-" {
		t.Fatalf("row b: %q, want allocations \"-\"", lines[3])
	}
	data, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "demo" || len(got.Rows) != 2 || got.Machine.Cores < 1 || got.Machine.Go == "" || got.When.IsZero() ||
		got.Rows[1].Extra["zeta"] != 2 || got.Rows[1].Allocs != -1 {
		t.Fatalf("JSON: %s", data)
	}
	for _, k := range []string{`"p50_us"`, `"allocs_per_op"`, `"targets"`, `"machine"`} {
		if !bytes.Contains(data, []byte(k)) {
			t.Fatalf("JSON has no %s: %s", k, data)
		}
	}
	// No directory: the table only.
	out.Reset()
	if err := rep.Write(&out, ""); err != nil || strings.Contains(out.String(), "wrote") {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
