package api

// Limits bound what the decoder accepts. The frame size itself is bounded
// by the transport (the server's max_frame_bytes); these stop a small frame
// from expanding into a large tree.
type Limits struct {
	// MaxDepth is the deepest nesting of maps and arrays. Default 16.
	MaxDepth int
	// MaxEntries is the most entries in one map or array. Default 4096.
	MaxEntries int
	// MaxValues is the most values in the whole message. Default 65536.
	MaxValues int
	// MaxStringBytes is the longest str (keys, prompts). Default 64 KiB.
	MaxStringBytes int
	// MaxRank is the highest ndarray rank. Default 8.
	MaxRank int
	// MaxImageSide is the largest image height or width. Default 4096.
	MaxImageSide int
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{MaxDepth: 16, MaxEntries: 4096, MaxValues: 65536, MaxStringBytes: 64 << 10, MaxRank: 8, MaxImageSide: 4096}
}

func (l Limits) orDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxValues <= 0 {
		l.MaxValues = d.MaxValues
	}
	if l.MaxStringBytes <= 0 {
		l.MaxStringBytes = d.MaxStringBytes
	}
	if l.MaxRank <= 0 {
		l.MaxRank = d.MaxRank
	}
	if l.MaxImageSide <= 0 {
		l.MaxImageSide = d.MaxImageSide
	}
	return l
}
