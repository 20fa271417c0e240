package premise

import (
	"fmt"
	"strings"
)

// Object is a thing a task set can name: its full name as instructions say
// it ("red block", "plate"), its colour word ("" when instructions name it
// without one) and its category (the head noun: "block", "bowl").
type Object struct {
	Name     string
	Color    string
	Category string
}

// Vocabulary is what the parser understands. Every map goes from a word or
// a space-separated word sequence, in lower case, to its canonical form; a
// phrase's words are matched longest first, so "on top of" wins over "on".
type Vocabulary struct {
	// Actions maps verbs to actions: "put" → "place", "pick up" → "pick".
	Actions map[string]string
	// Colors maps colour words to colours: "grey" → "gray".
	Colors map[string]string
	// Categories maps nouns (singular and plural, synonyms) to categories:
	// "cubes" → "block".
	Categories map[string]string
	// Relations maps place words to relations: "into" → "in", "on top
	// of" → "on", "left of" → "left_of". A relation applies to the phrase
	// that follows it.
	Relations map[string]string
	// Directions maps direction words that name no object ("to the left")
	// to a direction; they attach to the current clause's action.
	Directions map[string]string
	// Generic are nouns that name no category ("object", "thing", "one"):
	// a phrase headed by one is grounded by its colour alone.
	Generic map[string]bool
	// Fixtures are nouns for the scene itself ("table", "gripper"): always
	// there, never checked.
	Fixtures map[string]bool
	// Pronouns refer back to an earlier phrase ("it", "them") and are not
	// new objects.
	Pronouns map[string]bool
	// Determiners open a phrase ("the", "a", "both").
	Determiners map[string]bool
	// Conjunctions end a phrase and keep the current action ("and").
	Conjunctions map[string]bool
	// Objects are the known objects (informational: detectors may use it
	// to know what a colour-less name such as "plate" looks like).
	Objects []Object
}

// BaseVocabulary returns the words every tabletop vocabulary shares:
// manipulation verbs, place relations, directions, determiners, pronouns,
// conjunctions, generic nouns and common synonyms. Colours and categories
// come from the task set (see NewVocabulary).
func BaseVocabulary() Vocabulary {
	return Vocabulary{
		Actions: map[string]string{
			"put": "place", "place": "place", "set": "place", "drop": "place", "move": "place",
			"pick up": "pick", "pick": "pick", "grab": "pick", "grasp": "pick", "take": "pick", "lift": "pick", "get": "pick",
			"stack": "stack", "push": "push", "slide": "push", "shove": "push",
			"bring": "place", "give": "place", "find": "find", "touch": "touch", "point at": "touch",
		},
		Colors: map[string]string{"grey": "gray"},
		Categories: map[string]string{
			"cube": "block", "cubes": "block", "box": "block", "brick": "block",
			"sphere": "ball", "spheres": "ball",
			"can": "cylinder", "tube": "cylinder",
			"dish": "plate", "dishes": "plate",
			"bin": "basket", "tray": "basket",
		},
		Relations: map[string]string{
			"in": "in", "into": "in", "inside": "in", "inside of": "in",
			"on": "on", "onto": "on", "on top of": "on", "atop": "on", "over": "on",
			"left of": "left_of", "to the left of": "left_of", "on the left of": "left_of",
			"right of": "right_of", "to the right of": "right_of", "on the right of": "right_of",
			"next to": "next_to", "beside": "next_to", "near": "next_to", "by": "next_to",
			"behind": "behind", "in front of": "front_of", "under": "under", "below": "under",
			"between": "between", "from": "from", "out of": "from", "off": "from", "with": "with",
		},
		Directions: map[string]string{
			"to the left": "left", "left": "left", "leftward": "left", "leftwards": "left",
			"to the right": "right", "right": "right", "rightward": "right", "rightwards": "right",
			"forward": "forward", "forwards": "forward", "away": "forward", "back": "back", "backward": "back",
			"backwards": "back", "up": "up", "down": "down",
		},
		Generic: map[string]bool{"object": true, "objects": true, "thing": true, "things": true, "one": true, "ones": true, "item": true, "items": true,
			"something": true, "anything": true, "everything": true},
		Fixtures: map[string]bool{"table": true, "tabletop": true, "gripper": true, "hand": true, "arm": true, "robot": true,
			"side": true, "center": true, "centre": true, "middle": true, "edge": true, "corner": true, "camera": true, "you": true, "me": true},
		Pronouns:     map[string]bool{"it": true, "them": true, "its": true, "this": true, "that": true, "these": true, "those": true, "there": true},
		Determiners:  map[string]bool{"the": true, "a": true, "an": true, "both": true, "each": true, "every": true, "all": true, "some": true, "any": true},
		Conjunctions: map[string]bool{"and": true, "then": true, "or": true, "after": true, "before": true, "while": true, "also": true},
	}
}

// NewVocabulary returns BaseVocabulary with the objects' colours and
// categories added (each category also under its plural), or an error
// naming an object without a category.
func NewVocabulary(objects []Object) (Vocabulary, error) {
	v := BaseVocabulary()
	for _, o := range objects {
		cat := strings.ToLower(strings.TrimSpace(o.Category))
		if cat == "" {
			return Vocabulary{}, fmt.Errorf("premise: object %q has no category", o.Name)
		}
		v.Categories[cat] = cat
		v.Categories[plural(cat)] = cat
		if c := strings.ToLower(strings.TrimSpace(o.Color)); c != "" {
			v.Colors[c] = c
		}
		v.Objects = append(v.Objects, Object{Name: strings.ToLower(o.Name), Color: strings.ToLower(o.Color), Category: cat})
	}
	return v, nil
}

func plural(w string) string {
	switch {
	case strings.HasSuffix(w, "s"), strings.HasSuffix(w, "x"), strings.HasSuffix(w, "ch"), strings.HasSuffix(w, "sh"):
		return w + "es"
	case strings.HasSuffix(w, "y") && len(w) > 1 && !strings.ContainsRune("aeiou", rune(w[len(w)-2])):
		return w[:len(w)-1] + "ies"
	}
	return w + "s"
}

// maxSpan is the longest word sequence any vocabulary map is searched for.
const maxSpan = 4

// match returns the canonical form of the longest entry of m that starts at
// words[i], and how many words it spans (0 when none matches).
func match(m map[string]string, words []string, i int) (string, int) {
	for n := min(maxSpan, len(words)-i); n >= 1; n-- {
		if v, ok := m[strings.Join(words[i:i+n], " ")]; ok {
			return v, n
		}
	}
	return "", 0
}
