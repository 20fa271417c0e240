package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/record"
)

// toyDetector is safety/premise/onnxdet's hand-built OWL-style detector
// (testdata/toy-colour: a colour matcher on a 4x4 grid of a 64x64 image,
// with its own word-level tokenizer) copied into a fresh detector
// directory, with detector.yaml's image line (the graph's input, and how a
// frame is normalised into it) and threshold as given; vocabulary, when
// not empty, is written as vocabulary.yaml.
func toyDetector(t *testing.T, image string, threshold string, vocabulary string) string {
	t.Helper()
	src := filepath.Join("..", "..", "safety", "premise", "onnxdet", "testdata", "toy-colour")
	dir := t.TempDir()
	for _, name := range []string{"detector.onnx", "tokenizer.json"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `format: efferent-detector/1
name: toy-colour
file: detector.onnx
image: ` + image + `
text: {tokenizer: tokenizer.json, input_ids: input_ids, attention_mask: attention_mask, max_tokens: 8, pad_id: 0}
outputs: {logits: logits, boxes: pred_boxes}
threshold: ` + threshold + "\n"
	if err := os.WriteFile(filepath.Join(dir, "detector.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if vocabulary != "" {
		if err := os.WriteFile(filepath.Join(dir, "vocabulary.yaml"), []byte(vocabulary), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The toy as shipped (RGB in 0..1, threshold 0.5). It cannot see an
// object without a colour word it knows: "white bowl" embeds to nothing,
// its logit is −2 on any frame, its score sigmoid(−2) = 0.12: absent.
const toyImage, toyThreshold = "{input: pixel_values, height: 64, width: 64}", "0.5"

// The toy tuned to see the simulator's blue block: the blue query's logit
// is 8 × (patch · (−½, −½, 1) − 0.0609) / 0.01 − 2, whose zero lies between
// the bluest patch with the blue block in view (≥ 0.09 over the first
// initial states) and without it (≤ 0.03: nothing else in that scene is
// blue); a colourless query ("white bowl": the toy's tokenizer knows no
// "white") scores sigmoid(−2) = 0.12, which threshold 0.1 maps to 0.6,
// present.
const simBlueImage, simBlueThreshold = "{input: pixel_values, height: 64, width: 64, mean: [0, 0, 0.0609], std: [0.01, 0.01, 0.01]}", "0.1"

// premiseEvents runs `efferent run` with args and a recording, and returns
// its premise events' details and how many setpoints it recorded.
func premiseEvents(t *testing.T, args ...string) (premise []string, setpoints int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.mcap")
	cmd, out := newRunCmd(t, append(args, "--record", path, "--log-level", "warn")...)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, out)
	}
	rec, err := record.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rec.Events {
		if e.Kind == record.EventPremise {
			premise = append(premise, e.Detail)
		}
	}
	return premise, len(rec.Setpoints)
}

// efferent run --robot sim --premise-detector DIR: the instruction is
// checked by the ONNX detector in DIR, with the simulator's catalogue as
// the vocabulary (no vocabulary.yaml). The detector decides: the tuned toy
// refuses the false premise (the blue block removed) naming the blue
// block, and the episode never moves; it accepts the true premise and the
// episode runs; the untuned toy, blind to the white bowl, refuses the true
// premise for it (the OpenCV detector accepts it), and the episode does
// not run.
func TestRunPremiseDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the simulator and loads ONNX Runtime")
	}
	const task = "spatial/put_the_blue_block_in_the_white_bowl"
	tuned := toyDetector(t, simBlueImage, simBlueThreshold, "")
	base := []string{"--robot", "sim", "--fast", "--policy", "expert", "--episodes", "1"}

	ev, n := premiseEvents(t, append(base, "--task", task+"/false_premise", "--premise-detector", tuned)...)
	if len(ev) != 1 || ev[0] != "refuse: not in view: blue block (over 3 frames)" || n != 0 {
		t.Fatalf("false premise: premise events %q, %d setpoints; want a refusal of the blue block and no motion", ev, n)
	}
	ev, n = premiseEvents(t, append(base, "--task", task, "--premise-detector", tuned)...)
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "ok:") || n == 0 {
		t.Fatalf("true premise: premise events %q, %d setpoints; want ok and the episode run", ev, n)
	}
	ev, _ = premiseEvents(t, append(base, "--task", task)...)
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "ok:") {
		t.Fatalf("OpenCV detector: premise events %q, want ok", ev)
	}
	ev, n = premiseEvents(t, append(base, "--task", task, "--premise-detector", toyDetector(t, toyImage, toyThreshold, ""))...)
	if len(ev) != 1 || ev[0] != "refuse: not in view: white bowl (over 3 frames)" || n != 0 {
		t.Fatalf("untuned detector: premise events %q, %d setpoints; want a refusal of the white bowl and no motion", ev, n)
	}
}

