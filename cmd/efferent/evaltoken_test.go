package main

import (
	"context"
	"strings"
	"testing"
)

// TestEvalServerToken: eval against a real `efferent serve` started with
// a token fails without the token — an error (exit status 1) naming the
// 401 and the token, instead of a report of errored episodes that exits 0
// — and with --token evaluates every episode.
func TestEvalServerToken(t *testing.T) {
	cfg := bundledConfig(t)
	const tok = "eval-token-0123456789abcdef"
	cfg.Server.AuthToken = tok
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, cfg)
	t.Setenv("EFFERENT_TOKEN", "")
	evalArgs := func(out string, extra ...string) []string {
		return append([]string{"--suite", "goal", "--episodes", "1", "--workers", "2", "--policy", "ws://" + addr,
			"--out", out, "--log-level", "error"}, extra...)
	}

	cmd := evalCmd()
	cmd.Flags().String("config", "", "")
	cmd.SetArgs(evalArgs(t.TempDir()))
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		t.Fatal("eval without the token succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "10 of 10 episodes errored") || !strings.Contains(msg, "401") || !strings.Contains(msg, "needs a token") {
		t.Errorf("eval without the token: %q; want a one-line summary naming the 401 and the token", msg)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("the summary spans lines: %q", msg)
	}
	if code := execute(append([]string{"eval"}, evalArgs(t.TempDir(), "--token", tok+"-wrong")...)); code == 0 {
		t.Error("eval with a wrong token exited 0")
	}

	out := t.TempDir()
	if code := execute(append([]string{"eval"}, evalArgs(out, "--token", tok)...)); code != 0 {
		t.Fatalf("eval with --token exited %d", code)
	}
	if episodes, errs := evalOverall(t, out); episodes != 10 || errs != 0 {
		t.Fatalf("eval with --token: %d episodes, %d errors (want 10 episodes, no errors)", episodes, errs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
