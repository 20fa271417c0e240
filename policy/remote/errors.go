package remote

import "errors"

// ErrClosed: the connection is gone (closed by Close, by the server, or
// after a call was abandoned); Dial again.
var ErrClosed = errors.New("remote: connection closed")

// ServerError is an error the server reported in a text frame (openpi sends
// the Python traceback; efferent's server a one-line reason). The server
// closes the connection after it.
type ServerError struct {
	URL     string
	Message string
}

func (e *ServerError) Error() string {
	return "remote " + e.URL + ": server error: " + e.Message
}

// ErrStale: a reply names a request other than the one in flight (an
// efferent server echoes each request's seq). The connection is closed,
// since replies and requests no longer pair up; the chunk is not used.
var ErrStale = errors.New("remote: reply answers another request")

// ErrRefused: the server answered without actions because it refused the
// request (an efferent server with --premise: the instruction names an
// object that is not in view, or needs clarifying). The connection stays
// usable; the robot holds.
var ErrRefused = errors.New("remote: request refused")

// ErrReconnecting: Client's connection is down and the next attempt to
// dial is not due yet; the robot holds meanwhile.
var ErrReconnecting = errors.New("remote: disconnected, reconnecting")
