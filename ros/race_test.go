//go:build race

package ros

// raceDetector: under -race the 1 kHz stream still has to flow, but the
// detector's overhead on a 2-core machine may cost a few percent of rate,
// so the rate tests widen their tolerance (the plain run holds them to 2 %).
const raceDetector = true
