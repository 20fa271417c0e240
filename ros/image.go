package ros

import (
	"fmt"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"

	"github.com/efferent/efferent"
)

// maxImageSide bounds a camera frame from a topic (as the server's
// decoders do): a misconfigured publisher must not make efferent allocate
// gigabytes.
const maxImageSide = 4096

// imageToRGB converts a sensor_msgs/Image into RGB HWC uint8, reusing
// dst.Pix. Encodings: rgb8, bgr8, rgba8, bgra8, mono8.
func imageToRGB(m *sensor_msgs.Image, dst *efferent.Image) error {
	h, w := int(m.Height), int(m.Width)
	if h < 1 || w < 1 || h > maxImageSide || w > maxImageSide {
		return fmt.Errorf("image %dx%d: each side must be 1..%d", h, w, maxImageSide)
	}
	var ch int
	switch m.Encoding {
	case "rgb8", "bgr8":
		ch = 3
	case "rgba8", "bgra8":
		ch = 4
	case "mono8":
		ch = 1
	default:
		return fmt.Errorf("image encoding %q: want rgb8, bgr8, rgba8, bgra8 or mono8 (or a CompressedImage topic)", m.Encoding)
	}
	step := int(m.Step)
	if step < w*ch || len(m.Data) < (h-1)*step+w*ch {
		return fmt.Errorf("image %dx%d %s: step %d and %d data bytes do not hold it", h, w, m.Encoding, step, len(m.Data))
	}
	if cap(dst.Pix) < h*w*3 {
		dst.Pix = make([]byte, h*w*3)
	}
	dst.Pix = dst.Pix[:h*w*3]
	dst.H, dst.W, dst.C = h, w, 3
	swap := m.Encoding == "bgr8" || m.Encoding == "bgra8"
	for y := range h {
		row := m.Data[y*step : y*step+w*ch]
		out := dst.Pix[y*w*3 : (y+1)*w*3]
		for x := range w {
			s := row[x*ch : x*ch+ch]
			o := out[x*3 : x*3+3]
			switch {
			case ch == 1:
				o[0], o[1], o[2] = s[0], s[0], s[0]
			case swap:
				o[0], o[1], o[2] = s[2], s[1], s[0]
			default:
				o[0], o[1], o[2] = s[0], s[1], s[2]
			}
		}
	}
	return nil
}
