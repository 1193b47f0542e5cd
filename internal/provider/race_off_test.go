//go:build !race

package provider

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
