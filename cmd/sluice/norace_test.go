//go:build !race

package main

// raceEnabled: the tests run under the race detector, which makes jobs
// some 10 times slower.
const raceEnabled = false
