//go:build long

package main

import "testing"

// TestCheckpointedJobSurvivesKill9Long is the long version: twenty kills
// (go test -tags long -run Kill9Long ./cmd/sluice).
func TestCheckpointedJobSurvivesKill9Long(t *testing.T) {
	killRounds(t, 20)
}
