package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
)

// simObservation renders task's initial state 0 as the model sees it.
func simObservation(t *testing.T, task string) efferent.Observation {
	t.Helper()
	r := render.New()
	t.Cleanup(func() { r.Close() })
	env, err := sim.New(sim.Conf{}, r)
	if err != nil {
		t.Fatal(err)
	}
	tk, ok := sim.FindTask(task)
	if !ok {
		t.Fatalf("no task %q", task)
	}
	if err := env.Reset(tk, 0); err != nil {
		t.Fatal(err)
	}
	var obs efferent.Observation
	if err := (rig.SimRobot{Env: env}).Observe(&obs); err != nil {
		t.Fatal(err)
	}
	return obs
}

// efferent serve --premise: a client asking for an object that is not in
// its camera frames gets no actions — the reply carries the verdict and an
// error, over the openpi protocol and as HTTP 422 — and the same
// connection then gets actions, with the verdict, for a true premise.
func TestServePremise(t *testing.T) {
	cfg := bundledConfig(t)
	cfg.Server.CheckPremise = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, cfg)
	missing := simObservation(t, "spatial/put_the_red_block_in_the_blue_bowl/false_premise")
	present := simObservation(t, "spatial/put_the_red_block_in_the_blue_bowl")

	c, err := remote.Connect(ctx, "ws://"+addr, remote.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out efferent.Chunk
	err = c.Infer(ctx, &missing, &out)
	if !errors.Is(err, remote.ErrRefused) || !strings.Contains(err.Error(), "red block") {
		t.Fatalf("false premise: %v, want a refusal naming the red block", err)
	}
	if err := c.Infer(ctx, &present, &out); err != nil || out.H < 1 {
		t.Fatalf("true premise: %v, chunk %dx%d", err, out.H, out.D)
	}

	// REST: 422 with the verdict.
	body := actBody(t, missing)
	res, err := http.Post("http://"+addr+"/act", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Error   string `json:"error"`
		Premise struct {
			Decision string   `json:"decision"`
			Missing  []string `json:"missing"`
		} `json:"premise"`
	}
	json.NewDecoder(res.Body).Decode(&reply)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity || reply.Premise.Decision != "refuse" || len(reply.Premise.Missing) != 1 || reply.Premise.Missing[0] != "red block" {
		t.Fatalf("REST false premise: %d %+v", res.StatusCode, reply)
	}
	res, err = http.Post("http://"+addr+"/act", "application/json", bytes.NewReader(actBody(t, present)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Efferent-Premise") != "ok" {
		t.Fatalf("REST true premise: %d, premise %q", res.StatusCode, res.Header.Get("X-Efferent-Premise"))
	}

	// The decisions are counted.
	res, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var m bytes.Buffer
	m.ReadFrom(res.Body)
	res.Body.Close()
	for _, want := range []string{`efferent_premise_decisions_total{decision="refuse"} 2`, `efferent_premise_decisions_total{decision="ok"} 2`} {
		if !strings.Contains(m.String(), want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// actBody is an OpenVLA /act request with the observation's images as PNG.
func actBody(t *testing.T, obs efferent.Observation) []byte {
	t.Helper()
	req := map[string]any{"instruction": obs.Prompt, "state": obs.State}
	for key, im := range obs.Images {
		rgba := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
		for i, j := 0, 0; i < len(im.Pix); i, j = i+3, j+4 {
			copy(rgba.Pix[j:j+3], im.Pix[i:i+3])
			rgba.Pix[j+3] = 255
		}
		var b bytes.Buffer
		if err := png.Encode(&b, rgba); err != nil {
			t.Fatal(err)
		}
		req[key] = base64.StdEncoding.EncodeToString(b.Bytes())
	}
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
