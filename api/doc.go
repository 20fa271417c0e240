// Package api is efferent's wire format, kept apart from the server: the
// msgpack + numpy encoding that openpi's policy server and clients speak
// (openpi_client/msgpack_numpy.py), the LIBERO-style observation map, and
// the reply with "actions" and timing maps.
//
// The decoder is written by hand for untrusted input: it builds a small
// tree of Values (no reflection, no type registry — nothing like pickle),
// checks every declared length against the bytes that remain before
// allocating, and enforces Limits on depth, container sizes and string
// lengths. numpy arrays are maps with bin keys "__ndarray__", "data",
// "dtype", "shape" (str keys are accepted too); they decode to NDArray,
// whose Data aliases the input frame: the frame must outlive the values
// decoded from it.
//
// The encoder appends to a caller's buffer and writes exactly what Python's
// msgpack with use_bin_type=True and msgpack_numpy would: str keys for
// ordinary maps, bin keys for ndarray maps, float64 for floats.
package api
