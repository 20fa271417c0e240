package api

import (
	"fmt"
)

// Response is one reply: an action chunk and openpi's timing fields.
type Response struct {
	// Actions holds H×D values, row-major.
	Actions []float64
	H, D    int
	// PolicyInferMS is policy_timing.infer_ms: the model's own time (of
	// the whole batch the request ran in).
	PolicyInferMS float64
	// BatchSize is policy_timing.batch_size: how many requests ran in that
	// model run. Sent when positive.
	BatchSize int
	// ServerInferMS is server_timing.infer_ms: the whole request's time.
	ServerInferMS float64
	// PrevTotalMS is server_timing.prev_total_ms, sent only when
	// HavePrevTotal (openpi omits it in a connection's first reply).
	PrevTotalMS   float64
	HavePrevTotal bool
	// Session identifies the connection the reply is sent on, and Seq the
	// request it answers (the client's seq, or the request's 1-based number
	// on its connection when the client sent none). Sent when HaveSeq.
	Session, Seq int64
	HaveSeq      bool
	// Premise, when set, is the false-premise checker's verdict on the
	// instruction, sent as the extra key "premise" (openpi clients ignore
	// keys they do not know).
	Premise *Premise
	// Error, when set, replaces "actions": the request was answered
	// without running the policy (a refused instruction), so there is
	// nothing to execute. The connection stays open.
	Error string
}

// Premise is the false-premise verdict as sent to clients.
type Premise struct {
	// Decision: "ok", "refuse" or "clarify".
	Decision string `json:"decision"`
	// Missing names the objects not found (refuse).
	Missing []string `json:"missing,omitempty"`
	// Question asks the user (clarify).
	Question string `json:"question,omitempty"`
	// Frames is how many frames the decision rests on.
	Frames int `json:"frames"`
}

// AppendResponse appends the reply map. With a reused b of sufficient
// capacity it does not allocate.
func AppendResponse(b []byte, r *Response) []byte {
	n := 3
	if r.HaveSeq {
		n += 2
	}
	if r.Premise != nil {
		n++
	}
	b = appendMapLen(b, n)
	if r.HaveSeq {
		b = appendInt(appendStr(b, "session"), r.Session)
		b = appendInt(appendStr(b, "seq"), r.Seq)
	}
	if r.Premise != nil {
		b = appendPremise(appendStr(b, "premise"), r.Premise)
	}
	if r.Error != "" {
		b = appendStr(appendStr(b, "error"), r.Error)
	} else {
		var shape [2]int
		shape[0], shape[1] = r.H, r.D
		b = AppendFloat64Array(appendStr(b, "actions"), shape[:], r.Actions)
	}
	if r.BatchSize > 0 {
		b = appendMapLen(appendStr(b, "policy_timing"), 2)
		b = appendFloat64(appendStr(b, "infer_ms"), r.PolicyInferMS)
		b = appendFloat64(appendStr(b, "batch_size"), float64(r.BatchSize))
	} else {
		b = appendMapLen(appendStr(b, "policy_timing"), 1)
		b = appendFloat64(appendStr(b, "infer_ms"), r.PolicyInferMS)
	}
	st := 1
	if r.HavePrevTotal {
		st = 2
	}
	b = appendMapLen(appendStr(b, "server_timing"), st)
	b = appendFloat64(appendStr(b, "infer_ms"), r.ServerInferMS)
	if r.HavePrevTotal {
		b = appendFloat64(appendStr(b, "prev_total_ms"), r.PrevTotalMS)
	}
	return b
}

func appendPremise(b []byte, p *Premise) []byte {
	n := 2
	if len(p.Missing) > 0 {
		n++
	}
	if p.Question != "" {
		n++
	}
	b = appendMapLen(b, n)
	b = appendStr(appendStr(b, "decision"), p.Decision)
	b = appendInt(appendStr(b, "frames"), int64(p.Frames))
	if len(p.Missing) > 0 {
		b = appendArrayLen(appendStr(b, "missing"), len(p.Missing))
		for _, m := range p.Missing {
			b = appendStr(b, m)
		}
	}
	if p.Question != "" {
		b = appendStr(appendStr(b, "question"), p.Question)
	}
	return b
}

// Reply is a decoded reply, as a client sees it.
type Reply struct {
	Actions      []float64
	H, D         int
	PolicyTiming map[string]float64
	ServerTiming map[string]float64
	// Session and Seq, when the server sent them (HaveSeq): see Response.
	Session, Seq int64
	HaveSeq      bool
	// Premise is the false-premise verdict, when the server checks
	// instructions; Error is set (and Actions empty) when the request was
	// refused.
	Premise *Premise
	Error   string
}

// DecodeResponse parses a reply frame; actions may be any float or int
// dtype with shape (H, D).
func DecodeResponse(frame []byte, lim Limits) (Reply, error) {
	var r Reply
	v, err := Decode(frame, lim)
	if err != nil {
		return r, err
	}
	if v.Kind != Map {
		return r, fmt.Errorf("%w: reply is %v, want a map", ErrMalformed, v.Kind)
	}
	if p, ok := v.Get("premise"); ok && p.Kind == Map {
		r.Premise = &Premise{}
		if d, ok := p.Get("decision"); ok && d.Kind == Str {
			r.Premise.Decision = d.Str
		}
		if q, ok := p.Get("question"); ok && q.Kind == Str {
			r.Premise.Question = q.Str
		}
		if f, ok := p.Get("frames"); ok && f.Kind == Int {
			r.Premise.Frames = int(f.Int)
		}
		if m, ok := p.Get("missing"); ok && m.Kind == List {
			for _, e := range m.List {
				if e.Kind == Str {
					r.Premise.Missing = append(r.Premise.Missing, e.Str)
				}
			}
		}
	}
	sess, ok1 := v.Get("session")
	seq, ok2 := v.Get("seq")
	if ok1 && ok2 && sess.Kind == Int && seq.Kind == Int {
		r.Session, r.Seq, r.HaveSeq = sess.Int, seq.Int, true
	}
	if e, ok := v.Get("error"); ok && e.Kind == Str {
		r.Error = e.Str
		return r, nil
	}
	a, ok := v.Get("actions")
	if !ok {
		return r, fmt.Errorf("%w: actions", ErrMissingKey)
	}
	if a.Kind != Array || len(a.Array.Shape) != 2 || a.Array.DType.Kind == 'b' {
		return r, fmt.Errorf("%w: actions must be a numeric (H, D) ndarray", ErrBadShape)
	}
	r.H, r.D = a.Array.Shape[0], a.Array.Shape[1]
	r.Actions = make([]float64, a.Array.Len())
	for i := range r.Actions {
		r.Actions[i] = a.Array.Float64(i)
	}
	timing := func(key string) map[string]float64 {
		m := map[string]float64{}
		if t, ok := v.Get(key); ok && t.Kind == Map {
			for _, e := range t.Map {
				if f, ok := e.Val.Number(); ok {
					m[e.Key] = f
				}
			}
		}
		return m
	}
	r.PolicyTiming, r.ServerTiming = timing("policy_timing"), timing("server_timing")
	return r, nil
}
