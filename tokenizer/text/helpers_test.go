package text

import (
	"encoding/json"
	"maps"
	"testing"
)

// baseFile is a minimal valid tokenizer.json (WordLevel, no other
// components); tests override one field at a time.
func baseFile() map[string]any {
	return map[string]any{
		"added_tokens":   []any{},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]any{"type": "WhitespaceSplit"},
		"post_processor": nil,
		"decoder":        nil,
		"model": map[string]any{
			"type":      "WordLevel",
			"vocab":     map[string]any{"[UNK]": 0, "pick": 1, "up": 2, "cup": 3},
			"unk_token": "[UNK]",
		},
	}
}

// fileWith returns baseFile with fields replaced, as JSON.
func fileWith(tb testing.TB, fields map[string]any) []byte {
	tb.Helper()
	f := baseFile()
	maps.Copy(f, fields)
	data, err := json.Marshal(f)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func mustParse(tb testing.TB, data []byte) *Tokenizer {
	tb.Helper()
	tk, err := Parse(data)
	if err != nil {
		tb.Fatalf("Parse: %v\n%s", err, data)
	}
	return tk
}

// rawJSON lets a test write a component as a JSON literal.
func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }
