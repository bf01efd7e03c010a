//go:build race

package event

// raceEnabled: the race detector slows the oracle down tenfold, and the
// differential tests, which run on one goroutine, check a sample.
const raceEnabled = true
