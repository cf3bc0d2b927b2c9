package connectors

import (
	"fmt"
	"io"
	"time"

	"github.com/sluicehq/sluice/internal/ratelog"
)

// Limiter writes warnings at most once per interval; those in between are
// counted and the count is told with the next one written (or by Flush).
type Limiter = ratelog.Limiter

// NewLimiter returns a Limiter writing "sluice: "-prefixed lines to w at
// most once per every.
func NewLimiter(w io.Writer, every time.Duration) *Limiter {
	return ratelog.New(func(msg string) { fmt.Fprintf(w, "sluice: %s\n", msg) }, every)
}
