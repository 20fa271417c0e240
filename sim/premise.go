package sim

import (
	"strings"

	"github.com/efferent/efferent/safety/premise"
)

// PremiseObject is a catalogued simulator object as the premise checker
// sees it: its words (colour, category) and the colour it is drawn in.
type PremiseObject struct {
	premise.Object
	RGB [3]uint8
}

// PremiseObjects returns the simulator's catalogue as premise objects:
// "red block" has colour "red" and category "block"; "plate" has no
// colour word.
func PremiseObjects() []PremiseObject {
	var out []PremiseObject
	for _, o := range Catalog() {
		color := ""
		if w := strings.Fields(o.Name); len(w) == 2 {
			color = w[0]
		}
		out = append(out, PremiseObject{Object: premise.Object{Name: o.Name, Color: color, Category: o.Kind.String()}, RGB: o.Color})
	}
	return out
}

// PremiseVocabulary is the vocabulary of the simulator's task set.
func PremiseVocabulary() (premise.Vocabulary, error) { return VocabularyOf(PremiseObjects()) }

// VocabularyOf is the premise vocabulary of objs' words (either
// simulator's objects).
func VocabularyOf(objs []PremiseObject) (premise.Vocabulary, error) {
	words := make([]premise.Object, len(objs))
	for i, o := range objs {
		words[i] = o.Object
	}
	return premise.NewVocabulary(words)
}
