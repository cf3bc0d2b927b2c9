package sluice

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	rt "github.com/sluicehq/sluice/runtime"
)

// FillFunc appends n generated rows, numbered first … first+n-1, to b's
// columns (it must append exactly n values to every column; b.N is set by
// the caller).
type FillFunc func(b *rt.Batch, first int64, n int)

// GeneratorOption configures FromGenerator.
type GeneratorOption func(*generator)

// RowsPerSecond throttles each generator subtask's share to the given rate.
func RowsPerSecond(n float64) GeneratorOption { return func(g *generator) { g.rate = n } }

// FromGenerator adds a source that generates total rows (or rows without end
// when total < 0) with fill, split evenly over its subtasks. Row numbers are
// unique across subtasks, so fill can derive keys and times from them.
func (e *Env) FromGenerator(name string, schema *rt.Schema, total int64, fill FillFunc, opts ...any) *Stream {
	var sopts []SourceOption
	var gopts []GeneratorOption
	for _, o := range opts {
		switch o := o.(type) {
		case SourceOption:
			sopts = append(sopts, o)
		case GeneratorOption:
			gopts = append(gopts, o)
		default:
			e.fail("source %q: option %T is neither a SourceOption nor a GeneratorOption", name, o)
		}
	}
	return e.FromSource(name, schema, func() rt.Source {
		g := &generator{schema: schema, total: total, fill: fill}
		for _, o := range gopts {
			o(g)
		}
		return g
	}, sopts...)
}

type generator struct {
	restored map[int64][2]int64 // subtask → parallelism, next row (RestorePositions)
	schema   *rt.Schema
	total    int64
	fill     FillFunc
	rate     float64
	p        int64 // subtasks
	block    int64 // current block index
	pos, end int64 // next row and end of the current block
	b        *rt.Batch
	start    time.Time
	sent     int64
}

// Rows are handed out in blocks of one batch: subtask i generates blocks
// i, i+p, i+2p, … so that all subtasks advance through the row numbers (and
// the event times derived from them) together.
const genBlock = rt.DefaultBatchRows

// The generator's position in a checkpoint is its subtask, the
// parallelism and its next row: a restored job goes on from there (at the
// same parallelism).
func (g *generator) SnapshotPosition() ([]byte, error) {
	sub := g.block % g.p
	d := binary.LittleEndian.AppendUint64(nil, uint64(sub))
	d = binary.LittleEndian.AppendUint64(d, uint64(g.p))
	return binary.LittleEndian.AppendUint64(d, uint64(g.pos)), nil
}

func (g *generator) RestorePositions(all [][]byte) error {
	g.restored = map[int64][2]int64{}
	for _, d := range all {
		if len(d) != 24 {
			return fmt.Errorf("generator position of %d bytes, want 24", len(d))
		}
		sub := int64(binary.LittleEndian.Uint64(d))
		g.restored[sub] = [2]int64{int64(binary.LittleEndian.Uint64(d[8:])), int64(binary.LittleEndian.Uint64(d[16:]))}
	}
	return nil
}

func (g *generator) Open(ctx *rt.Context) error {
	g.p = int64(ctx.Parallelism)
	g.block = int64(ctx.Subtask)
	g.setBlock()
	if g.restored != nil {
		r, ok := g.restored[int64(ctx.Subtask)]
		if !ok || r[0] != g.p || len(g.restored) != int(g.p) {
			return fmt.Errorf("the checkpoint holds the positions of %d generator subtasks, the job runs %d: a generator resumes at the parallelism it was checkpointed with", len(g.restored), g.p)
		}
		if r[1] > g.pos {
			g.block = (r[1] - 1) / genBlock // the block of the last row sent
			g.setBlock()
			g.pos = r[1]
		}
	}
	g.b = rt.NewBatch(g.schema)
	g.start = time.Now()
	if g.rate > 0 {
		g.rate /= float64(g.p)
	}
	return nil
}

func (g *generator) setBlock() {
	g.pos = g.block * genBlock
	g.end = g.pos + genBlock
	if g.total >= 0 && g.end > g.total {
		g.end = g.total
	}
}

