//go:build long

package main

import "testing"

// TestCheckpointedJobSurvivesKill9Long is the long version: twenty kills
// into a job with ten times the rows, so that every kill lands mid-work
// (go test -tags long -run Kill9Long ./cmd/sluice).
func TestCheckpointedJobSurvivesKill9Long(t *testing.T) {
	killRounds(t, 20, 10*jobRows)
}
