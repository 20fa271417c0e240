package remote

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// handshakeReason is what a server said when it refused the websocket
// handshake, for the dial error: an efferent server's JSON {"error": …}
// (e.g. "unauthorized: wrong token"), else the first line of its body;
// "" when it said nothing.
func handshakeReason(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	var e struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	} else {
		msg, _, _ = strings.Cut(string(body), "\n")
	}
	msg = strings.TrimSpace(msg)
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}
