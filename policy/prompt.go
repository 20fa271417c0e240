package policy

// PromptTruncator is implemented by a Policy that cuts a prompt longer
// than its model takes (the manifest's text.truncation) and counts each
// answer given from a cut prompt. Safe from any goroutine.
type PromptTruncator interface {
	PromptsTruncated() uint64
}

// Find returns the first policy of type T in p or in what p wraps
// (through an Unwrap() Policy method, as Resizing has): how a server
// finds a wrapped policy's counters.
func Find[T any](p Policy) (T, bool) {
	for p != nil {
		if t, ok := p.(T); ok {
			return t, true
		}
		u, ok := p.(interface{ Unwrap() Policy })
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	var zero T
	return zero, false
}
