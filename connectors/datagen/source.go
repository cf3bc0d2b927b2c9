package datagen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// blockRows is the size of the blocks of rows dealt to subtasks when the
// source runs as fast as it can.
const blockRows = runtime.DefaultBatchRows

// pacedBlockSpan is how much wall-clock time, at most, a block of a
// throttled source takes to emit at rows-per-second: the subtasks take
// turns every block, so with blocks of blockRows at a low rate each would
// wait (p − 1) blocks between its own and hold the watermark back by as
// long (at 10 rows/s and 4 subtasks, 5 minutes), stalling the windows
// downstream.
const pacedBlockSpan = 10 * time.Millisecond

// blockSize returns the rows per block of cfg: blockRows, or for a
// throttled source the rows the whole source emits in pacedBlockSpan (at
// least one).
func blockSize(cfg *config) int64 {
	if cfg.rate <= 0 {
		return blockRows
	}
	return min(max(int64(cfg.rate*pacedBlockSpan.Seconds()), 1), blockRows)
}

// Source is one subtask of a datagen table; the connector's factory makes
// them. Subtask s of p generates the blocks of rows s, s+p, s+2p, … (see
// blockSize) and is partition s for the watermark.
//
// It implements runtime.CheckpointedSource: its position is the index of
// the next row it will emit (next/block is the block),
// with its subtask index and the parallelism. For programs that drive
// subtasks by hand, OnBarrier records the index and Position returns it;
// Restore resumes from it.
type Source struct {
	cfg *config

	subtask, par int64
	block        int64 // rows per block (blockSize)
	total        int64 // rows of the table; math.MaxInt64 when unbounded
	next         int64 // next row: inside one of this subtask's blocks, or ≥ total
	b            *runtime.Batch
	nulls        [][]bool // per column, reused
	strBuf       []byte

	throttle connectors.Throttle // rows per second of this subtask
	polled   bool                // Poll has been called

	atBarrier atomic.Pointer[Position]

	restored  []position // from RestorePositions, applied at Open
	restoring bool
}

// Position is where a datagen subtask stood at a checkpoint barrier.
type Position struct {
	Barrier int64 // the barrier's ID
	Next    int64 // index of the next row the subtask emits
}

var (
	_ runtime.Source               = (*Source)(nil)
	_ runtime.PartitionedSource    = (*Source)(nil)
	_ runtime.SourceBarrierHandler = (*Source)(nil)
)

// Open prepares subtask ctx.Subtask of ctx.Parallelism.
func (s *Source) Open(ctx *runtime.Context) error {
	s.subtask, s.par = int64(ctx.Subtask), int64(max(ctx.Parallelism, 1))
	s.total = s.cfg.rows
	if s.total < 0 {
		s.total = math.MaxInt64
	}
	s.block = blockSize(s.cfg)
	s.next = s.subtask * s.block
	s.b = runtime.NewBatch(s.cfg.schema)
	s.nulls = make([][]bool, len(s.cfg.cols))
	for c, col := range s.cfg.cols {
		if col.nullRate > 0 {
			s.nulls[c] = make([]bool, blockRows)
		}
	}
	if s.restoring {
		if err := s.restore(); err != nil {
			return err
		}
	}
	if s.cfg.rate > 0 {
		// The subtask's share of the rate is its share of the rows, so that
		// the subtasks of a bounded table finish together.
		rate := s.cfg.rate / float64(s.par)
		if s.cfg.rows > 0 {
			rate = s.cfg.rate * float64(s.ownRows()) / float64(s.cfg.rows)
		}
		s.throttle = connectors.NewThrottle(rate, s.block)
	}
	return nil
}

// ownRows returns the number of rows of a bounded table in this subtask's
// blocks.
func (s *Source) ownRows() int64 {
	full, rest := s.total/s.block, s.total%s.block
	own := full / s.par * s.block
	if s.subtask < full%s.par {
		own += s.block
	} else if s.subtask == full%s.par {
		own += rest
	}
	return own
}

// Partitions returns this subtask's one partition, its index.
func (s *Source) Partitions() []int { return []int{int(s.subtask)} }

// Poll returns the next rows of the subtask's current block, at most one
// block; io.EOF once a bounded table is done. The batch is borrowed until
// the next call.
func (s *Source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if s.next >= s.total {
		return nil, 0, io.EOF
	}
	blockEnd := min((s.next/s.block+1)*s.block, s.total)
	n := blockEnd - s.next
	s.polled = true
	if n = s.throttle.Take(ctx, n); n == 0 {
		return nil, 0, nil
	}
	s.fill(s.next, int(n))
	s.next += n
	s.throttle.Sent(n)
	if s.next == blockEnd && s.next < s.total {
		// On to this subtask's next block.
		s.next += (s.par - 1) * s.block
	}
	return s.b, int(s.subtask), nil
}

// fill generates rows first … first+n-1 into s.b, column by column.
func (s *Source) fill(first int64, n int) {
	b := s.b
	for c := range s.cfg.cols {
		col := &s.cfg.cols[c]
		var null []bool
		if col.nullRate > 0 {
			null = s.nulls[c][:n]
			if !col.fillNulls(null, first) {
				null = nil
			}
		}
		col.fill(&b.Cols[c], first, n, null, &s.strBuf)
	}
	b.N, b.Sel = n, nil
}

// OnBarrier records the subtask's position; it implements
// runtime.SourceBarrierHandler.
func (s *Source) OnBarrier(b runtime.Barrier) error {
	s.atBarrier.Store(&Position{Barrier: b.ID, Next: s.next})
	return nil
}

// Position returns the position recorded at the latest barrier, and false
// before the first one. It is safe to call from any goroutine.
func (s *Source) Position() (Position, bool) {
	if p := s.atBarrier.Load(); p != nil {
		return *p, true
	}
	return Position{}, false
}

// ErrRestoreAfterPoll is returned by Restore once the source has emitted rows.
var ErrRestoreAfterPoll = errors.New("datagen: Restore must come before the first Poll")

// Restore makes the subtask resume at row next, as recorded by a barrier.
// Call it after Open and before the first Poll. When next lies in a block
// of another subtask — the job was restored with a different parallelism —
// the subtask starts at its first block after that one; restoring every
// subtask from the smallest Next of the old subtasks then loses no row (rows
// the old subtasks had emitted past it are generated again).
func (s *Source) Restore(next int64) error {
	if s.b == nil {
		return errors.New("datagen: Restore must come after Open")
	}
	if s.polled {
		return ErrRestoreAfterPoll
	}
	if next < 0 {
		return fmt.Errorf("datagen: cannot restore to row %d", next)
	}
	block := next / s.block
	if block%s.par != s.subtask {
		block += (s.subtask - block%s.par + s.par) % s.par
		next = block * s.block
	}
	s.next = next
	return nil
}

// Close releases the subtask's batch; the source must not be polled again.
func (s *Source) Close() error {
	s.throttle.Stop()
	if s.b != nil {
		s.b.Release()
		s.b = nil
	}
	return nil
}
