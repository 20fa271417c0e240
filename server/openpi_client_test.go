package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/efferent/efferent"
)

// This file is a minimal openpi client written from the protocol
// description (shared/reference/openpi-protocol.md §4–5), independent of
// package api: it uses vmihailenco/msgpack's low-level API to produce the
// exact structures Python's msgpack_numpy emits (ndarray maps with *bin*
// keys), and to read replies. That way a bug shared by our encoder and
// decoder cannot hide behind a round trip.

// ndarray writes a numpy array as msgpack_numpy.pack_array does.
func ndarray(enc *msgpack.Encoder, dtype string, shape []int, data []byte) error {
	if err := enc.EncodeMapLen(4); err != nil {
		return err
	}
	for _, kv := range []struct {
		k string
		v func() error
	}{
		{"__ndarray__", func() error { return enc.EncodeBool(true) }},
		{"data", func() error { return enc.EncodeBytes(data) }},
		{"dtype", func() error { return enc.EncodeString(dtype) }},
		{"shape", func() error {
			if err := enc.EncodeArrayLen(len(shape)); err != nil {
				return err
			}
			for _, s := range shape {
				if err := enc.EncodeInt(int64(s)); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		if err := enc.EncodeBytes([]byte(kv.k)); err != nil { // bin key, like Python bytes
			return err
		}
		if err := kv.v(); err != nil {
			return err
		}
	}
	return nil
}

// libero encodes an observation the way openpi's LIBERO client sends it:
// uint8 HWC images, float64 state, str prompt; then extra key, value pairs
// (such as "seq", 7).
func libero(obs efferent.Observation, imageKeys []string, extra ...any) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	n := len(imageKeys) + 1 + len(extra)/2
	if obs.Prompt != "" {
		n++
	}
	must(enc.EncodeMapLen(n))
	for i := 0; i+1 < len(extra); i += 2 {
		must(enc.Encode(extra[i]))
		must(enc.Encode(extra[i+1]))
	}
	for _, k := range imageKeys {
		im := obs.Images[k]
		must(enc.EncodeString(k))
		must(ndarray(enc, "|u1", []int{im.H, im.W, im.C}, im.Pix))
	}
	must(enc.EncodeString("observation/state"))
	st := make([]byte, 8*len(obs.State))
	for i, v := range obs.State {
		binary.LittleEndian.PutUint64(st[8*i:], math.Float64bits(v))
	}
	must(ndarray(enc, "<f8", []int{len(obs.State)}, st))
	if obs.Prompt != "" {
		must(enc.EncodeString("prompt"))
		must(enc.EncodeString(obs.Prompt))
	}
	return buf.Bytes()
}

// binKey marks a map key that arrived as msgpack bin.
type binKey string

// decodeAny reads any msgpack value; map keys become string or binKey.
func decodeAny(dec *msgpack.Decoder) (any, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		m := make(map[any]any, n)
		for i := 0; i < n; i++ {
			kc, err := dec.PeekCode()
			if err != nil {
				return nil, err
			}
			var key any
			if kc == msgpcode.Bin8 || kc == msgpcode.Bin16 || kc == msgpcode.Bin32 {
				b, err := dec.DecodeBytes()
				if err != nil {
					return nil, err
				}
				key = binKey(b)
			} else {
				s, err := dec.DecodeString()
				if err != nil {
					return nil, err
				}
				key = s
			}
			if m[key], err = decodeAny(dec); err != nil {
				return nil, err
			}
		}
		return m, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = decodeAny(dec); err != nil {
				return nil, err
			}
		}
		return a, nil
	case c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		return dec.DecodeBytes() // DecodeInterfaceLoose would make a string
	default:
		return dec.DecodeInterfaceLoose()
	}
}

// reply is a decoded openpi response.
type reply struct {
	actions      []float64
	shape        []int
	dtype        string
	policyTiming map[any]any
	serverTiming map[any]any
	// session and seq, when the server sent them (hasSeq).
	session, seq int64
	hasSeq       bool
}

// asInt64 reads a msgpack integer decoded loosely (int64 or uint64).
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true
	}
	return 0, false
}

func parseReply(data []byte) (reply, error) {
	var r reply
	v, err := decodeAny(msgpack.NewDecoder(bytes.NewReader(data)))
	if err != nil {
		return r, err
	}
	m, ok := v.(map[any]any)
	if !ok {
		return r, fmt.Errorf("reply is %T, want a map", v)
	}
	arr, ok := m["actions"].(map[any]any)
	if !ok {
		return r, fmt.Errorf("actions is %T, want an ndarray map", m["actions"])
	}
	if arr[binKey("__ndarray__")] != true {
		return r, fmt.Errorf("actions lacks the bin key __ndarray__: %v", arr)
	}
	r.dtype, _ = arr[binKey("dtype")].(string)
	raw, ok := arr[binKey("data")].([]byte)
	if !ok {
		return r, fmt.Errorf("actions data is %T, want msgpack bin", arr[binKey("data")])
	}
	for _, s := range arr[binKey("shape")].([]any) {
		r.shape = append(r.shape, int(s.(int64)))
	}
	if r.dtype != "<f8" {
		return r, fmt.Errorf("actions dtype %q, want <f8", r.dtype)
	}
	for i := 0; i+8 <= len(raw); i += 8 {
		r.actions = append(r.actions, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
	}
	r.policyTiming, _ = m["policy_timing"].(map[any]any)
	r.serverTiming, _ = m["server_timing"].(map[any]any)
	sess, ok1 := asInt64(m["session"])
	seq, ok2 := asInt64(m["seq"])
	if ok1 && ok2 {
		r.session, r.seq, r.hasSeq = sess, seq, true
	}
	return r, nil
}
