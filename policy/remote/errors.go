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
