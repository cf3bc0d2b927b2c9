package connectors

import (
	"time"

	"github.com/sluicehq/sluice/internal/ratelog"
)

// Limiter writes warnings at most once per interval; those in between are
// counted and the count is told with the next one written (or by
// WarnFlush). A source or sink keeps one per table, shared by its subtasks,
// and each warning goes through the logger of the subtask that has it
// (runtime.Context.Logger): l.Warn(ctx.Logger(), "…", …).
type Limiter = ratelog.Limiter

// NewLimiter returns a Limiter that lets one warning through per every.
func NewLimiter(every time.Duration) *Limiter {
	return ratelog.New(nil, every)
}
