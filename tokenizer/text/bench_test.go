package text

import (
	"path"
	"testing"
)

// BenchmarkEncode encodes golden.json's sentences (the golden test's table)
// with each fixture: "robot", one typical instruction, and "table", every
// sentence the fixture accepts, per op. AppendEncode reuses one dst, as the
// policy does, so allocations are the tokenizer's own.
func BenchmarkEncode(b *testing.B) {
	for _, fx := range loadGolden(b).Fixtures {
		tk, err := Load(fx.Path)
		if err != nil {
			b.Fatal(err)
		}
		var robot string
		var table []string
		for _, c := range fx.Cases {
			if _, err := tk.Encode(c.Text, true); err != nil {
				continue // refused (see refused in golden_test.go)
			}
			table = append(table, c.Text)
			if c.Name == "robot" {
				robot = c.Text
			}
		}
		name := path.Base(fx.Path)
		if name == "tokenizer.json" {
			name = "efferent-fixture"
		}
		for _, bc := range []struct {
			name  string
			texts []string
		}{{"robot", []string{robot}}, {"table", table}} {
			b.Run(name+"/"+bc.name, func(b *testing.B) {
				dst := make([]int64, 0, 1024)
				b.ReportAllocs()
				for b.Loop() {
					for _, text := range bc.texts {
						if dst, err = tk.AppendEncode(dst[:0], text, true); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
