// Package text encodes prompts with a Hugging Face tokenizer.json, in pure
// Go (no Rust, no Python), so that a lab's exported VLA tokenizes its
// instruction exactly as it did in training.
//
// Supported (anything else fails at Load with ErrUnsupported naming the
// component, rather than tokenizing differently from the original):
//
//   - model: BPE (merges as "a b" strings or [a, b] pairs, byte_fallback,
//     unk_token, fuse_unk, continuing_subword_prefix, end_of_word_suffix,
//     ignore_merges; dropout must be off), Unigram (Viterbi over the piece
//     lattice as the Rust library's encode_optimized: unknown characters
//     scored min_score - 10 and fused, then byte_fallback or unk_id),
//     WordPiece, WordLevel;
//   - normalizer: Sequence, Prepend, Replace (string patterns, and regex
//     patterns translated from the Oniguruma syntax the Rust library uses:
//     ^ and $ anchor lines, \s and \d are Unicode; patterns with \w, \b,
//     POSIX classes or (?i) only on ASCII input), Lowercase, Strip,
//     NFC, NFD, NFKC, NFKD (golang.org/x/text/unicode/norm, Unicode 15),
//     StripAccents, Nmt, BertNormalizer, Precompiled (SentencePiece's
//     precompiled_charsmap: its double-array trie read as the
//     spm_precompiled crate does, applied per extended grapheme cluster);
//   - pre_tokenizer: Sequence, Split (string or regex pattern, every
//     behavior, invert; regexes Go's regexp cannot run, which use
//     look-ahead, are matched by hand: GPT-2's, cl100k's / Llama 3's and
//     Qwen2/3's, each checked exhaustively against the Rust library),
//     Metaspace, ByteLevel (with the GPT-2 split, written by hand because
//     Go's regexp has no look-ahead), Whitespace, WhitespaceSplit,
//     BertPreTokenizer;
//   - post_processor: TemplateProcessing (single sequences), BertProcessing,
//     RobertaProcessing, ByteLevel (no effect on ids), Sequence;
//   - decoder (Decode): Sequence, Replace, ByteFallback, Fuse, Strip,
//     Metaspace, ByteLevel, WordPiece, BPEDecoder;
//   - added_tokens: as the Rust library does, those with normalized: false
//     are matched on the raw text, leftmost then longest first, honouring
//     lstrip, rstrip and single_word; each text segment between them is
//     normalised separately and then searched for the normalized: true
//     ones by their normalised content.
//
// Text the model cannot represent (no unk_token, no byte fallback) is an
// error (the Rust library's BPE silently drops it).
//
// Real files checked token for token against the Rust library
// (testdata/real: Mistral-7B's, Gemma 3's and Qwen3's tokenizer.json from
// npm, two SentencePiece Unigram models in T5's and the newer layouts,
// and CLIP's Split), on over 2,000 strings each: see real_test.go and
// testdata/gen_real_golden.mjs. testdata/golden.json holds Hugging Face's
// output for the small testdata fixtures; see testdata/gen_golden.mjs.
//
// truncation and padding in the file are ignored: the caller (the policy)
// pads to the model's fixed length and refuses prompts that are too long.
package text
