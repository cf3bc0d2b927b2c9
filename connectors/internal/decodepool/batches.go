package decodepool

import (
	"context"

	"github.com/sluicehq/sluice/runtime"
)

// Batches is a free list of batches of one schema: workers take a batch
// to decode a chunk into (Get), and the subtask puts it back once the
// batch it emitted is no longer borrowed (at its next Poll, or Close).
// Safe for concurrent use. Unlike the schema's sync.Pool, it keeps its
// batches across garbage collections, which are frequent while records
// stream in.
type Batches struct {
	schema *runtime.Schema
	free   chan *runtime.Batch
}

// NewBatches returns a free list keeping up to n batches of schema.
func NewBatches(schema *runtime.Schema, n int) *Batches {
	return &Batches{schema: schema, free: make(chan *runtime.Batch, max(n, 1))}
}

// Get returns an empty batch.
func (l *Batches) Get() *runtime.Batch {
	select {
	case b := <-l.free:
		return b
	default:
		return runtime.NewBatch(l.schema)
	}
}

// Put empties b and keeps it for a later Get (b may be nil). The caller
// must not use b afterwards.
func (l *Batches) Put(b *runtime.Batch) {
	if b == nil {
		return
	}
	b.Reset()
	select {
	case l.free <- b:
	default:
		b.Release()
	}
}

// Close releases the batches kept.
func (l *Batches) Close() {
	for {
		select {
		case b := <-l.free:
			b.Release()
		default:
			return
		}
	}
}

// States is the number of decoding states (a decoder with its scratch
// buffers each) a source keeps for n workers: one per worker and one for
// Next, which decodes too; with one worker, one, for Poll.
func States(n int) int {
	if n > 1 {
		return n + 1
	}
	return 1
}

// Spawn is New's spawn for a source subtask: it starts the workers in the
// subtask's goroutine group, so that a decoder's panic fails the job.
func Spawn(ctx *runtime.Context) func(run func()) {
	return func(run func()) { ctx.Go(func(context.Context) error { run(); return nil }) }
}

// Bad is a record of a chunk that could not be decoded (or has no sane
// event time), by its index in the chunk, and why.
type Bad struct {
	I   int
	Err error
}
