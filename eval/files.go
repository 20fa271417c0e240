package eval

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// WriteFiles writes report.json, report.txt and success.png into dir
// (created if missing), actions.png when a trace was kept, and
// report.html: the charts and the text report in one self-contained page.
// It tries every file and reports every failure.
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
	var charts []chartPNG
	pngOf := func(name string, img image.Image) func(*bytes.Buffer) error {
		return func(b *bytes.Buffer) error {
			if err := png.Encode(b, img); err != nil {
				return err
			}
			charts = append(charts, chartPNG{Name: name, URL: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))})
			return nil
		}
	}
	var text bytes.Buffer
	errs := []error{
		write("report.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }),
		write("report.txt", func(b *bytes.Buffer) error {
			err := r.WriteText(b)
			text.Write(b.Bytes())
			return err
		}),
		write("success.png", pngOf("success.png", SuccessChart(r))),
	}
	if len(r.Traces) > 0 {
		errs = append(errs, write("actions.png", pngOf("actions.png", ActionsChart(r.Traces[0]))))
	}
	errs = append(errs, write("report.html", func(b *bytes.Buffer) error {
		headline := fmt.Sprintf("%.1f %% success over %d episodes (95 %% CI %.1f–%.1f %%)",
			100*r.Overall.SuccessRate, r.Overall.Episodes, 100*r.Overall.CI95.Lo, 100*r.Overall.CI95.Hi)
		return reportPage.Execute(b, map[string]any{"Headline": headline, "Charts": charts, "Text": text.String()})
	}))
	return errors.Join(errs...)
}

type chartPNG struct {
	Name string
	URL  template.URL
}

var reportPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>efferent evaluation report</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}img{max-width:100%;display:block;margin:12px 0}pre{background:#f6f6f6;padding:12px;overflow-x:auto}</style>
</head><body>
<h1>Evaluation: {{.Headline}}</h1>
{{range .Charts}}<img src="{{.URL}}" alt="{{.Name}}">
{{end}}<pre>{{.Text}}</pre>
</body></html>
`))
