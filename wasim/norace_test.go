//go:build !race

package wasim

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
