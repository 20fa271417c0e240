package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/server"
)

var floodFor = flag.Duration("flood", 8*time.Second, "how long TestServeUnderFlood floods the server (the issue's soak: -flood=60s)")

// Bounds TestServeUnderFlood holds `efferent serve` to, with its default
// limits (README, "Limits"): the peak resident memory while 32 clients
// flood it, and how far it may stay above its quiet footprint once the
// flood is over and its clients idle.
const (
	floodRSSBound   = 600 << 20
	idleRSSMargin   = 50 << 20
	idleRSSDeadline = 10 * time.Second
	floodClients    = 32
	idleClients     = 20
)

// TestServeChild is not a test of its own: TestServeUnderFlood runs this
// test binary again with EFFERENT_SERVE_CHILD set, so that the server it
// measures is a process of its own (its resident memory is the server's
// alone). It serves the bundled model with the default configuration
// until SIGTERM and writes its address to the file the variable names.
func TestServeChild(t *testing.T) {
	addrFile := os.Getenv("EFFERENT_SERVE_CHILD")
	if addrFile == "" {
		t.Skip("run by TestServeUnderFlood")
	}
	cfg := bundledConfig(t)
	err := serve(context.Background(), cfg, func(addr string) {
		if err := os.WriteFile(addrFile+".tmp", []byte(addr), 0o600); err == nil {
			_ = os.Rename(addrFile+".tmp", addrFile)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// floodFrames are the worst requests the default limits allow, each valid
// (it gets actions): two PNG bombs that decompress to
// server.max_frame_pixels from 0.2 MB, two incompressible PNGs of as many
// pixels (12.6 MB), and raw images of as many pixels padded with an
// ignored key to server.max_frame_bytes.
func floodFrames(t *testing.T, state []float64) (frames [][]byte, maximal []byte) {
	t.Helper()
	conf := server.Conf{}.WithDefaults()
	const h, w = 1024, 2048 // two cameras: max_frame_pixels together
	if 2*h*w != conf.MaxFramePixels {
		t.Fatalf("flood images hold %d pixels, max_frame_pixels is %d", 2*h*w, conf.MaxFramePixels)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	encode := func(noise bool) []byte {
		im := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := range im.Pix {
			switch {
			case i%4 == 3:
				im.Pix[i] = 255
			case noise:
				im.Pix[i] = byte(rng.Uint32())
			default:
				im.Pix[i] = byte(i / 4 % w / 8)
			}
		}
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if noise {
			enc.CompressionLevel = png.NoCompression
		}
		if err := enc.Encode(&buf, im); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	msg := func(m map[string]any) []byte {
		b, err := api.AppendAny(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bomb, noise := encode(false), encode(true)
	base := map[string]any{"observation/state": state, "prompt": "put the bowl on the plate"}
	withImages := func(a, b []byte) map[string]any {
		m := cloneMap(base)
		m["observation/image"], m["observation/wrist_image"] = a, b
		return m
	}
	frames = append(frames, msg(withImages(bomb, bomb)), msg(withImages(noise, noise)))

	pix := make([]byte, h*w*3)
	for i := range pix {
		pix[i] = byte(rng.Uint32())
	}
	obs := efferent.Observation{Images: map[string]efferent.Image{
		"observation/image":       {H: h, W: w, C: 3, Pix: pix},
		"observation/wrist_image": {H: h, W: w, C: 3, Pix: pix},
	}, State: state, Prompt: "put the bowl on the plate"}
	spec := api.ObsSpec{ImageKeys: []string{"observation/image", "observation/wrist_image"}, StateKey: "observation/state", PromptKey: "prompt"}
	raw := api.EncodeObservation(nil, &obs, spec)
	raw[0]++ // one more key in the (fix)map: the padding
	raw, _ = api.AppendAny(raw, "padding")
	pad := int(conf.MaxFrameBytes) - len(raw) - 5 // bin32 header
	raw, _ = api.AppendAny(raw, make([]byte, pad))
	if int64(len(raw)) != conf.MaxFrameBytes {
		t.Fatalf("maximal frame is %d bytes, max_frame_bytes %d", len(raw), conf.MaxFrameBytes)
	}
	frames = append(frames, raw)
	for i, f := range frames {
		t.Logf("flood frame %d: %.1f MB", i, float64(len(f))/1e6)
	}
	return frames, raw
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// rssOf reads a process's resident set (VmRSS) and its peak (VmHWM).
func rssOf(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			peak = n << 10
		}
	}
	return rss, peak, sc.Err()
}

// durQuantile is the q-quantile of d (sorted in place).
func durQuantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(math.Ceil(q*float64(len(d))))-1)]
}

// TestServeUnderFlood: `efferent serve` (the bundled model, default
// limits, its own process) while 32 connections loop the worst frames its
// limits allow. Two well-behaved clients keep getting the answers they got
// from the quiet server, with a p99 latency at most 3× the quiet one; the
// server's resident memory stays under floodRSSBound; and after 20
// connections have each sent one maximal frame and gone idle, it is back
// within idleRSSMargin of its quiet footprint within idleRSSDeadline.
// -flood=60s runs the full soak.
func TestServeUnderFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process with the bundled model")
	}
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EFFERENT_SERVE_CHILD="+addrFile, "EFFERENT_CONFIG=")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server output:\n%s", tail(stderr.String(), 4000))
		}
	})
	var addr string
	deadline := time.Now().Add(60 * time.Second)
	for addr == "" {
		if b, err := os.ReadFile(addrFile); err == nil {
			addr = string(b)
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("server exited before listening: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not listen within 60s")
		}
	}
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server not ready within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	url := "ws://" + addr

	// Two well-behaved clients, each with its own scene.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tasks := []string{"spatial/put_the_red_block_in_the_blue_bowl", "goal/put_the_red_block_in_the_blue_bowl"}
	type good struct {
		p    *remote.Policy
		obs  efferent.Observation
		want []float64
	}
	goods := make([]*good, len(tasks))
	for i, task := range tasks {
		p, err := remote.Dial(ctx, url, remote.Conf{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		goods[i] = &good{p: p, obs: simObservation(t, task)}
	}
	// run makes the good clients ask until stop is closed (or n requests
	// each) and returns their latencies; every answer must be the quiet
	// server's first.
	var wrong atomic.Int64
	run := func(n int, stop <-chan struct{}) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for _, g := range goods {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var out efferent.Chunk
				for i := 0; n == 0 || i < n; i++ {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					if err := g.p.Infer(ctx, &g.obs, &out); err != nil {
						t.Errorf("good client: %v", err)
						return
					}
					d := time.Since(start)
					mu.Lock()
					lat = append(lat, d)
					if g.want == nil {
						g.want = slices.Clone(out.Actions)
					} else if !sameActions(out.Actions, g.want) {
						wrong.Add(1)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return lat
	}
	run(5, nil) // first answers, and warm connections
	quiet := run(100, nil)
	quietP50, quietP99 := durQuantile(quiet, 0.5), durQuantile(quiet, 0.99)
	baseRSS, _, err := rssOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quiet: p50 %v p99 %v over %d requests; RSS %d MB", quietP50, quietP99, len(quiet), baseRSS>>20)

	frames, maximal := floodFrames(t, goods[0].obs.State)
	stop := make(chan struct{})
	var floodWG sync.WaitGroup
	var answered, refused atomic.Int64
	for i := range floodClients {
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			frame := frames[i%len(frames)]
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					refused.Add(1)
					time.Sleep(50 * time.Millisecond)
					continue
				}
				_, _, _ = c.ReadMessage() // metadata
				for {
					select {
					case <-stop:
						c.Close()
						return
					default:
					}
					_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
					if c.WriteMessage(websocket.BinaryMessage, frame) != nil {
						break
					}
					typ, _, err := c.ReadMessage()
					if err != nil || typ != websocket.BinaryMessage {
						refused.Add(1) // e.g. busy: reconnect
						break
					}
					answered.Add(1)
				}
				c.Close()
			}
		}()
	}
	var peakRSS atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if rss, _, err := rssOf(pid); err == nil && rss > peakRSS.Load() {
					peakRSS.Store(rss)
				}
			}
		}
	}()
	loaded := make(chan []time.Duration, 1)
	go func() { loaded <- run(0, stop) }()
	time.Sleep(*floodFor) // the flood's duration, not a wait for an event
	close(stop)
	underFlood := <-loaded
	floodWG.Wait()
	<-sampled
	_, hwm, _ := rssOf(pid)
	floodP50, floodP99 := durQuantile(underFlood, 0.5), durQuantile(underFlood, 0.99)
	t.Logf("flood %v, %d connections: %d worst frames answered, %d refused; good clients p50 %v p99 %v over %d requests (%d wrong); server RSS peak %d MB (VmHWM %d MB)",
		*floodFor, floodClients, answered.Load(), refused.Load(), floodP50, floodP99, len(underFlood), wrong.Load(), peakRSS.Load()>>20, hwm>>20)
	if wrong.Load() != 0 {
		t.Errorf("%d good answers differ from the quiet server's", wrong.Load())
	}
	if answered.Load() == 0 {
		t.Error("no flood frame was answered: the test did not load the server")
	}
	if hwm > floodRSSBound {
		t.Errorf("server RSS peaked at %d MB under the flood, bound %d MB", hwm>>20, floodRSSBound>>20)
	}
	if floodP99 > 3*quietP99 {
		t.Errorf("good clients' p99 %v under the flood, more than 3× the quiet %v", floodP99, quietP99)
	}

	// 20 connections each send one maximal frame, then idle.
	var idle []*websocket.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	var sent sync.WaitGroup
	for range idleClients {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		sent.Add(1)
		go func() {
			defer sent.Done()
			_, _, _ = c.ReadMessage()
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			if err := c.WriteMessage(websocket.BinaryMessage, maximal); err != nil {
				t.Errorf("idle client: %v", err)
				return
			}
			if typ, _, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
				t.Errorf("idle client: no answer to its maximal frame: %v", err)
			}
		}()
	}
	sent.Wait()
	idleStart := time.Now()
	var rss int64
	for {
		if rss, _, err = rssOf(pid); err != nil {
			t.Fatal(err)
		}
		if rss <= baseRSS+idleRSSMargin || time.Since(idleStart) > idleRSSDeadline {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling /proc for a condition
	}
	t.Logf("%d idle clients after one maximal frame each: RSS %d MB after %v (quiet %d MB)", idleClients, rss>>20, time.Since(idleStart).Round(10*time.Millisecond), baseRSS>>20)
	if rss > baseRSS+idleRSSMargin || testing.Verbose() {
		t.Logf("server's memory series:\n%s", memSeries(t, addr))
	}
	if rss > baseRSS+idleRSSMargin {
		t.Errorf("server RSS %d MB %v after the last maximal frame, want within %d MB of its quiet %d MB", rss>>20, idleRSSDeadline, idleRSSMargin>>20, baseRSS>>20)
	}
}

func sameActions(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-4 {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// memSeries is the server's /metrics lines about its memory.
func memSeries(t *testing.T, addr string) string {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "#") && (strings.Contains(l, "memstats_heap") || strings.Contains(l, "resident") || strings.Contains(l, "large_requests") || strings.Contains(l, "go_memstats_sys")) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
