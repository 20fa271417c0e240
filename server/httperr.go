package server

import (
	"encoding/json"
	"net/http"
)

// writeJSONError answers an HTTP request with code and {"error": msg}.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // the body is JSON, never HTML: keep <token> readable
	_ = enc.Encode(map[string]string{"error": msg})
}
