package text

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// unigram is SentencePiece's unigram language model as the Rust library
// runs it (Unigram::encode_optimized): Viterbi over the lattice of vocab
// pieces, each scored by its log probability; a character no piece covers
// is one unknown node scored min_score - 10; runs of unknown nodes fuse
// into one piece, which becomes its bytes' <0xXX> tokens under
// byte_fallback, else unk_id.
type unigram struct {
	pieces   []string
	scores   []float64
	ids      map[string]int64 // piece → id; the last of equal pieces, as the Rust library
	unk      int64            // -1: none
	unkScore float64
	byteFB   bool
	byteIDs  [256]int64 // -1 where <0xXX> is missing
	// trie over the pieces' bytes: node<<8|byte → child; end[node] is the
	// id of the piece ending there, or -1.
	edges map[uint32]uint32
	end   []int64

	words wordCache
}

// unkPenalty is the Rust library's K_UNK_PENALTY.
const unkPenalty = 10.0

func parseUnigram(raw json.RawMessage) (*unigram, map[string]int64, error) {
	var u struct {
		Vocab        [][2]json.RawMessage `json:"vocab"`
		UnkID        *int64               `json:"unk_id"`
		ByteFallback bool                 `json:"byte_fallback"`
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, nil, fmt.Errorf("%w: model Unigram: %v", ErrInvalid, err)
	}
	if len(u.Vocab) == 0 {
		return nil, nil, fmt.Errorf("%w: model Unigram has an empty vocab", ErrInvalid)
	}
	if len(u.Vocab) >= 1<<31 {
		return nil, nil, fmt.Errorf("%w: model Unigram vocab too large", ErrInvalid)
	}
	m := &unigram{ids: make(map[string]int64, len(u.Vocab)), unk: -1, byteFB: u.ByteFallback,
		edges: map[uint32]uint32{}, end: []int64{-1}}
	minScore := math.Inf(1)
	for i, e := range u.Vocab {
		var piece string
		var score float64
		if json.Unmarshal(e[0], &piece) != nil || json.Unmarshal(e[1], &score) != nil {
			return nil, nil, fmt.Errorf("%w: Unigram vocab entry %d is not [piece, score]", ErrInvalid, i)
		}
		if _, dup := m.ids[piece]; dup {
			return nil, nil, fmt.Errorf("%w: Unigram piece %q appears twice", ErrInvalid, piece)
		}
		m.pieces, m.scores = append(m.pieces, piece), append(m.scores, score)
		m.ids[piece] = int64(i)
		minScore = min(minScore, score)
		if piece == "" {
			continue // the Rust library's trie never yields an empty key
		}
		node := uint32(0)
		for j := 0; j < len(piece); j++ {
			if len(m.end) >= 1<<24 {
				return nil, nil, fmt.Errorf("%w: Unigram vocab too large", ErrInvalid)
			}
			key := node<<8 | uint32(piece[j])
			child, ok := m.edges[key]
			if !ok {
				child = uint32(len(m.end))
				m.end = append(m.end, -1)
				m.edges[key] = child
			}
			node = child
		}
		m.end[node] = int64(i)
	}
	if u.UnkID != nil {
		if *u.UnkID < 0 || *u.UnkID >= int64(len(u.Vocab)) {
			return nil, nil, fmt.Errorf("%w: Unigram unk_id %d outside the vocab", ErrInvalid, *u.UnkID)
		}
		m.unk = *u.UnkID
	}
	m.unkScore = minScore - unkPenalty
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := m.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	return m, m.ids, nil
}

func (m *unigram) appendWord(dst []int64, w string) ([]int64, error) {
	return m.words.append(dst, w, m.encode)
}

type latticeNode struct {
	id    int64 // -1: unk
	score float64
	start int // -1: unreached
}

func (m *unigram) encode(dst []int64, w string) ([]int64, error) {
	best := make([]latticeNode, len(w)+1)
	for i := 1; i <= len(w); i++ {
		best[i].start = -1
	}
	for start := 0; start < len(w); {
		_, mblen := utf8.DecodeRuneInString(w[start:])
		here := best[start].score
		single := false
		node := uint32(0)
		// Pieces starting here, shortest first (the trie's order; on a tie
		// the first found stays).
		for j := start; j < len(w); j++ {
			child, ok := m.edges[node<<8|uint32(w[j])]
			if !ok {
				break
			}
			node = child
			id := m.end[node]
			if id < 0 {
				continue
			}
			end := j + 1
			if cand := m.scores[id] + here; best[end].start < 0 || cand > best[end].score {
				best[end] = latticeNode{id: id, score: cand, start: start}
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			if m.unk < 0 {
				return dst, fmt.Errorf("%w: %q has no piece and the model has no unk_id", ErrInvalid, w[start:start+mblen])
			}
			end := start + mblen
			if cand := m.unkScore + here; best[end].start < 0 || cand > best[end].score {
				best[end] = latticeNode{id: m.unk, score: cand, start: start}
			}
		}
		start += mblen
	}
	// Backtrack into pieces (start, end, id), fusing runs of unk.
	type piece struct {
		start, end int
		unk        bool
	}
	var rev []piece
	for end := len(w); end > 0; {
		nd := best[end]
		isUnk := nd.id == m.unk
		if isUnk && len(rev) > 0 && rev[len(rev)-1].unk {
			rev[len(rev)-1].start = nd.start
		} else {
			rev = append(rev, piece{nd.start, end, isUnk})
		}
		end = nd.start
	}
	for i := len(rev) - 1; i >= 0; i-- {
		s := w[rev[i].start:rev[i].end]
		if id, ok := m.ids[s]; ok {
			dst = append(dst, id)
			continue
		}
		if m.byteFB && m.allBytes(s) {
			for j := 0; j < len(s); j++ {
				dst = append(dst, m.byteIDs[s[j]])
			}
			continue
		}
		if m.unk < 0 {
			return dst, errUnknown(s)
		}
		dst = append(dst, m.unk)
	}
	return dst, nil
}

func (m *unigram) allBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if m.byteIDs[s[i]] < 0 {
			return false
		}
	}
	return true
}
