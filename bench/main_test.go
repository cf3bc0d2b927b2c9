package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine they started (a
// job's, a server's, a status line's) outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
