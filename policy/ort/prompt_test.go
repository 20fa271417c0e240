package ort

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// libero17 is a real LIBERO instruction of 17 words, one more than
// efferent-tiny's 16 tokens: openpi's LIBERO client sends it as it is.
const libero17 = "pick up the black bowl between the plate and the ramekin and place it on the plate"

// TestPromptTruncation: a prompt longer than the model takes is cut as
// text.truncation says (right by default: the same answer as its first 16
// words; left: as its last 16) and every answer from it is counted; with
// refuse it is a bad request, counted nowhere.
func TestPromptTruncation(t *testing.T) {
	for _, name := range []string{"efferent-tiny", "efferent-flow"} {
		t.Run(name, func(t *testing.T) {
			m, g := embedded(t, name)
			words := strings.Fields(libero17)
			if len(words) != 17 || m.Text.MaxTokens != 16 {
				t.Fatalf("%d words, max_tokens %d", len(words), m.Text.MaxTokens)
			}
			obs := goldenObservation(t, m, g.Cases[0])
			for _, tc := range []struct{ truncation, same string }{
				{"", strings.Join(words[:16], " ")},
				{"left", strings.Join(words[1:], " ")},
			} {
				mm := *m
				mm.Text.Truncation = tc.truncation
				p, err := OpenPolicy(&mm, testConf())
				if err != nil {
					t.Fatal(err)
				}
				infer := func(prompt string) efferent.Chunk {
					o := *obs
					o.Prompt = prompt
					var ch efferent.Chunk
					if err := p.Infer(context.Background(), &o, &ch); err != nil {
						t.Fatalf("truncation %q, %q: %v", tc.truncation, prompt, err)
					}
					return ch
				}
				long, same := infer(libero17), infer(tc.same)
				infer(libero17)
				if !slices.Equal(long.Actions, same.Actions) || !slices.Equal(long.Tokens, same.Tokens) {
					t.Errorf("truncation %q: the 17-word prompt answers %v, its 16 words %q %v", tc.truncation, long.Actions[:7], tc.same, same.Actions[:7])
				}
				if n := p.(policy.PromptTruncator).PromptsTruncated(); n != 2 {
					t.Errorf("truncation %q: %d answers counted as truncated, want 2", tc.truncation, n)
				}
				p.Close()
			}
			mm := *m
			mm.Text.Truncation = policy.TruncateRefuse
			p, err := OpenPolicy(&mm, testConf())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			o := *obs
			o.Prompt = libero17
			var ch efferent.Chunk
			err = p.Infer(context.Background(), &o, &ch)
			if !errors.Is(err, policy.ErrBadObservation) || !strings.Contains(err.Error(), "prompt is 17 tokens, model accepts at most 16 (text.truncation: refuse)") {
				t.Fatalf("refuse: err = %v", err)
			}
			if n := p.(policy.PromptTruncator).PromptsTruncated(); n != 0 {
				t.Fatalf("refuse: %d counted", n)
			}
			// A refused prompt is tokenized again next time, not served cut.
			if err := p.Infer(context.Background(), &o, &ch); err == nil {
				t.Fatal("refused prompt answered the second time")
			}
		})
	}
}
