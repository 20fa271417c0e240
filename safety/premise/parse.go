package premise

import (
	"strings"
	"unicode"
)

// MaxInstructionBytes bounds what Parse reads: a longer instruction is
// ErrInstructionTooLong (servers bound prompts already; this keeps the
// parser's work bounded whoever calls it).
const MaxInstructionBytes = 4096

// Phrase is one object an instruction names.
type Phrase struct {
	// Text is the phrase's words as written, without determiners: "red
	// block", "coffee mug".
	Text string
	// Color and Category are canonical ("" when none was said, or for
	// Category when the head noun is unknown or generic).
	Color    string
	Category string
	// Head is the head noun as written ("blocks", "mug"); "" for a
	// colour-only phrase ("the red one" has Head "one", which is generic).
	Head string
	// Modifiers are words before the head that the vocabulary does not
	// know ("small", "coffee"); they do not take part in grounding.
	Modifiers []string
	// Action is the action of the clause the phrase belongs to ("" when
	// the instruction has no verb).
	Action string
	// Relation is how the phrase relates to the clause ("in", "on",
	// "left_of"); "" for the action's direct object.
	Relation string
	// Unknown marks a phrase whose head noun is no known category, generic
	// noun or fixture: no detector can ground it, so the checker asks.
	Unknown bool
}

// Instruction is a parsed instruction.
type Instruction struct {
	// Text is the normalised instruction (lower case, single spaces):
	// two instructions that differ only in case or spacing are the same.
	Text string
	// Actions are the clauses' actions, in order, without repeats.
	Actions []string
	// Directions are direction words that name no object ("to the left").
	Directions []string
	// Phrases are the objects named, in order, repeats removed.
	Phrases []Phrase
	// Ignored are words outside any phrase that the vocabulary does not
	// know ("please", "carefully"); they do not affect the check.
	Ignored []string
}

// Words splits s into lower-case words: letters and digits; everything
// else separates (a possessive "'s" is dropped).
func Words(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	out := f[:0]
	for _, w := range f {
		w = strings.TrimSuffix(w, "'s")
		w = strings.Trim(w, "'")
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// token kinds, in the order that breaks ties between equally long matches.
type kind int

const (
	kNone kind = iota
	kRelation
	kDirection
	kAction
	kColor
	kCategory
	kGeneric
	kFixture
	kPronoun
	kDeterminer
	kConjunction
)

// next classifies the longest vocabulary entry starting at words[i].
func (v *Vocabulary) next(words []string, i int) (kind, string, int) {
	best, val, n := kNone, "", 0
	try := func(k kind, m map[string]string) {
		if s, l := match(m, words, i); l > n {
			best, val, n = k, s, l
		}
	}
	try(kRelation, v.Relations)
	try(kDirection, v.Directions)
	try(kAction, v.Actions)
	try(kColor, v.Colors)
	try(kCategory, v.Categories)
	w := words[i]
	if n == 0 {
		switch {
		case v.Generic[w]:
			return kGeneric, w, 1
		case v.Fixtures[w]:
			return kFixture, w, 1
		case v.Pronouns[w]:
			return kPronoun, w, 1
		case v.Determiners[w]:
			return kDeterminer, w, 1
		case v.Conjunctions[w]:
			return kConjunction, w, 1
		}
	}
	return best, val, n
}

// phraseBuilder collects one phrase's words until its head.
type phraseBuilder struct {
	open      bool
	words     []string
	color     string
	modifiers []string
}

// Parse reads an instruction. It never fails on unknown words: they become
// modifiers, unknown heads (Phrase.Unknown) or Ignored words. It fails only
// for an empty instruction (ErrEmptyInstruction) or one longer than
// MaxInstructionBytes (ErrInstructionTooLong).
func (v *Vocabulary) Parse(s string) (Instruction, error) {
	if len(s) > MaxInstructionBytes {
		return Instruction{}, ErrInstructionTooLong
	}
	words := Words(s)
	if len(words) == 0 {
		return Instruction{}, ErrEmptyInstruction
	}
	in := Instruction{Text: strings.Join(words, " ")}
	var (
		action, relation string
		b                phraseBuilder
		// expectObject: the previous token was a verb or a relation, so
		// an unknown word here starts a phrase ("put mug in ...").
		expectObject bool
	)
	emit := func(p Phrase) {
		p.Action, p.Relation = action, relation
		relation = ""
		for _, q := range in.Phrases {
			if q.Text == p.Text && q.Color == p.Color && q.Category == p.Category {
				return
			}
		}
		in.Phrases = append(in.Phrases, p)
	}
	// flush ends an open phrase that has no head yet: its last unknown
	// word becomes the head (unknown), or, with only a colour, it is a
	// colour-only phrase ("the red one" without "one").
	flush := func() {
		defer func() { b = phraseBuilder{} }()
		if !b.open || len(b.words) == 0 {
			return
		}
		p := Phrase{Text: strings.Join(b.words, " "), Color: b.color}
		if k := len(b.modifiers); k > 0 {
			p.Head, p.Modifiers, p.Unknown = b.modifiers[k-1], b.modifiers[:k-1], true
		}
		emit(p)
	}
	for i := 0; i < len(words); {
		k, val, n := v.next(words, i)
		if n == 0 {
			n = 1
		}
		text := strings.Join(words[i:i+n], " ")
		i += n
		wasExpecting := expectObject
		expectObject = false
		switch k {
		case kDeterminer:
			flush()
			b.open = true
		case kColor:
			if !b.open {
				b.open = true
			}
			b.words = append(b.words, text)
			if b.color == "" {
				b.color = val
			}
		case kCategory, kGeneric, kFixture:
			b.open = true
			b.words = append(b.words, text)
			p := Phrase{Text: strings.Join(b.words, " "), Color: b.color, Head: text, Modifiers: b.modifiers}
			if k == kCategory {
				p.Category = val
			}
			b = phraseBuilder{}
			if k == kFixture || (k == kGeneric && p.Color == "") {
				relation = "" // "the table", "it all": nothing to ground
				continue
			}
			emit(p)
		case kRelation:
			flush()
			relation = val
			expectObject = true
		case kDirection:
			flush()
			relation = "" // "on the left": a place, not an object
			in.Directions = appendNew(in.Directions, val)
		case kAction:
			flush()
			action = val
			relation = ""
			in.Actions = appendNew(in.Actions, val)
			expectObject = true
		case kPronoun:
			flush()
			relation = ""
		case kConjunction:
			flush()
			relation = ""
		default: // a word the vocabulary does not know
			if b.open || wasExpecting {
				b.open = true
				b.words = append(b.words, text)
				b.modifiers = append(b.modifiers, text)
				continue
			}
			in.Ignored = append(in.Ignored, text)
		}
	}
	flush()
	return in, nil
}

func appendNew(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
