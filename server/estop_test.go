package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/efferent/efferent/safety"
)

// TestEStopEndpoints: anyone who reaches the server can engage the e-stop;
// releasing it (and reading it) needs the token.
func TestEStopEndpoints(t *testing.T) {
	const tok = "0123456789abcdef0123"
	e := safety.NewEStop(nil)
	s := start(t, Conf{SkipWarmup: true, AuthToken: tok, EStop: e}, newGate(fakeMeta()))
	base := "http://" + s.Addr().String()
	post := func(path, bearer string) (int, safety.EStopStatus) {
		code, body := call(t, http.MethodPost, base+path, bearer)
		var st safety.EStopStatus
		_ = json.Unmarshal([]byte(body), &st)
		return code, st
	}
	if code, st := post("/estop", ""); code != 200 || !st.Engaged || !strings.HasPrefix(st.Source, "http ") || !e.Status().Engaged {
		t.Fatalf("POST /estop without a token: %d %+v", code, st)
	}
	if code, _ := post("/estop/reset", ""); code != http.StatusUnauthorized || !e.Status().Engaged {
		t.Fatalf("reset without the token: %d, engaged %v", code, e.Status().Engaged)
	}
	if code, st := post("/estop/reset", tok); code != 200 || st.Engaged || e.Status().Engaged {
		t.Fatalf("reset with the token: %d %+v", code, st)
	}
	if code, _ := get(t, base+"/estop", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /estop without the token: %d", code)
	}
	if code, body := get(t, base+"/estop", tok); code != 200 || !strings.Contains(body, `"engaged":false`) {
		t.Fatalf("GET /estop: %d %s", code, body)
	}
}
