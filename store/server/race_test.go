//go:build race

package server

// raceEnabled: the race detector keeps shadow memory for the heap, which it
// does not return, so resident-memory measurements mean nothing under it.
const raceEnabled = true
