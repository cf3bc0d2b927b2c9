package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var kvSchema = NewSchema(Field{Name: "k", Type: BigInt}, Field{Name: "v", Type: BigInt}, Field{Name: "ts", Type: Timestamp})

func kvRows(parts, batches, rows int) [][][][]Value {
	out := make([][][][]Value, parts)
	n := 0
	for p := range out {
		for b := 0; b < batches; b++ {
			var bt [][]Value
			for r := 0; r < rows; r++ {
				bt = append(bt, []Value{IntValue(int64(n % 7)), IntValue(int64(n)), TimeValue(int64(n))})
				n++
			}
			out[p] = append(out[p], bt)
		}
	}
	return out
}

// sumByKey sums v per key and emits at the end.
type sumByKey struct {
	Base
	sums map[int64]int64
}

func (s *sumByKey) ProcessBatch(_ int, b *Batch, _ Output) error {
	if s.sums == nil {
		s.sums = map[int64]int64{}
	}
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		s.sums[b.Cols[0].I64[r]] += b.Cols[1].I64[r]
	}
	return nil
}

func (s *sumByKey) Finish(out Output) error {
	b := NewBatch(kvSchema)
	defer b.Release()
	for k, v := range s.sums {
		b.AppendValues(IntValue(k), IntValue(v), TimeValue(0))
	}
	return out.Emit(b)
}

func TestKeyedExchangeSameResultAnyParallelism(t *testing.T) {
	f := func(par int) []string {
		t.Helper()
		data := kvRows(3, 20, 100)
		g := NewGraph("t")
		src := g.AddSource("src", kvSchema, par, func() Source { return &sliceSource{schema: kvSchema, batches: data} }, WatermarkStrategy{TimeColumn: 2})
		sum := g.AddOperator("sum", kvSchema, par, 1, func() Operator { return &sumByKey{} })
		c, mk := newCollector()
		sink := g.AddOperator("sink", kvSchema, 1, 1, mk)
		g.Connect(src, sum, Keyed, 0)
		g.Connect(sum, sink, Global)
		if err := Run(context.Background(), g, Options{Parallelism: par, BufferRows: 64}); err != nil {
			t.Fatal(err)
		}
		return c.sorted()
	}
	want := make(map[int64]int64)
	for n := int64(0); n < 3*20*100; n++ {
		want[n%7] += n
	}
	var exp []string
	for k, v := range want {
		exp = append(exp, fmt.Sprintf("%d,%d,1970-01-01 00:00:00.000", k, v))
	}
	got1 := f(1)
	if len(got1) != 7 {
		t.Fatalf("p=1: got %d rows, want 7: %v", len(got1), got1)
	}
	got4 := f(4)
	if !reflect.DeepEqual(got1, got4) {
		t.Fatalf("p=1 and p=4 differ:\n%v\n%v", got1, got4)
	}
	for _, e := range exp {
		found := false
		for _, g := range got1 {
			found = found || g == e
		}
		if !found {
			t.Fatalf("missing %s in %v", e, got1)
		}
	}
}

type failing struct {
	Base
	after int
	seen  int
}

func (f *failing) ProcessBatch(_ int, b *Batch, out Output) error {
	f.seen += b.Len()
	if f.seen > f.after {
		return errors.New("boom")
	}
	return out.Emit(b)
}

// endless never ends.
type endless struct{ b *Batch }

func (e *endless) Open(*Context) error { e.b = NewBatch(kvSchema); return nil }
func (e *endless) Poll(context.Context) (*Batch, int, error) {
	e.b.Reset()
	for i := 0; i < 100; i++ {
		e.b.AppendValues(IntValue(int64(i)), IntValue(1), TimeValue(int64(i)))
	}
	return e.b, 0, nil
}
func (e *endless) Close() error { return nil }

func TestOperatorErrorFailsJobWithName(t *testing.T) {
	g := NewGraph("t")
	src := g.AddSource("src", kvSchema, 2, func() Source { return &endless{} }, NoWatermarks)
	f := g.AddOperator("explode", kvSchema, 2, 1, func() Operator { return &failing{after: 5000} })
	_, mk := newCollector()
	sink := g.AddOperator("sink", kvSchema, 2, 1, mk)
	g.Connect(src, f, Keyed, 0)
	g.Connect(f, sink, Rebalance)
	err := Run(context.Background(), g, Options{})
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "explode" || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v", err)
	}
}

func TestCancelStopsEndlessJob(t *testing.T) {
	g := NewGraph("t")
	src := g.AddSource("src", kvSchema, 2, func() Source { return &endless{} }, NoWatermarks)
	_, mk := newCollector()
	sink := g.AddOperator("sink", kvSchema, 2, 1, func() Operator { return &sumByKey{} })
	_ = mk
	g.Connect(src, sink, Keyed, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, g, Options{}) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

type panicky struct{ Base }

func (panicky) ProcessBatch(int, *Batch, Output) error {
	var m map[string]int
	m["x"]++ //lint:ignore SA5000 the panic is what the test is about
	return nil
}

func TestPanicInFusedOperatorFailsJobNamingIt(t *testing.T) {
	g := NewGraph("t")
	src := g.AddSource("src", kvSchema, 2, func() Source { return &sliceSource{schema: kvSchema, batches: kvRows(2, 2, 10)} }, NoWatermarks)
	p := g.AddOperator("broken", kvSchema, 2, 1, func() Operator { return panicky{} })
	g.Connect(src, p, Forward) // fused into the source's goroutine
	err := Run(context.Background(), g, Options{})
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "broken" || !strings.Contains(err.Error(), "panic: assignment to entry in nil map") {
		t.Fatalf("got %v", err)
	}
}
