package runtime

import "math"

// MaxWatermark is the final watermark a bounded input emits: it fires every
// pending window and timer.
const MaxWatermark int64 = math.MaxInt64

// MinWatermark is the watermark before any has been seen.
const MinWatermark int64 = math.MinInt64

// MsgKind says what a Message carries.
type MsgKind uint8

// Message kinds. Control messages travel in the same queues as data, so
// their order relative to the rows is preserved without locks.
const (
	MsgBatch     MsgKind = iota + 1 // a batch of rows
	MsgWatermark                    // no later row of this channel has a time ≤ Time
	MsgBarrier                      // a checkpoint barrier
	MsgIdle                         // the channel is idle: leave it out of the minimum watermark
	MsgActive                       // the channel carries rows again
	MsgEnd                          // end of input: nothing follows on this channel
)

// Barrier identifies a checkpoint.
type Barrier struct {
	ID        int64
	Savepoint bool
}

// Message is what flows between subtasks.
type Message struct {
	Kind    MsgKind
	Batch   *Batch // MsgBatch; owned by the receiver
	Time    int64  // MsgWatermark
	Barrier Barrier
}

func (m *Message) rows() int {
	if m.Kind == MsgBatch {
		return m.Batch.Len()
	}
	return 0
}
