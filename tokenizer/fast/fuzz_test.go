package fast

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/efferent/efferent/tokenizer"
)

// FuzzDecode: any token sequence decodes to a finite chunk or is refused
// with one of the detokenizer errors; Decode never panics.
func FuzzDecode(f *testing.F) {
	g, v := loadGolden(f)
	c := g.Cases[0]
	tk := newFor(f, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
	lo, hi := tk.Band()
	// Each 2-byte word is a token: mostly a FAST id's token, sometimes the
	// end token or a token outside the band.
	word := func(tok int64) []byte {
		var id uint16
		switch {
		case tok == g.LMEnd:
			id = 0xFFFF
		case tok < lo || tok > hi:
			id = 0xFFFE
		default:
			id = uint16(hi - tok)
		}
		return binary.LittleEndian.AppendUint16(nil, id)
	}
	for _, cs := range [][]int64{c.LMTokens, g.Refused[0].LMTokens, g.Refused[len(g.Refused)-1].LMTokens, {g.LMEnd}, {lo - 1, g.LMEnd}} {
		var seed []byte
		for _, tok := range cs {
			seed = append(seed, word(tok)...)
		}
		f.Add(seed)
	}
	dst := make([]float64, c.Horizon*c.Dim)
	f.Fuzz(func(t *testing.T, data []byte) {
		var toks []int64
		for i := 0; i+1 < len(data); i += 2 {
			switch id := binary.LittleEndian.Uint16(data[i:]); {
			case id == 0xFFFF:
				toks = append(toks, g.LMEnd)
			case id == 0xFFFE:
				toks = append(toks, lo-1)
			default:
				toks = append(toks, hi-int64(int(id)%(v.Size()+2))+1) // hi+1 and lo−1 too
			}
		}
		err := tk.Decode(toks, dst)
		if err == nil {
			for i, x := range dst {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("action %d is %v", i, x)
				}
			}
			if toks[len(toks)-1] != g.LMEnd {
				t.Fatal("decoded without the end token")
			}
			return
		}
		if !errors.Is(err, ErrIncomplete) && !errors.Is(err, tokenizer.ErrTokenOutOfBand) && !errors.Is(err, tokenizer.ErrNotFinite) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzParseVocab: any file is a vocabulary or ErrConfig; a vocabulary
// that loads encodes and decodes without panicking.
func FuzzParseVocab(f *testing.F) {
	// The real file (52 kB) as a seed makes every minimisation crawl; a cut
	// of it keeps its structure: the first tokens and the merges among them.
	data, err := os.ReadFile("testdata/tokenizer.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cutVocab(f, data, 200))
	const small = `{"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},` +
		`"post_processor":null,"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"H":0,"I":1,"HH":2,"HHH":3,"Ā":4},` +
		`"merges":[["H","H"],"HH H"]}}`
	f.Add([]byte(small))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVocab(data)
		if err != nil {
			if !errors.Is(err, tokenizer.ErrConfig) {
				t.Fatalf("error %v is not ErrConfig", err)
			}
			return
		}
		for id := range v.Size() {
			if len(v.Bytes(id)) == 0 {
				t.Fatalf("token %d decodes to no bytes", id)
			}
		}
		ids, err := v.Encode("HHHI 'sĀ\x00")
		if err == nil {
			for _, id := range ids {
				if id < 0 || id >= v.Size() {
					t.Fatalf("id %d outside the vocabulary", id)
				}
			}
		}
		norm, _ := tokenizer.NewNormalizer([]float64{-1}, []float64{1}, nil)
		tk, err := New(Conf{Horizon: 2, Dim: 1, Vocab: v, MinToken: -72, TokenBase: int64(v.Size() - 1), End: NoEnd, MaxTokens: 8, Norm: norm})
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float64, 2)
		for id := range min(v.Size(), 64) {
			_ = tk.Decode([]int64{int64(v.Size() - 1 - id)}, dst)
		}
	})
}

// cutVocab keeps the tokens of a tokenizer.json with ids below n and the
// merges among them.
func cutVocab(f *testing.F, data []byte, n int) []byte {
	var tj map[string]any
	if err := json.Unmarshal(data, &tj); err != nil {
		f.Fatal(err)
	}
	model := tj["model"].(map[string]any)
	vocab := map[string]any{}
	for tok, id := range model["vocab"].(map[string]any) {
		if int(id.(float64)) < n {
			vocab[tok] = id
		}
	}
	var merges []any
	for _, m := range model["merges"].([]any) {
		p := m.([]any)
		a, b := p[0].(string), p[1].(string)
		if vocab[a] != nil && vocab[b] != nil && vocab[a+b] != nil {
			merges = append(merges, m)
		}
	}
	model["vocab"], model["merges"] = vocab, merges
	out, err := json.Marshal(tj)
	if err != nil {
		f.Fatal(err)
	}
	return out
}
