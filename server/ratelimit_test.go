package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The bucket refills at rate per second up to burst, per client IP, on the
// clock it is given (no sleeping).
func TestLimiter(t *testing.T) {
	l := newLimiter(2, 3)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if !l.allow("a", t0) {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if l.allow("a", t0) {
		t.Fatal("fourth request at once allowed past a burst of 3")
	}
	if !l.allow("b", t0) {
		t.Fatal("another client shares a's bucket")
	}
	if !l.allow("a", t0.Add(500*time.Millisecond)) || l.allow("a", t0.Add(500*time.Millisecond)) {
		t.Fatal("after 0.5 s at 2/s exactly one more request should pass")
	}
	if got := clientKey("10.0.0.7:5555"); got != "10.0.0.7" {
		t.Fatalf("clientKey = %q", got)
	}
	var off *limiter
	if !off.allow("x", t0) || newLimiter(0, 0) != nil {
		t.Fatal("a zero rate must disable the limiter")
	}
}

// Over the rate, a websocket client gets "rate limited" and close 1013; a
// REST client 429 with Retry-After.
func TestRateLimited(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true, RateLimit: 0.001, RateBurst: 1}, &echo{meta: fakeMeta()})
	c, _ := dial(t, s)
	send(t, c, libero(tinyObs(5), []string{"observation/image"}))
	if r := readReply(t, c); r.actions[0] != 5 {
		t.Fatalf("first request: %v", r.actions)
	}
	send(t, c, libero(tinyObs(6), []string{"observation/image"}))
	expectError(t, c, websocket.CloseTryAgainLater, "rate limited")
	code, _, _, msg := postAct(t, s, map[string]any{}, nil)
	if code != http.StatusTooManyRequests || !strings.Contains(msg, "rate limited") {
		t.Fatalf("REST over the limit: %d %q, want 429", code, msg)
	}
}
