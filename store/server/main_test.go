package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// server, listener, long poll and retention loop a test starts must be
// stopped by the time it ends.
func TestMain(m *testing.M) {
	// Tests written before streams had states run without them; the
	// tests of states (scaling_test.go) set Options.StateDelay.
	unsetStateDelay = -1
	goleak.VerifyTestMain(m)
}
