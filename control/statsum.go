package control

// Plus is the Stats of two loops run one after the other (a run's
// episodes, each with a loop of its own): the counters summed; the
// maxima the larger; the percentiles, lead, last error and stale input
// those of next (the newer loop) when it has any, else s's.
func (s Stats) Plus(next Stats) Stats {
	out := next
	out.Ticks += s.Ticks
	out.Holds += s.Holds
	out.StartHolds += s.StartHolds
	out.Overruns += s.Overruns
	for i := range out.Verdicts {
		out.Verdicts[i] += s.Verdicts[i]
	}
	out.Inferences += s.Inferences
	out.InferErrors += s.InferErrors
	out.RequestsDropped += s.RequestsDropped
	out.Chunks.Accepted += s.Chunks.Accepted
	out.Chunks.Stale += s.Chunks.Stale
	out.Chunks.Expired += s.Chunks.Expired
	out.Chunks.Invalid += s.Chunks.Invalid
	out.Chunks.SkippedSteps += s.Chunks.SkippedSteps
	out.Chunks.Evicted += s.Chunks.Evicted
	out.Chunks.SlowTicks += s.Chunks.SlowTicks
	if next.Inferences == 0 {
		out.InferP50, out.InferP99 = s.InferP50, s.InferP99
	}
	out.InferMax = max(s.InferMax, next.InferMax)
	if next.Ticks == 0 {
		out.LateP50, out.LateP99 = s.LateP50, s.LateP99
	}
	out.LateMax = max(s.LateMax, next.LateMax)
	if next.LastChunkError == "" {
		out.LastChunkError = s.LastChunkError
	}
	if next.Inferences == 0 && next.Lead == 0 {
		out.Lead = s.Lead
	}
	if next.PlayPeriod == 0 {
		out.PlayPeriod = s.PlayPeriod
	}
	out.Waits += s.Waits
	out.WaitMisses += s.WaitMisses
	out.StaleEvents += s.StaleEvents
	out.StaleHolds += s.StaleHolds
	out.NotReady += s.NotReady
	out.Discarded += s.Discarded
	for i := range NumReasons {
		out.HoldReasons[i] += s.HoldReasons[i]
		out.ClampReasons[i] += s.ClampReasons[i]
		out.RefuseReasons[i] += s.RefuseReasons[i]
	}
	return out
}
