package api

import "errors"

var (
	// ErrMalformed: the bytes are not a valid msgpack message of the
	// expected structure.
	ErrMalformed = errors.New("malformed message")
	// ErrTooLarge: a length, depth or count exceeds Limits.
	ErrTooLarge = errors.New("message exceeds limits")
	// ErrMissingKey: a required key is absent.
	ErrMissingKey = errors.New("missing key")
	// ErrBadShape: an array has the wrong rank or dimensions.
	ErrBadShape = errors.New("bad shape")
	// ErrBadDType: an array's dtype is unsupported or not the one needed.
	ErrBadDType = errors.New("bad dtype")
	// ErrNotFinite: a numeric value that must be finite is NaN or infinite.
	ErrNotFinite = errors.New("value not finite")
)
