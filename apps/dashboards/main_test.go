package dashboards

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine they started (a
// store's, a plan's) outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
