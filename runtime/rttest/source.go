package rttest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// Chunk is one batch a Source emits: rows (one value per column each) of
// partition Part.
type Chunk struct {
	Part int
	Rows [][]runtime.Value
}

// Deal cuts rows into chunks of size rows and deals them to partitions
// 0, 1, …, parts-1 in turn, keeping the order of rows within each
// partition. A size or parts below 1 means runtime.DefaultBatchRows or 1.
func Deal(rows [][]runtime.Value, size, parts int) []Chunk {
	size, parts = batchSize(size), max(parts, 1)
	var out []Chunk
	for i := 0; i < len(rows); i += size {
		out = append(out, Chunk{Part: (i / size) % parts, Rows: rows[i:min(i+size, len(rows))]})
	}
	return out
}

// Split cuts the rows of each partition (parts[p] holds those of partition
// p) into chunks of size rows, and orders them as a subtask reading several
// partitions takes them: the first chunk of every partition, then the
// second, and so on. A size below 1 means runtime.DefaultBatchRows.
func Split(parts [][][]runtime.Value, size int) []Chunk {
	size = batchSize(size)
	var out []Chunk
	for i := 0; ; i += size {
		n := len(out)
		for p, rows := range parts {
			if i < len(rows) {
				out = append(out, Chunk{Part: p, Rows: rows[i:min(i+size, len(rows))]})
			}
		}
		if len(out) == n {
			return out
		}
	}
}

func batchSize(n int) int {
	if n < 1 {
		return runtime.DefaultBatchRows
	}
	return n
}

// SourceOption configures a Source.
type SourceOption func(*sourceConf)

type sourceConf struct {
	pauses  []pause
	hold    func() bool
	holdMax time.Duration
	hidden  []runtime.Value
}

type pause struct {
	before int
	ready  func() bool
}

// Pause keeps each subtask of the source idle — polled, it returns no
// batch — before its chunk number n (its own chunks counted from 0; n equal
// to their number means before it ends) until ready returns true. ready is
// called from the subtasks' goroutines.
func Pause(n int, ready func() bool) SourceOption {
	return func(c *sourceConf) { c.pauses = append(c.pauses, pause{n, ready}) }
}

// Hold keeps each subtask of the source open after its last chunk, idle,
// until done returns true or timeout has passed, so that the job goes on
// (processing-time timers fire, other sources catch up). done is called
// from the subtasks' goroutines.
func Hold(done func() bool, timeout time.Duration) SourceOption {
	return func(c *sourceConf) { c.hold, c.holdMax = done, timeout }
}

// Hidden puts a copy of row before every row the source emits, left out by
// the batch's selection vector: an operator that ignores the selection
// lets it through.
func Hidden(row []runtime.Value) SourceOption {
	return func(c *sourceConf) { c.hidden = row }
}

// Source returns a factory of sources (for runtime.Graph.AddSource) of
// schema that emit chunks, one batch per chunk. Subtask i of parallelism n
// reads the partitions p with p % n == i: it emits their chunks in the
// order given, then ends (io.EOF). It implements runtime.PartitionedSource,
// so the watermark waits for each of its partitions from the start.
func Source(schema *runtime.Schema, chunks []Chunk, opts ...SourceOption) func() runtime.Source {
	var conf sourceConf
	for _, o := range opts {
		o(&conf)
	}
	return func() runtime.Source { return &source{schema: schema, chunks: chunks, conf: &conf} }
}

type source struct {
	schema *runtime.Schema
	chunks []Chunk
	conf   *sourceConf

	mine     []int // this subtask's chunks, as indices into chunks
	parts    []int
	sent     int
	out      *runtime.Batch
	deadline time.Time // of Hold, set when the chunks are sent
}

func (s *source) Open(ctx *runtime.Context) error {
	for i, c := range s.chunks {
		if c.Part < 0 {
			return fmt.Errorf("chunk %d: negative partition %d", i, c.Part)
		}
		for j, r := range c.Rows {
			if len(r) != s.schema.Len() {
				return fmt.Errorf("chunk %d row %d: %d values, want %d", i, j, len(r), s.schema.Len())
			}
		}
		if c.Part%ctx.Parallelism != ctx.Subtask {
			continue
		}
		s.mine = append(s.mine, i)
		if !slices.Contains(s.parts, c.Part) {
			s.parts = append(s.parts, c.Part)
		}
	}
	if h := s.conf.hidden; h != nil && len(h) != s.schema.Len() {
		return fmt.Errorf("hidden row: %d values, want %d", len(h), s.schema.Len())
	}
	slices.Sort(s.parts)
	s.out = runtime.NewBatch(s.schema)
	return nil
}

func (s *source) Partitions() []int { return s.parts }

func (s *source) Poll(context.Context) (*runtime.Batch, int, error) {
	for _, p := range s.conf.pauses {
		if p.before == s.sent && !p.ready() {
			return nil, 0, nil
		}
	}
	if s.sent < len(s.mine) {
		c := s.chunks[s.mine[s.sent]]
		s.sent++
		s.out.Reset()
		for _, r := range c.Rows {
			if h := s.conf.hidden; h != nil {
				s.out.AppendValues(h...)
				s.out.Sel = append(s.out.Sel, int32(s.out.N))
			}
			s.out.AppendValues(r...)
		}
		return s.out, c.Part, nil
	}
	if s.conf.hold != nil {
		if s.deadline.IsZero() {
			s.deadline = time.Now().Add(s.conf.holdMax)
		}
		if !s.conf.hold() && time.Now().Before(s.deadline) {
			return nil, 0, nil
		}
	}
	return nil, 0, io.EOF
}

func (s *source) Close() error {
	if s.out != nil {
		s.out.Release()
		s.out = nil
	}
	return nil
}
