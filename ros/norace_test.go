//go:build !race

package ros

const raceDetector = false