// A detector directory that cannot be opened is an error naming the flag
// and the key, and the file; so is a bad vocabulary.yaml.
func TestPremiseDetectorErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the simulator and loads ONNX Runtime")
	}
	missing := filepath.Join(t.TempDir(), "nope")
	badVocab := toyDetector(t, toyImage, toyThreshold, "objects:\n  - {name: red mug, colour: red}\n")
	noGraph := toyDetector(t, toyImage, toyThreshold, "")
	os.Remove(filepath.Join(noGraph, "detector.onnx"))
	for dir, want := range map[string]string{
		missing:  filepath.Join(missing, "detector.yaml"),
		badVocab: "vocabulary.yaml: line 2: objects[0].colour: unknown key",
		noGraph:  filepath.Join(noGraph, "detector.onnx"),
	} {
		cmd, out := newRunCmd(t, "--robot", "sim", "--fast", "--policy", "expert", "--premise-detector", dir, "--log-level", "error")
		err := cmd.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "--premise-detector "+dir+" (premise_detector)") || !strings.Contains(err.Error(), want) {
			t.Errorf("run --premise-detector %s: %v, want an error naming the flag and %q\n%s", dir, err, want, out)
		}
	}
	cfg := bundledConfig(t)
	cfg.Server.CheckPremise, cfg.PremiseDetector = true, missing
	err := serve(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "server.premise: --premise-detector "+missing+" (premise_detector)") {
		t.Errorf("serve: %v, want an error naming the flag", err)
	}
	if code := execute([]string{"eval", "premise", "--suite", "goal", "--episodes", "1", "--premise-detector", missing,
		"--out", t.TempDir(), "--log-level", "error"}); code == 0 {
		t.Error("eval premise with a missing detector directory succeeded")
	}
}

// premise_detector in the config file; on a ROS robot it turns the check
// on unless run.premise says otherwise.
func TestPremiseDetectorConfig(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", writeConfig(t, "premise_detector: /opt/owlv2\nrun: {robot: franka, task: pick up the cup}\n"))
	flags := func(args ...string) *flagSet {
		cmd := runCmd()
		cmd.Flags().String("config", "", "")
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return &flagSet{cmd.Flags()}
	}
	cfg, err := loadConfig(flags().fs)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.runConf(); cfg.PremiseDetector != "/opt/owlv2" || r.Premise == nil || !*r.Premise {
		t.Fatalf("premise_detector %q, run.premise %v: want the check on", cfg.PremiseDetector, r.Premise)
	}
	cfg, err = loadConfig(flags("--premise=false", "--premise-detector", "/srv/det").fs)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.runConf(); cfg.PremiseDetector != "/srv/det" || r.Premise == nil || *r.Premise {
		t.Fatalf("premise_detector %q, run.premise %v: want the flag's directory, the check off", cfg.PremiseDetector, r.Premise)
	}
	t.Setenv("EFFERENT_CONFIG", writeConfig(t, "premise_detectr: /opt/owlv2\n"))
	if _, err := loadConfig(flags().fs); err == nil || !strings.Contains(err.Error(), "did you mean premise_detector?") {
		t.Fatalf("typo: %v", err)
	}
}

