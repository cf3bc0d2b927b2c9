package runtime

import (
	"context"
	"io"
	"sort"
	"sync"
)

// sliceSource emits pre-built rows, one batch per Poll, from partition i of
// its subtask (rows are split round-robin by batch across subtasks).
type sliceSource struct {
	schema  *Schema
	batches [][][][]Value // per partition, batches of rows
	ctx     *Context
	part    int
	next    []int
	out     *Batch
}

func (s *sliceSource) Open(ctx *Context) error {
	s.ctx = ctx
	s.next = make([]int, len(s.batches))
	return nil
}

func (s *sliceSource) Poll(context.Context) (*Batch, int, error) {
	if s.out == nil {
		s.out = NewBatch(s.schema)
	}
	for tries := 0; tries < len(s.batches); tries++ {
		p := s.part
		s.part = (s.part + 1) % len(s.batches)
		if p%s.ctx.Parallelism != s.ctx.Subtask || s.next[p] >= len(s.batches[p]) {
			continue
		}
		rows := s.batches[p][s.next[p]]
		s.next[p]++
		s.out.Reset()
		for _, r := range rows {
			s.out.AppendValues(r...)
		}
		return s.out, p, nil
	}
	return nil, 0, io.EOF
}

func (s *sliceSource) Close() error { return nil }

// collector is a sink operator gathering rows as strings.
type collector struct {
	Base
	mu   *sync.Mutex
	rows *[]string
	wms  *[]int64
}

func newCollector() (*collector, func() Operator) {
	c := &collector{mu: new(sync.Mutex), rows: new([]string), wms: new([]int64)}
	return c, func() Operator { return &collector{mu: c.mu, rows: c.rows, wms: c.wms} }
}

func (c *collector) ProcessBatch(_ int, b *Batch, _ Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		s := ""
		for j, v := range b.Values(i) {
			if j > 0 {
				s += ","
			}
			s += v.String()
		}
		*c.rows = append(*c.rows, s)
	}
	return nil
}

func (c *collector) ProcessWatermark(wm int64, _ Output) error {
	c.mu.Lock()
	*c.wms = append(*c.wms, wm)
	c.mu.Unlock()
	return nil
}

func (c *collector) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), *c.rows...)
	sort.Strings(out)
	return out
}
