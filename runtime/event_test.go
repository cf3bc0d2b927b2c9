package runtime

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource emits batches of rows forever (or until limit), counting
// what it emitted.
type countingSource struct {
	emitted *atomic.Int64
	b       *Batch
	next    int64
}

func (s *countingSource) Open(*Context) error { s.b = NewBatch(kvSchema); return nil }
func (s *countingSource) Poll(context.Context) (*Batch, int, error) {
	s.b.Reset()
	for i := 0; i < 256; i++ {
		s.b.AppendValues(IntValue(s.next%13), IntValue(s.next), TimeValue(s.next))
		s.next++
	}
	s.emitted.Add(256)
	return s.b, 0, nil
}
func (s *countingSource) Close() error { return nil }

type slowSink struct {
	Base
	consumed *atomic.Int64
	batches  *atomic.Int64
}

func (s *slowSink) ProcessBatch(_ int, b *Batch, _ Output) error {
	time.Sleep(200 * time.Microsecond)
	s.consumed.Add(int64(b.Len()))
	s.batches.Add(1)
	return nil
}

func TestSlowSinkBackpressuresSource(t *testing.T) {
	var emitted, consumed, batches atomic.Int64
	g := NewGraph("t")
	src := g.AddSource("src", kvSchema, 2, func() Source { return &countingSource{emitted: &emitted} }, NoWatermarks)
	sink := g.AddOperator("sink", kvSchema, 2, 1, func() Operator { return &slowSink{consumed: &consumed, batches: &batches} })
	g.Connect(src, sink, Keyed, 0)
	const buffer = 1024
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, g, Options{BufferRows: buffer}) }()
	deadline := time.Now().Add(10 * time.Second)
	for batches.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// In flight at most: every lane (2 sources × 2 sinks) full, plus as
	// much drained by each sink and being worked through, plus the batch
	// each source is splitting.
	bound := int64(2*4*buffer + 4*256)
	for i := 0; i < 20; i++ {
		if d := emitted.Load() - consumed.Load(); d > bound {
			t.Fatalf("%d rows in flight, bound %d: the source is not held back", d, bound)
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// scriptSource emits rows with the given times, one batch per Poll, on
// partition part, then either ends or idles.
type scriptSource struct {
	times   [][]int64 // batches
	part    int
	forever bool
	delay   time.Duration
	b       *Batch
}

func (s *scriptSource) Open(*Context) error { s.b = NewBatch(kvSchema); return nil }
func (s *scriptSource) Poll(ctx context.Context) (*Batch, int, error) {
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if len(s.times) == 0 {
		if s.forever {
			return nil, 0, nil
		}
		return nil, 0, errEOF
	}
	s.b.Reset()
	for _, ts := range s.times[0] {
		s.b.AppendValues(IntValue(1), IntValue(ts), TimeValue(ts))
	}
	s.times = s.times[1:]
	return s.b, s.part, nil
}
func (s *scriptSource) Close() error { return nil }

// union records, per input, the largest time seen and checks that every
// watermark respects the minimum over the inputs.
type union struct {
	Base
	mu     *sync.Mutex
	maxTs  [2]int64
	delay  int64
	bad    *[]string
	wms    *[]int64
	inputs int
}

func (u *union) ProcessBatch(in int, b *Batch, out Output) error {
	for i := 0; i < b.Len(); i++ {
		if ts := b.Cols[2].I64[b.Row(i)]; ts > u.maxTs[in] {
			u.maxTs[in] = ts
		}
	}
	return nil
}

func (u *union) ProcessWatermark(wm int64, _ Output) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	*u.wms = append(*u.wms, wm)
	if wm == MaxWatermark {
		return nil
	}
	for i := 0; i < u.inputs; i++ {
		if limit := u.maxTs[i] - u.delay - 1; wm > limit {
			*u.bad = append(*u.bad, "watermark ahead of an input")
		}
	}
	return nil
}

func TestWatermarkIsMinimumOfInputs(t *testing.T) {
	var fast, slow [][]int64
	for i := int64(0); i < 200; i++ {
		fast = append(fast, []int64{i * 100, i*100 + 50})
		slow = append(slow, []int64{i * 10})
	}
	g := NewGraph("t")
	a := g.AddSource("fast", kvSchema, 1, func() Source { return &scriptSource{times: fast} }, WatermarkStrategy{TimeColumn: 2, MaxOutOfOrderness: 5 * time.Millisecond})
	b := g.AddSource("slow", kvSchema, 1, func() Source { return &scriptSource{times: slow, delay: 100 * time.Microsecond} }, WatermarkStrategy{TimeColumn: 2, MaxOutOfOrderness: 5 * time.Millisecond})
	var mu sync.Mutex
	var bad []string
	var wms []int64
	u := g.AddOperator("union", kvSchema, 1, 2, func() Operator {
		return &union{mu: &mu, delay: 5, bad: &bad, wms: &wms, inputs: 2}
	})
	g.ConnectPort(a, 0, u, 0, Forward)
	g.ConnectPort(b, 0, u, 1, Forward)
	if err := Run(context.Background(), g, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("%d watermarks ahead of the slowest input", len(bad))
	}
	if len(wms) < 10 || wms[len(wms)-1] != MaxWatermark {
		t.Fatalf("watermarks %v: want progress and a final MaxWatermark", wms)
	}
	for i := 1; i < len(wms); i++ {
		if wms[i] <= wms[i-1] {
			t.Fatalf("watermarks not increasing: %v", wms)
		}
	}
}

func TestIdlePartitionStopsHoldingBackWatermark(t *testing.T) {
	f := func(idle time.Duration) int64 {
		t.Helper()
		var times [][]int64
		for i := int64(0); i < 100; i++ {
			times = append(times, []int64{1000 + i*10})
		}
		// Partition 0 moves on; partition 1 delivered one early row and
		// went quiet. Both come from one subtask (multiSource).
		src := &multiSource{parts: []*scriptSource{{times: times, part: 0, delay: time.Millisecond}, {times: [][]int64{{5}}, part: 1, forever: true}}}
		g := NewGraph("t")
		s := g.AddSource("src", kvSchema, 1, func() Source { return src }, WatermarkStrategy{TimeColumn: 2, IdleTimeout: idle})
		c, mk := newCollector()
		k := g.AddOperator("sink", kvSchema, 1, 1, mk)
		g.Connect(s, k, Forward)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- Run(ctx, g, Options{}) }()
		time.Sleep(300 * time.Millisecond)
		cancel()
		<-done
		c.mu.Lock()
		defer c.mu.Unlock()
		max := MinWatermark
		for _, w := range *c.wms {
			max = w
		}
		return max
	}
	if wm := f(0); wm > 4 {
		t.Fatalf("without idle timeout the watermark reached %d past the quiet partition's row at 5", wm)
	}
	if wm := f(20 * time.Millisecond); wm < 1500 {
		t.Fatalf("with idle timeout the watermark stayed at %d", wm)
	}
}

