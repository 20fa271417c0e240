package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium (SETUP_TEST=1 scripts/setup.sh
// installs it), or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH (install it with SETUP_TEST=1 scripts/setup.sh, or apt-get install chromium)")
	return ""
}

// TestViewerInBrowser is the viewer's acceptance test in a real headless
// Chromium against `efferent run --robot sim --viewer` in real time with
// the bundled model: the camera image updates, the takeover key hands the
// robot to the teleoperator (the mode says so, and a comparison of the
// policy with the teleoperator's command appears), the e-stop button
// holds the robot (the page says HOLD and the verdict stream shows the
// e-stop refusals). A screenshot is saved (EFFERENT_SCREENSHOT=path keeps
// it), and the episode's comparison is written as PNG/HTML/JSON.
func TestViewerInBrowser(t *testing.T) {
	exe := chromium(t)
	bundledConfig(t) // skips in -short: loads the model
	port := freePort(t, "127.0.0.1")
	base := "http://127.0.0.1:" + port
	out := t.TempDir()
	stop, logs := startRun(t, base+"/viewer/app.js", "--robot", "sim", "--episodes", "0", "--viewer", "--serve",
		"--addr", "127.0.0.1:"+port, "--out", out, "--log-level", "warn")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.DisableGPU,
		chromedp.WindowSize(1500, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	// This cdproto predates some of Debian's Chromium's event values; those
	// events are not ones the test uses.
	errorf := func(format string, a ...any) {
		if msg := fmt.Sprintf(format, a...); !strings.Contains(msg, "could not unmarshal event") {
			t.Logf("chromedp: %s", msg)
		}
	}
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithErrorf(errorf))
	defer cancelTab()
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	defer cancelTimeout()

	// waitText polls sel's text until ok accepts it (the page updates
	// itself from the websocket; nothing is timed here but the deadline).
	waitText := func(what, sel string, d time.Duration, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(d)
		var s string
		for {
			if err := chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery)); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s says %q after %v", what, sel, s, d)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	number := func(s string) float64 {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return -1
		}
		return f
	}

	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/viewer/")); err != nil {
		t.Fatal(err)
	}
	// The camera image updates.
	first := number(waitText("first camera frame", "#frame-count", 30*time.Second, func(s string) bool { return number(s) > 0 }))
	waitText("camera updates", "#frame-count", 20*time.Second, func(s string) bool { return number(s) >= first+4 })
	var width int64
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('#cam-0').naturalWidth`, &width)); err != nil || width != 224 {
		t.Fatalf("camera image %d px wide (%v), want the 224 px frame", width, err)
	}
	waitText("policy drives", "#mode", 10*time.Second, func(s string) bool { return s == "policy" })

	// Takeover key, then hold W (forward) so the teleoperator's command
	// has a direction to compare with the policy's.
	if err := chromedp.Run(ctx, chromedp.KeyEvent("t")); err != nil {
		t.Fatal(err)
	}
	waitText("takeover", "#mode", 10*time.Second, func(s string) bool { return s == "takeover" })
	if err := chromedp.Run(ctx, input.DispatchKeyEvent(input.KeyDown).WithKey("w").WithCode("KeyW").WithWindowsVirtualKeyCode(87)); err != nil {
		t.Fatal(err)
	}
	n := waitText("comparison pairs", "#cmp-n", 20*time.Second, func(s string) bool { return number(s) > 0 })
	cos := waitText("cosine of motion", "#cmp-cos", 20*time.Second, func(s string) bool { c := number(s); return c >= -1 && c <= 1 && s != "–" })
	grip := waitText("gripper agreement", "#cmp-grip", 5*time.Second, func(s string) bool { return strings.HasSuffix(s, "%") })
	waitText("teleop drives", "#teleop-counts", 10*time.Second, func(s string) bool {
		var driven int
		_, err := fmt.Sscanf(s, "driven %d", &driven)
		return err == nil && driven > 0
	})
	if err := chromedp.Run(ctx, input.DispatchKeyEvent(input.KeyUp).WithKey("w").WithCode("KeyW").WithWindowsVirtualKeyCode(87)); err != nil {
		t.Fatal(err)
	}

	// E-stop: the robot holds.
	if err := chromedp.Run(ctx, chromedp.Click("#btn-estop", chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	waitText("e-stop hold", "#estop-state", 10*time.Second, func(s string) bool { return strings.HasPrefix(s, "HOLD") })
	waitText("e-stop verdicts", "#verdicts", 10*time.Second, func(s string) bool { return strings.Contains(s, "refused estop") })
	var shot []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&shot, 100)); err != nil { // 100: PNG
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "viewer.png")
	if p := os.Getenv("EFFERENT_SCREENSHOT"); p != "" {
		path = p
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("viewer: %s comparison pairs, cosine %s, gripper agreement %s; screenshot %s (%d kB)", n, cos, grip, path, len(shot)/1000)

	// The page works by the name localhost too: its Host passes the
	// loopback-only check, and its websocket's Origin is its own (the
	// status over it says the robot holds).
	if err := chromedp.Run(ctx, chromedp.Navigate("http://localhost:"+port+"/viewer/")); err != nil {
		t.Fatal(err)
	}
	waitText("status at localhost", "#estop-state", 20*time.Second, func(s string) bool { return strings.HasPrefix(s, "HOLD") })

	// The episode under way ends with the run; the comparison of the
	// episode with the takeover is written (which episode that is depends
	// on how long the browser took to start).
	if err := stop(); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "comparison-ep*.png"))
	if len(pngs) == 0 {
		t.Fatalf("no comparison written in %s", out)
	}
	for _, ext := range []string{".html", ".json"} {
		if st, err := os.Stat(strings.TrimSuffix(pngs[0], ".png") + ext); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", ext, err)
		}
	}
}