// square is a 224x224 grey frame, with a red square in its top-left
// quarter when red.
func square(red bool) efferent.Image {
	im := efferent.Image{H: 224, W: 224, C: 3, Pix: make([]byte, 224*224*3)}
	for y := range 224 {
		for x := range 224 {
			p := im.Pix[(y*224+x)*3:]
			p[0], p[1], p[2] = 128, 128, 128
			if red && x < 112 && y < 112 {
				p[0], p[1], p[2] = 230, 20, 20
			}
		}
	}
	return im
}

// efferent serve --premise --premise-detector DIR, DIR's vocabulary.yaml
// naming a red mug and a plate: a client asking for the red mug on frames
// without anything red is refused over the websocket, naming it; with a
// red square in view it gets actions; "the red block" is no object of
// this vocabulary (it replaces the simulator's catalogue), so the server
// asks rather than looks for it.
func TestServePremiseDetector(t *testing.T) {
	cfg := bundledConfig(t)
	cfg.Server.CheckPremise = true
	cfg.PremiseDetector = toyDetector(t, toyImage, toyThreshold,
		"# the lab's objects\nobjects:\n  - {name: red mug, color: red, category: mug}\n  - {name: plate}\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, cfg)
	obs := func(instruction string, red bool) efferent.Observation {
		o := simObservation(t, "spatial/put_the_red_block_in_the_blue_bowl")
		for k := range o.Images {
			o.Images[k] = square(red)
		}
		o.Prompt = instruction
		return o
	}
	c, err := remote.Connect(ctx, "ws://"+addr, remote.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out efferent.Chunk
	o := obs("pick up the red mug", false)
	if err := c.Infer(ctx, &o, &out); !errors.Is(err, remote.ErrRefused) || !strings.Contains(err.Error(), "not in view: red mug") {
		t.Fatalf("red mug, nothing red in view: %v, want a refusal naming the red mug", err)
	}
	o = obs("pick up the red mug", true)
	if err := c.Infer(ctx, &o, &out); err != nil || out.H < 1 {
		t.Fatalf("red mug, red in view: %v, chunk %dx%d", err, out.H, out.D)
	}
	o = obs("pick up the red block", true)
	if err := c.Infer(ctx, &o, &out); !errors.Is(err, remote.ErrRefused) || !strings.Contains(err.Error(), "block") {
		t.Fatalf("red block, not in the vocabulary: %v, want a question about the block", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// efferent eval premise --premise-detector DIR writes its report; the
// tuned toy refuses the blue block's false premise and accepts the true
// one.
func TestEvalPremiseDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the simulator and loads ONNX Runtime")
	}
	t.Setenv("EFFERENT_CONFIG", "")
	out := t.TempDir()
	args := []string{"eval", "premise", "--suite", "spatial", "--episodes", "1", "--premise-detector", toyDetector(t, simBlueImage, simBlueThreshold, ""),
		"--out", out, "--log-level", "warn"}
	if code := execute(args); code != 0 {
		t.Fatalf("efferent %v exited %d", args, code)
	}
	var rep struct {
		Samples []struct {
			Task         string   `json:"task"`
			FalsePremise bool     `json:"false_premise"`
			Decision     string   `json:"decision"`
			Named        []string `json:"named_missing"`
		} `json:"samples"`
	}
	readReport(t, out, &rep)
	if _, err := os.Stat(filepath.Join(out, "report.txt")); err != nil || len(rep.Samples) != 20 {
		t.Fatalf("report: %v, %d samples, want 20", err, len(rep.Samples))
	}
	var checked int
	for _, s := range rep.Samples {
		if !strings.HasPrefix(s.Task, "spatial/put_the_blue_block_in_the_white_bowl") {
			continue
		}
		checked++
		if s.FalsePremise && (s.Decision != "refuse" || len(s.Named) != 1 || s.Named[0] != "blue block") || !s.FalsePremise && s.Decision != "ok" {
			t.Errorf("%s (false premise %v): %s %v", s.Task, s.FalsePremise, s.Decision, s.Named)
		}
	}
	if checked != 2 {
		t.Fatalf("%d samples of the blue block's task, want 2", checked)
	}
}