// multiSource polls its parts in turn.
type multiSource struct {
	parts []*scriptSource
	i     int
}

func (m *multiSource) Open(ctx *Context) error {
	for _, p := range m.parts {
		p.Open(ctx)
	}
	return nil
}
func (m *multiSource) Poll(ctx context.Context) (*Batch, int, error) {
	for range m.parts {
		p := m.parts[m.i%len(m.parts)]
		m.i++
		b, part, err := p.Poll(ctx)
		if b != nil {
			return b, part, err
		}
	}
	return nil, 0, nil
}
func (m *multiSource) Close() error { return nil }
func (m *multiSource) Partitions() []int {
	var ps []int
	for _, p := range m.parts {
		ps = append(ps, p.part)
	}
	return ps
}

// ticker emits a row from a processing-time timer.
type ticker struct {
	Base
	ctx   *Context
	fired *atomic.Int64
}

func (k *ticker) Open(ctx *Context) error {
	k.ctx = ctx
	ctx.RegisterProcessingTimer(ctx.Now() + 20)
	return nil
}
func (k *ticker) ProcessBatch(int, *Batch, Output) error { return nil }
func (k *ticker) OnProcessingTime(now int64, out Output) error {
	if k.fired.Add(1) < 3 {
		k.ctx.RegisterProcessingTimer(k.ctx.Now() + 10)
	}
	return nil
}