func (g *generator) Poll(ctx context.Context) (*rt.Batch, int, error) {
	if g.pos >= g.end {
		g.block += g.p
		g.setBlock()
		if g.pos >= g.end {
			return nil, 0, io.EOF
		}
	}
	n := g.end - g.pos
	if g.rate > 0 {
		// Rows due by now, at most one batch; wait when none is.
		due := int64(time.Since(g.start).Seconds()*g.rate) - g.sent
		if due <= 0 {
			wait := time.Duration(float64(time.Second) / g.rate)
			if wait > 50*time.Millisecond {
				wait = 50 * time.Millisecond
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			return nil, 0, nil
		}
		n = min(n, due)
	}
	g.b.Reset()
	g.fill(g.b, g.pos, int(n))
	g.b.N = int(n)
	g.pos += n
	g.sent += n
	return g.b, 0, nil
}

func (g *generator) Close() error { return nil }

// FromRows adds a bounded source that emits rows (one value per column) in
// order, from a single subtask, in batches of up to rt.DefaultBatchRows rows
// (see BatchRows). Its position is part of checkpoints: restored, it goes
// on after the last row it had emitted (given the same rows).
func (e *Env) FromRows(name string, schema *rt.Schema, rows [][]rt.Value, opts ...SourceOption) *Stream {
	opts = append([]SourceOption{SourceParallelism(1)}, opts...)
	var c sourceConf
	for _, o := range opts {
		o(&c)
	}
	batch := c.batch
	if batch <= 0 {
		batch = rt.DefaultBatchRows
	}
	for i, r := range rows {
		if len(r) != schema.Len() {
			e.fail("source %q: row %d has %d values, want %d", name, i, len(r), schema.Len())
		}
	}
	return e.FromSource(name, schema, func() rt.Source { return &rowSource{schema: schema, rows: rows, batch: batch} }, opts...)
}

type rowSource struct {
	schema   *rt.Schema
	rows     [][]rt.Value
	batch    int
	b        *rt.Batch
	subtask  int
	next     int           // the next row to emit
	restored map[int64]int // subtask → next row (RestorePositions)
}

// A subtask's position in a checkpoint is its number and its next row: a
// restored job goes on from there instead of emitting the rows again.
func (s *rowSource) SnapshotPosition() ([]byte, error) {
	d := binary.LittleEndian.AppendUint64(nil, uint64(s.subtask))
	return binary.LittleEndian.AppendUint64(d, uint64(s.next)), nil
}

func (s *rowSource) RestorePositions(all [][]byte) error {
	if len(all) == 0 {
		return nil // a checkpoint of a version that kept none: from the start
	}
	s.restored = map[int64]int{}
	for _, d := range all {
		if len(d) != 16 {
			return fmt.Errorf("rows position of %d bytes, want 16", len(d))
		}
		s.restored[int64(binary.LittleEndian.Uint64(d))] = int(binary.LittleEndian.Uint64(d[8:]))
	}
	return nil
}

func (s *rowSource) Open(ctx *rt.Context) error {
	s.b = rt.NewBatch(s.schema)
	s.subtask = ctx.Subtask
	if s.restored != nil {
		next, ok := s.restored[int64(ctx.Subtask)]
		if !ok || next > len(s.rows) {
			return fmt.Errorf("the checkpoint holds no position of subtask %d among %d rows (the rows or the parallelism changed)", ctx.Subtask, len(s.rows))
		}
		s.next = next
	}
	return nil
}

func (s *rowSource) Poll(context.Context) (*rt.Batch, int, error) {
	if s.next >= len(s.rows) {
		return nil, 0, io.EOF
	}
	s.b.Reset()
	n := min(len(s.rows)-s.next, s.batch)
	for _, r := range s.rows[s.next : s.next+n] {
		s.b.AppendValues(r...)
	}
	s.next += n
	return s.b, 0, nil
}

func (s *rowSource) Close() error { return nil }

// Collected gathers the rows of a Collect sink, for tests and small jobs.
type Collected struct {
	mu   sync.Mutex
	rows [][]rt.Value
}

// Rows returns a copy of the rows collected so far.
func (c *Collected) Rows() [][]rt.Value {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]rt.Value(nil), c.rows...)
}

// Strings returns the collected rows formatted "v1,v2,…".
func (c *Collected) Strings() []string {
	rows := c.Rows()
	out := make([]string, len(rows))
	for i, r := range rows {
		s := ""
		for j, v := range r {
			if j > 0 {
				s += ","
			}
			s += v.String()
		}
		out[i] = s
	}
	return out
}

// Collect gathers every row of s in memory.
func (s *Stream) Collect() *Collected {
	c := &Collected{}
	s.To("collect", func() rt.Operator { return &collectSink{c: c} })
	return c
}

type collectSink struct {
	rt.Base
	c *Collected
}

func (k *collectSink) ProcessBatch(_ int, b *rt.Batch, _ rt.Output) error {
	rows := make([][]rt.Value, b.Len())
	for i := range rows {
		rows[i] = b.Values(i)
	}
	k.c.mu.Lock()
	k.c.rows = append(k.c.rows, rows...)
	k.c.mu.Unlock()
	return nil
}
