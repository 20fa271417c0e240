package eval

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// WriteFiles writes report.json, report.txt and success.png into dir
// (created if missing), and actions.png when a trace was kept. It tries
// every file and reports every failure.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	write := func(name string, fill func(*bytes.Buffer) error) error {
		var b bytes.Buffer
		if err := fill(&b); err != nil {
			return fmt.Errorf("eval: %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		return nil
	}
	pngOf := func(img image.Image) func(*bytes.Buffer) error {
		return func(b *bytes.Buffer) error { return png.Encode(b, img) }
	}
	errs := []error{
		write("report.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }),
		write("report.txt", func(b *bytes.Buffer) error { return r.WriteText(b) }),
		write("success.png", pngOf(SuccessChart(r))),
	}
	if len(r.Traces) > 0 {
		errs = append(errs, write("actions.png", pngOf(ActionsChart(r.Traces[0]))))
	}
	return errors.Join(errs...)
}
