package server

import (
	"strings"
	"testing"
)

// CheckPremise without a checker is refused by New, naming the key, rather
// than served unchecked; Validate accepts it, since the checker is built
// after the configuration is read.
func TestCheckPremiseNeedsAChecker(t *testing.T) {
	conf := Conf{Addr: "127.0.0.1:0", CheckPremise: true}
	if err := conf.WithDefaults().Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	s, err := New(conf, newGate(fakeMeta()), quietLog())
	if err == nil {
		s.Close()
		t.Fatal("New accepted premise: true without a checker")
	}
	if !strings.HasPrefix(err.Error(), "server.premise: ") || !strings.Contains(err.Error(), "Conf.Premise is nil") {
		t.Fatalf("err = %v, want one naming server.premise", err)
	}
	conf.CheckPremise, conf.SkipWarmup = false, true
	start(t, conf, newGate(fakeMeta())) // no checker asked for, none needed
}
