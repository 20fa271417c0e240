package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/efferent/efferent/policy/ort"
)

func TestModelInspect(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the model under ONNX Runtime")
	}
	t.Setenv("EFFERENT_CONFIG", "")
	out := runCommand(t, modelCmd(), "inspect", "efferent-tiny")
	for _, want := range []string{
		"model        efferent-tiny",
		"layout       autoregressive",
		"encoder.file: encoder.onnx",
		"in   image_0", "uint8    [batch, 224, 224, 3]",
		"in   state", "float32  [batch, 8]",
		"out  logits", "float32  [batch, 1, 1088]",
		"cpu: usable",
		"chunk 5x7, all finite",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	var in ort.Inspection
	js := runCommand(t, modelCmd(), "inspect", "--json", "--model", "efferent-fixture")
	if err := json.Unmarshal([]byte(js), &in); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	if in.Name != "efferent-fixture" || in.Layout != "autoregressive" || len(in.Graphs) != 3 || in.Infer == nil || !in.Infer.Finite {
		t.Fatalf("JSON inspection %+v", in)
	}
}

// A manifest naming a tensor the graph lacks fails the command, which
// still prints what it found.
func TestModelInspectMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the model under ONNX Runtime")
	}
	t.Setenv("EFFERENT_CONFIG", "")
	dir := t.TempDir()
	src := filepath.Join("..", "..", "models", "efferent-tiny")
	for _, f := range []string{"manifest.yaml", "encoder.onnx", "decoder.onnx", "tokenizer.json", "codebook.json", "golden.json"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "manifest.yaml" {
			data = []byte(strings.Replace(string(data), "input: image_1}", "input: wrist}", 1))
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := modelCmd()
	cmd.Flags().String("config", "", "")
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"inspect", dir})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), `encoder.onnx: no input named "wrist"`) {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(out.String(), "in   image_1") {
		t.Fatalf("output lacks the graph's inputs:\n%s", out.String())
	}
}
