package text

import (
	"encoding/json"
	"fmt"
)

// postProcessor wraps a single sequence's ids with special tokens.
type postProcessor interface {
	apply(dst []int64, start int) []int64
}

// template holds the ids before and after the sequence.
type template struct{ before, after []int64 }

func (t *template) apply(dst []int64, start int) []int64 {
	if len(t.before) > 0 {
		dst = append(dst, t.before...) // grow, then shift the sequence right
		copy(dst[start+len(t.before):], dst[start:len(dst)-len(t.before)])
		copy(dst[start:], t.before)
	}
	return append(dst, t.after...)
}

func parsePostProcessor(raw json.RawMessage, vocab map[string]int64) (postProcessor, error) {
	k, err := kind(raw)
	if err != nil {
		return nil, err
	}
	switch k {
	case "", "ByteLevel":
		return nil, nil
	case "Sequence":
		var s struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: post_processor Sequence: %v", ErrInvalid, err)
		}
		var found postProcessor
		for _, r := range s.Processors {
			p, err := parsePostProcessor(r, vocab)
			if err != nil {
				return nil, err
			}
			if p != nil {
				if found != nil {
					return nil, fmt.Errorf("%w: post_processor Sequence with two id-changing processors", ErrUnsupported)
				}
				found = p
			}
		}
		return found, nil
	case "TemplateProcessing":
		var tp struct {
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int64 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &tp); err != nil {
			return nil, fmt.Errorf("%w: post_processor TemplateProcessing: %v", ErrInvalid, err)
		}
		t, seen := &template{}, false
		for _, piece := range tp.Single {
			switch {
			case piece.Sequence != nil:
				if seen || piece.Sequence.ID != "A" {
					return nil, fmt.Errorf("%w: TemplateProcessing single template must hold $A once", ErrUnsupported)
				}
				seen = true
			case piece.SpecialToken != nil:
				st, ok := tp.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("%w: TemplateProcessing names special token %q it does not define", ErrInvalid, piece.SpecialToken.ID)
				}
				if seen {
					t.after = append(t.after, st.IDs...)
				} else {
					t.before = append(t.before, st.IDs...)
				}
			default:
				return nil, fmt.Errorf("%w: TemplateProcessing piece is neither SpecialToken nor Sequence", ErrInvalid)
			}
		}
		if !seen {
			return nil, fmt.Errorf("%w: TemplateProcessing single template lacks $A", ErrInvalid)
		}
		return t, nil
	case "BertProcessing", "RobertaProcessing":
		var bp struct {
			Sep []json.RawMessage `json:"sep"`
			Cls []json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &bp); err != nil {
			return nil, fmt.Errorf("%w: post_processor %s: %v", ErrInvalid, k, err)
		}
		if len(bp.Sep) != 2 || len(bp.Cls) != 2 {
			return nil, fmt.Errorf("%w: post_processor %s needs sep and cls as [token, id]", ErrInvalid, k)
		}
		var cls, sep int64
		if json.Unmarshal(bp.Cls[1], &cls) != nil || json.Unmarshal(bp.Sep[1], &sep) != nil {
			return nil, fmt.Errorf("%w: post_processor %s: ids must be integers", ErrInvalid, k)
		}
		return &template{before: []int64{cls}, after: []int64{sep}}, nil
	default:
		return nil, fmt.Errorf("%w: post_processor type %q", ErrUnsupported, k)
	}
}
