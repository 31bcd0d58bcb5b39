//go:build race

package apiserver

// raceEnabled skips the 100,000-object timing tests: the race detector
// slows them tenfold and their budget means nothing there.
const raceEnabled = true