func TestProcessingTimeTimersFire(t *testing.T) {
	var fired atomic.Int64
	g := NewGraph("t")
	s := g.AddSource("src", kvSchema, 1, func() Source { return &scriptSource{forever: true} }, NoWatermarks)
	k := g.AddOperator("ticker", kvSchema, 1, 1, func() Operator { return &ticker{fired: &fired} })
	g.Connect(s, k, Rebalance) // a network edge: the timer wakes an idle inbox
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, g, Options{}) }()
	deadline := time.Now().Add(5 * time.Second)
	for fired.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if n := fired.Load(); n != 3 {
		t.Fatalf("timer fired %d times, want 3", n)
	}
}

var errEOF = io.EOF

// dynSource emits partition 0's batches, declaring partition 1 started
// and/or partition 0 ended after `after` polls; partition 1 emits its own
// batches once started.
type dynSource struct {
	p0, p1       *scriptSource
	after, polls int
	start, end   bool
	reported     bool
}

func (d *dynSource) Open(ctx *Context) error { d.p0.Open(ctx); d.p1.Open(ctx); return nil }
func (d *dynSource) Partitions() []int       { return []int{0} }
func (d *dynSource) Poll(ctx context.Context) (*Batch, int, error) {
	d.polls++
	if d.polls > d.after && d.start {
		if b, part, _ := d.p1.Poll(ctx); b != nil {
			return b, part, nil
		}
	}
	if d.polls > d.after && d.end {
		time.Sleep(time.Millisecond)
		return nil, 0, nil
	}
	return d.p0.Poll(ctx)
}
func (d *dynSource) PartitionChanges() (started, ended []int) {
	if d.polls <= d.after || d.reported {
		return nil, nil
	}
	d.reported = true
	if d.start {
		started = []int{1}
	}
	if d.end {
		ended = []int{0}
	}
	return started, ended
}
func (d *dynSource) Close() error { return nil }

// TestDynamicPartitions: a partition that ends stops holding back the
// watermark at once (no idle timeout), and one that starts holds it back
// until it delivers.
func TestDynamicPartitions(t *testing.T) {
	run := func(src *dynSource) []int64 {
		t.Helper()
		g := NewGraph("t")
		s := g.AddSource("src", kvSchema, 1, func() Source { return src }, WatermarkStrategy{TimeColumn: 2})
		c, mk := newCollector()
		g.Connect(s, g.AddOperator("sink", kvSchema, 1, 1, mk), Forward)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- Run(ctx, g, Options{}) }()
		time.Sleep(200 * time.Millisecond)
		cancel()
		<-done
		c.mu.Lock()
		defer c.mu.Unlock()
		return append([]int64(nil), *c.wms...)
	}
	last := func(wms []int64) int64 {
		if len(wms) == 0 {
			return MinWatermark
		}
		return wms[len(wms)-1]
	}
	var later [][]int64
	for i := int64(0); i < 50; i++ {
		later = append(later, []int64{2000 + i*10})
	}
	// Partition 0 stops at 100 and ends; partition 1 carries on from 2000.
	ends := &dynSource{p0: &scriptSource{times: [][]int64{{100}}, part: 0, forever: true},
		p1: &scriptSource{times: later, part: 1, forever: true}, after: 2, start: true, end: true}
	if wm := last(run(ends)); wm < 2400 {
		t.Fatalf("after partition 0 ended the watermark stayed at %d", wm)
	}
	// Partition 1 starts but never delivers: the watermark waits for it.
	var early [][]int64
	for i := int64(0); i < 100; i++ {
		early = append(early, []int64{1000 + i*10})
	}
	waits := &dynSource{p0: &scriptSource{times: early, part: 0, forever: true, delay: time.Millisecond},
		p1: &scriptSource{part: 1, forever: true}, after: 10, start: true}
	if wm := last(run(waits)); wm > 1000+10*10 {
		t.Fatalf("a started, silent partition let the watermark reach %d", wm)
	}
}
