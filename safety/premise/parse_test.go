package premise

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// tabletop is a small task-set vocabulary, as the simulator's catalogue
// gives one.
func tabletop(t testing.TB) Vocabulary {
	v, err := NewVocabulary([]Object{
		{"red block", "red", "block"}, {"green block", "green", "block"}, {"blue block", "blue", "block"},
		{"red cylinder", "red", "cylinder"}, {"blue ball", "blue", "ball"}, {"blue bowl", "blue", "bowl"},
		{"white bowl", "white", "bowl"}, {"plate", "", "plate"}, {"basket", "", "basket"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type ph struct{ text, color, cat, rel string }

func phrases(in Instruction) []ph {
	var out []ph
	for _, p := range in.Phrases {
		c := p.Category
		if p.Unknown {
			c = "?" + p.Head
		}
		out = append(out, ph{p.Text, p.Color, c, p.Relation})
	}
	return out
}

func TestParse(t *testing.T) {
	v := tabletop(t)
	cases := []struct {
		in      string
		actions []string
		want    []ph
		dirs    []string
	}{
		{"put the red block in the blue bowl", []string{"place"},
			[]ph{{"red block", "red", "block", ""}, {"blue bowl", "blue", "bowl", "in"}}, nil},
		{"pick up the red cylinder and place it in the basket", []string{"pick", "place"},
			[]ph{{"red cylinder", "red", "cylinder", ""}, {"basket", "", "basket", "in"}}, nil},
		{"put the red block in the blue bowl and the green block on the plate", []string{"place"},
			[]ph{{"red block", "red", "block", ""}, {"blue bowl", "blue", "bowl", "in"}, {"green block", "green", "block", ""}, {"plate", "", "plate", "on"}}, nil},
		{"push the plate to the left and put the green block on it", []string{"push", "place"},
			[]ph{{"plate", "", "plate", ""}, {"green block", "green", "block", ""}}, []string{"left"}},
		{"stack the green block on top of the blue block", []string{"stack"},
			[]ph{{"green block", "green", "block", ""}, {"blue block", "blue", "block", "on"}}, nil},
		{"Put both the RED  block and the blue block into the basket!", []string{"place"},
			[]ph{{"red block", "red", "block", ""}, {"blue block", "blue", "block", ""}, {"basket", "", "basket", "in"}}, nil},
		// Synonyms and plurals map to categories.
		{"put the red cube next to the plates", []string{"place"},
			[]ph{{"red cube", "red", "block", ""}, {"plates", "", "plate", "next_to"}}, nil},
		{"move the block left of the white bowl", []string{"place"},
			[]ph{{"block", "", "block", ""}, {"white bowl", "white", "bowl", "left_of"}}, nil},
		// Unknown heads are kept, as unknown, with their modifiers.
		{"pick up the red mug", []string{"pick"}, []ph{{"red mug", "red", "?mug", ""}}, nil},
		{"put the coffee mug on the plate", []string{"place"},
			[]ph{{"coffee mug", "", "?mug", ""}, {"plate", "", "plate", "on"}}, nil},
		{"grab mug", []string{"pick"}, []ph{{"mug", "", "?mug", ""}}, nil},
		// Known modifiers and words outside phrases do not matter; the
		// table and the gripper are never objects to find.
		{"please carefully put the small red block on the table with the gripper", []string{"place"},
			[]ph{{"small red block", "red", "block", ""}}, nil},
		// A colour alone, or with a generic noun, is a colour-only phrase.
		{"pick up the red one", []string{"pick"}, []ph{{"red one", "red", "", ""}}, nil},
		{"pick up something", []string{"pick"}, nil, nil},
		{"wave", nil, nil, nil},
	}
	for _, c := range cases {
		in, err := v.Parse(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := phrases(in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: phrases\n got %v\nwant %v", c.in, got, c.want)
		}
		if !reflect.DeepEqual(in.Actions, c.actions) {
			t.Errorf("%q: actions %v, want %v", c.in, in.Actions, c.actions)
		}
		if !reflect.DeepEqual(in.Directions, c.dirs) {
			t.Errorf("%q: directions %v, want %v", c.in, in.Directions, c.dirs)
		}
	}
}

func TestParseErrors(t *testing.T) {
	v := tabletop(t)
	for _, s := range []string{"", "   ", "!?,."} {
		if _, err := v.Parse(s); !errors.Is(err, ErrEmptyInstruction) {
			t.Errorf("%q: %v, want ErrEmptyInstruction", s, err)
		}
	}
	if _, err := v.Parse(strings.Repeat("a ", MaxInstructionBytes)); !errors.Is(err, ErrInstructionTooLong) {
		t.Errorf("long instruction: %v", err)
	}
	if _, err := NewVocabulary([]Object{{Name: "thing"}}); err == nil || !strings.Contains(err.Error(), `"thing"`) {
		t.Errorf("object without category: %v", err)
	}
}

func TestPlural(t *testing.T) {
	for in, want := range map[string]string{"block": "blocks", "box": "boxes", "glass": "glasses", "cherry": "cherries", "tray": "trays", "dish": "dishes"} {
		if got := plural(in); got != want {
			t.Errorf("plural(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: any input parses without panicking, and what comes out is
// consistent: phrases have words from the input, unknown phrases have a
// head and no category, known ones a category or a colour.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"put the red block in the blue bowl", "pick up the red mug", "the the the", "and and it",
		"push the plate to the left of", "on top of", "Ünïcödé blöck", "red", "put ' 's the '' block's",
		"put both the purple block and the green ball in the basket",
	} {
		f.Add(s)
	}
	v := tabletop(f)
	f.Fuzz(func(t *testing.T, s string) {
		in, err := v.Parse(s)
		if err != nil {
			if !errors.Is(err, ErrEmptyInstruction) && !errors.Is(err, ErrInstructionTooLong) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if in.Text == "" || (utf8.ValidString(s) && !utf8.ValidString(in.Text)) {
			t.Fatalf("normalised text %q", in.Text)
		}
		for _, p := range in.Phrases {
			if p.Text == "" || !strings.Contains(" "+in.Text+" ", " "+strings.Fields(p.Text)[0]) {
				t.Fatalf("phrase %+v not from %q", p, in.Text)
			}
			if p.Unknown && (p.Head == "" || p.Category != "") {
				t.Fatalf("unknown phrase %+v", p)
			}
			if !p.Unknown && p.Category == "" && p.Color == "" {
				t.Fatalf("known phrase with neither category nor colour: %+v", p)
			}
		}
	})
}
