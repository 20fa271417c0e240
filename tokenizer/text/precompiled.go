package text

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiled is SentencePiece's precompiled_charsmap normalizer (T5,
// ALBERT, XLM-R, SigLIP…): a darts-clone double-array trie over UTF-8
// bytes whose values point into a blob of NUL-terminated replacements.
// The layout, as the spm_precompiled crate reads it: a little-endian u32
// trie size in bytes, the trie as little-endian u32 units, the blob.
type precompiled struct {
	trie       []uint32
	normalized string
}

func parsePrecompiled(raw json.RawMessage) (normalizer, error) {
	var p struct {
		Charsmap *string `json:"precompiled_charsmap"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%w: normalizer Precompiled: %v", ErrInvalid, err)
	}
	if p.Charsmap == nil {
		return nil, fmt.Errorf("%w: normalizer Precompiled lacks precompiled_charsmap", ErrInvalid)
	}
	data, err := base64.StdEncoding.DecodeString(*p.Charsmap)
	if err != nil {
		return nil, fmt.Errorf("%w: Precompiled charsmap: %v", ErrInvalid, err)
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("%w: Precompiled charsmap of %d bytes", ErrInvalid, len(data))
	}
	size := int(binary.LittleEndian.Uint32(data)) / 4 * 4
	if size > len(data)-4 || size == 0 {
		return nil, fmt.Errorf("%w: Precompiled trie of %d bytes in a charsmap of %d", ErrInvalid, size, len(data))
	}
	pc := &precompiled{trie: make([]uint32, size/4), normalized: string(data[4+size:])}
	for i := range pc.trie {
		pc.trie[i] = binary.LittleEndian.Uint32(data[4+4*i:])
	}
	if !utf8.ValidString(pc.normalized) {
		return nil, fmt.Errorf("%w: Precompiled replacements are not UTF-8", ErrInvalid)
	}
	return pc.normalize, nil
}

// transform is spm_precompiled's Precompiled::transform: the replacement
// of the shortest key in the trie that prefixes chunk (not necessarily
// all of it), if any.
func (p *precompiled) transform(chunk string) (string, bool) {
	offset := func(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
	pos := offset(p.trie[0])
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if int(pos) >= len(p.trie) {
			return "", false // a malformed trie (the crate would panic)
		}
		u := p.trie[pos]
		if u&(1<<31|0xFF) != uint32(c) {
			return "", false
		}
		pos ^= offset(u)
		if (u>>8)&1 == 1 {
			if int(pos) >= len(p.trie) {
				return "", false
			}
			v := int(p.trie[pos] & (1<<31 - 1))
			if v > len(p.normalized) {
				return "", false
			}
			end := strings.IndexByte(p.normalized[v:], 0)
			if end < 0 {
				end = len(p.normalized) - v
			}
			r := p.normalized[v : v+end]
			if !utf8.ValidString(r) {
				return "", false // cut inside a character: Rust would panic
			}
			return r, true
		}
	}
	return "", false
}

// normalize is the Rust library's Precompiled normalizer: each extended
// grapheme cluster shorter than 6 bytes is looked up whole; otherwise (or
// when that finds nothing) each of its characters is.
func (p *precompiled) normalize(s string) (string, error) {
	var sb strings.Builder
	modified := false
	state := -1
	for rest := s; rest != ""; {
		var g string
		g, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if len(g) < 6 {
			if r, ok := p.transform(g); ok {
				sb.WriteString(r)
				modified = true
				continue
			}
		}
		for i, c := range g {
			part := g[i : i+utf8.RuneLen(c)]
			if r, ok := p.transform(part); ok {
				sb.WriteString(r)
				modified = true
			} else {
				sb.WriteString(part)
			}
		}
	}
	if !modified {
		return s, nil
	}
	return sb.String(), nil
}
