package cv

import (
	"bytes"
	"errors"
	stdimage "image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
)

func toStd(im efferent.Image) *stdimage.RGBA {
	out := stdimage.NewRGBA(stdimage.Rect(0, 0, im.W, im.H))
	for i := 0; i < im.H*im.W; i++ {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = im.Pix[3*i], im.Pix[3*i+1], im.Pix[3*i+2], 255
	}
	return out
}

func encode(t testing.TB, im efferent.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, toStd(im))
	} else {
		err = jpeg.Encode(&buf, toStd(im), &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodeImage: OpenCV's decode of a PNG is the image exactly (in RGB
// order, not OpenCV's BGR), and of a JPEG agrees with Go's decoder to
// within what two decoders differ by.
func TestDecodeImage(t *testing.T) {
	src := gradient(48, 64)
	got, err := DecodeImage(encode(t, src, "png"), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if got.H != 48 || got.W != 64 || got.C != 3 || !bytes.Equal(got.Pix, src.Pix) {
		t.Fatalf("PNG: %dx%dx%d, pixels equal %v", got.H, got.W, got.C, bytes.Equal(got.Pix, src.Pix))
	}
	data := encode(t, src, "jpeg")
	cvIm, err := DecodeImage(data, 4096)
	if err != nil {
		t.Fatal(err)
	}
	goIm, err := api.DecodeStdImage(data, 4096)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0
	for i := range goIm.Pix {
		worst = max(worst, abs(int(cvIm.Pix[i])-int(goIm.Pix[i])))
	}
	// libjpeg-turbo upsamples chroma smoothly, Go replicates it: a few
	// levels apart at colour edges.
	if worst > 8 {
		t.Fatalf("JPEG: OpenCV and Go decodes differ by up to %d levels", worst)
	}
	if p := px(cvIm, 10, 63); !near(p, [3]int{255, 54, 100}, 12) {
		t.Fatalf("JPEG pixel (10, 63) = %v, want about R 255 G 54 B 100 (RGB order)", p)
	}
	t.Logf("JPEG q90: OpenCV vs Go decoders differ by at most %d levels", worst)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestDecodeImageRefuses: not an image, a truncated one, a grey PNG (made
// RGB) and one over the side limit, which is refused from its header.
func TestDecodeImageRefuses(t *testing.T) {
	if _, err := DecodeImage([]byte("not an image"), 4096); !errors.Is(err, api.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	data := encode(t, gradient(32, 32), "jpeg")
	if _, err := DecodeImage(data[:len(data)/3], 4096); err == nil {
		t.Log("OpenCV decodes a truncated JPEG (it fills the rest); accepted")
	}
	if _, err := DecodeImage(data, 16); !errors.Is(err, api.ErrBadShape) {
		t.Fatalf("32x32 with a limit of 16: %v, want ErrBadShape", err)
	}
	grey := stdimage.NewGray(stdimage.Rect(0, 0, 5, 4))
	grey.SetGray(1, 1, color.Gray{Y: 200})
	var buf bytes.Buffer
	if err := png.Encode(&buf, grey); err != nil {
		t.Fatal(err)
	}
	im, err := DecodeImage(buf.Bytes(), 4096)
	if err != nil || im.C != 3 || px(im, 1, 1) != [3]int{200, 200, 200} {
		t.Fatalf("grey PNG: %v, %dx%dx%d", err, im.H, im.W, im.C)
	}
}

// FuzzDecodeImage: any bytes decode to a valid RGB image within the side
// limit, or are refused; never a crash or a huge allocation.
func FuzzDecodeImage(f *testing.F) {
	f.Add(encode(f, gradient(8, 8), "png"))
	f.Add(encode(f, gradient(8, 8), "jpeg"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := DecodeImage(data, 256)
		if err != nil {
			return
		}
		if err := im.Validate(); err != nil || im.C != 3 || im.H > 256 || im.W > 256 {
			t.Fatalf("accepted a bad image %dx%dx%d: %v", im.H, im.W, im.C, err)
		}
	})
}

// BenchmarkDecodeJPEG compares OpenCV's and Go's JPEG decoders on a
// LIBERO camera frame (224x224) and a VGA one (640x480).
func BenchmarkDecodeJPEG(b *testing.B) {
	for _, size := range [][2]int{{224, 224}, {480, 640}} {
		data := encode(b, gradient(size[0], size[1]), "jpeg")
		for _, dec := range []struct {
			name string
			fn   func([]byte, int) (efferent.Image, error)
		}{{"opencv", DecodeImage}, {"go", api.DecodeStdImage}} {
			b.Run(dec.name+"/"+itoa(size[1])+"x"+itoa(size[0]), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if _, err := dec.fn(data, 4096); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
