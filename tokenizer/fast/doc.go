// Package fast is the FAST action tokenizer of π0-FAST (Pertsch et al.,
// "FAST: Efficient Action Tokenization for Vision-Language-Action
// Models", 2025): an action chunk becomes a variable number of tokens by
// a discrete cosine transform, rounding and byte-pair encoding.
//
// It follows physical-intelligence/fast's processing_action_tokenizer.py
// (the UniversalActionProcessor that openpi loads with AutoProcessor;
// vendored e.g. in huggingface/lerobot, src/lerobot/policies/molmoact2/
// molmoact2_hf_model/action_tokenizer.py) and
// openpi's src/openpi/models/tokenizer.py (FASTTokenizer) and
// src/openpi/transforms.py (quantile normalisation). testdata/
// fast_reference.py re-implements them in numpy/scipy and writes the
// goldens the tests match.
//
// # Encoding (actions → tokens)
//
//  1. Quantile normalisation per dim, as openpi does it:
//     x = (a − q01)/(q99 − q01 + eps)·2 − 1, eps = 1e-6 in openpi, no
//     clipping (dims whose mask is false pass through).
//  2. DCT-II over time, orthonormal (scipy.fft.dct(x, axis=0,
//     norm="ortho")), for each action dim: coefficient [k][d].
//  3. q = round(coefficient·scale), numpy's round half to even; scale 10.
//  4. Flatten row-major: k·D + d, every dim's frequency 0, then every
//     dim's frequency 1, and so on (the zeros of the high frequencies end
//     up together at the end, where BPE swallows them).
//  5. Each q becomes one character, chr(q − min_token). (The processor
//     clamps q − min_token at 0 first; Encode refuses instead.)
//  6. The string goes through the processor's byte-level BPE (a Hugging
//     Face ByteLevelBPETokenizer): the GPT-2 regex split, each word's UTF-8
//     bytes as byte-level characters, merges by rank. The ids are FAST ids
//     0..vocab−1.
//  7. FAST id t becomes a language-model id: openpi maps it to PaliGemma's
//     vocab_size − 1 − 128 − t (= 257023 − t: the last 128 ids are
//     special tokens and are skipped), here TokenBase − t (direction down)
//     or TokenBase + t (up).
//
// openpi frames the action tokens as "Action: " + tokens + "|" + EOS in
// the language model's output. efferent's decoder starts after the prompt
// (text.template can end with "Action:"), and End is the token that ends
// the action tokens ("|" for π0-FAST).
//
// # Decoding (tokens → actions)
//
// The inverse: language-model ids → FAST ids (outside the band:
// tokenizer.ErrTokenOutOfBand) → the bytes of each token (byte-level
// characters back to bytes; a token with characters outside the
// byte-level alphabet gives its own UTF-8 bytes, as the ByteLevel decoder
// does) → UTF-8 characters → c + min_token → ÷ scale → inverse DCT over
// time → un-normalisation (x + 1)/2·(q99 − q01 + eps) + q01.
//
// The processor returns an all-ZERO chunk when the characters do not
// reshape to (H, D) (and openpi when "Action: " is missing): for a robot a
// zero action is a command, not a failure. Decode refuses such sequences
// with ErrIncomplete (wrapping tokenizer.ErrTokenCount): too few or too
// many coefficients, no end token, a token after it, bytes that are not
// UTF-8 (the processor would decode U+FFFD, 65533, as a coefficient). The
// runtime counts these (ort.VLA.DetokenizeErrors) and answers an error.
//
// # Variable length
//
// A chunk takes a variable number of tokens (smooth chunks few, jerky ones
// many). TokensPerChunk is MaxTokens + 1: at most MaxTokens action tokens,
// then End. Allowed(i) is the FAST band at positions 0..MaxTokens−1 and
// only End at position MaxTokens; End is allowed at every position as well
// (End reports it), and the autoregressive runtime stops decoding a row
// when the row picks it. Decode gets the tokens up to and including End.
// Constrained decoding cannot guarantee that the tokens form exactly H·D
// characters of valid UTF-8 (that depends on the tokens already chosen,
// not on the position), so Decode checks and refuses.
//
// # Vocabulary file
//
// The BPE is a Hugging Face tokenizer.json, as the FAST processor saves it
// (save_pretrained of physical-intelligence/fast, or of a tokenizer fitted
// with UniversalActionProcessor.fit): model BPE with vocab and merges,
// pre_tokenizer and decoder ByteLevel. ParseVocab refuses what would
// tokenize differently (see there). The universal FAST+ tokenizer has 2048
// tokens, min_token −354 and scale 10 (its processor_config.json); the
// vocabulary in testdata was trained by fast_reference.py on synthetic
// chunks with the processor's fit procedure (1024 tokens, min_token −72).
//
// # Manifest (action.tokenizer, kind fast)
//
//	kind: fast
//	vocab: fast_tokenizer.json   # the BPE's tokenizer.json
//	scale: 10                    # processor scale (default 10)
//	min_token: -72               # processor min_token (FAST+: -354; default 0)
//	token_base: 2031             # language-model id of FAST id 0
//	direction: down              # lm = token_base - t (openpi); up: + t
//	end_token: 282               # id ending the action tokens (π0-FAST: "|")
//	max_tokens: 32               # most action tokens per chunk, end excluded
//	norm_eps: 1.0e-6             # added to q99 - q01 (openpi 1e-6; default 0)
//
// q01, q99 and mask come from action.normalization (bounds_q99).
package fast
