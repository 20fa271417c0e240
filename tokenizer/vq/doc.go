// Package vq decodes residual vector-quantised action chunks, as VQ-VLA
// does: a chunk of H steps × D dims is carried by Levels tokens, one code per
// level; the latent is the sum of the chosen codebook vectors; a decoder
// (identity, or an injected LatentDecoder such as an ONNX graph) maps the
// latent to the normalised chunk, which is then un-normalised.
//
// Token mapping, Direction "down" (VQ-VLA: Base 31999, Codes 256):
//
//	token = Base − (level·Codes + code)
//
// and "up": token = Base + (level·Codes + code). Position i of a chunk
// allows exactly level i's sub-band, so constrained decoding always yields a
// well-formed chunk; anything else is ErrTokenOutOfBand.
//
// # Codebook file (codebook.json, format "efferent-vq/1")
//
//	{
//	  "format": "efferent-vq/1",
//	  "horizon": 5, "dim": 7, "levels": 4, "codes": 64, "latent_dim": 16,
//	  "codebook": [[[latent_dim floats] × codes] × levels],
//	  "sha256": "<hex SHA-256 of the codebook as float32 little-endian
//	             bytes, in level, code, latent order>"
//	}
//
// The loader checks the format string, the sizes, the nesting, that every
// value is finite, and the checksum; files over 64 MiB are refused.
package vq
