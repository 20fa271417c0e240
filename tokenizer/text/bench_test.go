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

// BenchmarkRealEncode encodes one LIBERO instruction with each real
// tokenizer (testdata/real/sources.json), special tokens on, reusing dst as
// the policy does. The word cache is warm after the first op, as in
// serving, where the same instruction repeats; BenchmarkRealEncodeCold
// clears it every op.
func BenchmarkRealEncode(b *testing.B) {
	benchReal(b, false)
}

func BenchmarkRealEncodeCold(b *testing.B) {
	benchReal(b, true)
}

const liberoInstruction = "pick up the black bowl between the plate and the ramekin and place it on the plate"

func benchReal(b *testing.B, cold bool) {
	for _, src := range realSources(b) {
		b.Run(src.Name, func(b *testing.B) {
			tk := realTokenizer(b, src)
			dst := make([]int64, 0, 1024)
			var err error
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					tk.clearCache()
				}
				if dst, err = tk.AppendEncode(dst[:0], liberoInstruction, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRealParse parses each real tokenizer.json (start-up cost).
func BenchmarkRealParse(b *testing.B) {
	for _, src := range realSources(b) {
		b.Run(src.Name, func(b *testing.B) {
			data := readSrc(b, src)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
