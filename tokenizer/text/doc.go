// Package text encodes prompts with a Hugging Face tokenizer.json, in pure
// Go (no Rust, no Python), so that a lab's exported VLA tokenizes its
// instruction exactly as it did in training.
//
// Supported (anything else fails at Load with ErrUnsupported naming the
// component, rather than tokenizing differently from the original):
//
//   - model: BPE (merges as "a b" strings or [a, b] pairs, byte_fallback,
//     unk_token, fuse_unk, continuing_subword_prefix, end_of_word_suffix,
//     ignore_merges; dropout must be off), WordPiece, WordLevel;
//   - normalizer: Sequence, Prepend, Replace (string patterns, and regex
//     patterns translated from the Oniguruma syntax the Rust library uses:
//     ^ and $ anchor lines, \s and \d are Unicode; patterns with \w, \b,
//     POSIX classes or (?i) only on ASCII input), Lowercase, Strip,
//     NFC/NFD/NFKC/NFKD and BertNormalizer's accent stripping only on ASCII
//     input (Unicode normalisation needs tables the standard library lacks;
//     robot instructions are almost always ASCII, and non-ASCII input to
//     such a tokenizer is an error, not a guess);
//   - pre_tokenizer: Sequence, Metaspace, ByteLevel (with the GPT-2 split,
//     written by hand because Go's regexp has no look-ahead), Whitespace,
//     WhitespaceSplit, BertPreTokenizer;
//   - post_processor: TemplateProcessing (single sequences), BertProcessing,
//     RobertaProcessing, ByteLevel (no effect on ids), Sequence;
//   - added_tokens: as the Rust library does, those with normalized: false
//     are matched on the raw text, leftmost then longest first, honouring
//     lstrip, rstrip and single_word; each text segment between them is
//     normalised separately and then searched for the normalized: true
//     ones by their normalised content.
//
// Text the model cannot represent (no unk_token, no byte fallback) is an
// error (the Rust library's BPE silently drops it).
//
// testdata/golden.json holds Hugging Face's own output for the testdata
// fixtures; see testdata/gen_golden.mjs.
//
// truncation and padding in the file are ignored: the caller (the policy)
// pads to the model's fixed length and refuses prompts that are too long.
package text
