package server

import (
	"encoding/json"
	"net/http"

	"github.com/efferent/efferent/api"
)

// HostGuard refuses, as the server and the viewer do, a request whose
// Host is not this machine's when conf has no token (api.HostPolicy): for
// listeners beside the server that serve something of their own (a ROS
// run's /metrics). With a token, the token is the boundary and h is
// returned as it is; h must check it.
func HostGuard(conf Conf, h http.Handler) http.Handler {
	hosts := api.HostPolicy{Token: conf.AuthToken != "", Exposed: !IsLoopback(conf.Addr), AllowedHosts: conf.AllowedHosts}
	if hosts.Token {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := hosts.Check(r); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(api.GuardStatus(err))
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		h.ServeHTTP(w, r)
	})
}
