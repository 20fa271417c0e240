package server

import (
	"encoding/json"
	"net/http"
)

// serveEStop engages the e-stop. Anyone who can reach the server may stop
// the robot; only an authenticated operator may release it.
func (s *Server) serveEStop(w http.ResponseWriter, r *http.Request) {
	s.conf.EStop.Trigger("http " + r.RemoteAddr)
	s.log.Warn("e-stop engaged over HTTP", "remote", r.RemoteAddr)
	s.writeEStop(w)
}

func (s *Server) serveEStopReset(w http.ResponseWriter, r *http.Request) {
	s.conf.EStop.Reset()
	s.log.Warn("e-stop released over HTTP", "remote", r.RemoteAddr)
	s.writeEStop(w)
}

func (s *Server) serveEStopStatus(w http.ResponseWriter, _ *http.Request) { s.writeEStop(w) }

func (s *Server) writeEStop(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.conf.EStop.Status())
}
