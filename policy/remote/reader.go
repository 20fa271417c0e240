package remote

import "bytes"

// readLoop owns every read of the connection, so the library's ping handler
// answers the server's keepalive pings even while no call is in progress.
// Each message goes to Infer on p.frames; its buffer is reused only after
// Infer's ack, which keeps a steady-state call free of large allocations.
func (p *Policy) readLoop() {
	defer close(p.readDone)
	var buf bytes.Buffer
	for {
		typ, r, err := p.conn.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			p.readErr = err
			return
		}
		select {
		case p.frames <- frame{typ: typ, data: buf.Bytes()}:
		case <-p.stopping:
			return
		}
		select {
		case <-p.ack:
		case <-p.stopping:
			return
		}
	}
}
