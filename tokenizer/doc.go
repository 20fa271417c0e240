// Package tokenizer turns a policy's action tokens into actions.
//
// A Detokenizer knows its chunk geometry (H actions of D dims), how many
// tokens one chunk takes, which tokens are allowed at each position (so
// that decoding can be constrained and can never produce a malformed
// chunk), and how to decode tokens into un-normalised actions without
// allocating. Implementations: vq (residual VQ action chunks, VQ-VLA style),
// bins (OpenVLA's 256-bin tokenizer) and fast (π0-FAST's DCT + BPE tokens,
// a variable number per chunk, up to an end token). Text tokenization of
// prompts is in tokenizer/text.
//
// Bad tokens are an error, never a guess: a token outside its band, the
// wrong number of tokens, or a non-finite decoded value returns an error
// and the caller must not move the robot.
package tokenizer
