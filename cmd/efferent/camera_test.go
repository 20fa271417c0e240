package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCameraCheck: `efferent camera check` on a directory of images
// reports its size and rate and saves a preview that decodes to the last
// image; a camera that cannot be opened fails the command, named.
func TestCameraCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: OpenCV")
	}
	dir := t.TempDir()
	imgs := filepath.Join(dir, "frames")
	os.Mkdir(imgs, 0o755)
	for i, c := range []uint8{40, 120, 200} {
		im := image.NewRGBA(image.Rect(0, 0, 32, 24))
		for k := range im.Pix {
			im.Pix[k] = c
			if k%4 == 3 {
				im.Pix[k] = 255 // opaque
			}
		}
		f, _ := os.Create(filepath.Join(imgs, "f"+string(rune('0'+i))+".png"))
		png.Encode(f, im)
		f.Close()
	}
	run := func(args ...string) (string, error) {
		cmd := cameraCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("check", "--camera", "dir:"+imgs, "--duration", "2s", "--poll", "20ms", "--preview", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Log(out)
	if !strings.Contains(out, "32x24") || !strings.Contains(out, " dir ") {
		t.Fatalf("output lacks the size or kind:\n%s", out)
	}
	prev, _ := filepath.Glob(filepath.Join(dir, "camera0-*.png"))
	if len(prev) != 1 {
		t.Fatalf("previews %v", prev)
	}
	f, _ := os.Open(prev[0])
	im, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _, _ := im.At(5, 5).RGBA(); r>>8 != 200 {
		t.Fatalf("preview pixel %d, want the last image's 200", r>>8)
	}
	if out, err := run("check", "--camera", filepath.Join(dir, "nope.mp4"), "--duration", "200ms", "--preview", dir); err == nil || !strings.Contains(out, "nope.mp4") {
		t.Fatalf("missing camera: %v\n%s", err, out)
	}
}
