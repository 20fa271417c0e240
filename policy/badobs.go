package policy

import "errors"

// ErrBadObservation is wrapped when a policy refuses an observation for
// what it contains (a missing camera, an image it cannot bring to the
// model's size, a state of the wrong length or out of range, a prompt too
// long): the client's error, not the model's. A server answers it as a
// bad request (websocket close 1008, HTTP 400), never "inference failed".
var ErrBadObservation = errors.New("observation does not fit the model")

// MaxStateMagnitude bounds every state value a policy accepts: a robot
// state in SI units (metres, radians, their rates, newtons) never comes
// near it, while a model's float32 arithmetic overflows on values far
// beyond it (a state of 1e30 makes the bundled models' logits NaN).
const MaxStateMagnitude = 1e6
