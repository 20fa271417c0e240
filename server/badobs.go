package server

import (
	"errors"

	"github.com/efferent/efferent/policy"
)

// isBadObservation: the policy refused what the client sent
// (policy.ErrBadObservation: a state out of range, an image it cannot
// resize): a bad request — websocket close 1008, HTTP 400, counted
// bad_request — never "inference failed".
func isBadObservation(err error) bool { return errors.Is(err, policy.ErrBadObservation) }
