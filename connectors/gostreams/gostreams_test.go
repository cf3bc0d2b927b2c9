package gostreams_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connectors/gostreams"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var schema = rt.NewSchema(
	rt.Field{Name: "user", Type: rt.Varchar},
	rt.Field{Name: "amount", Type: rt.BigInt},
	rt.Field{Name: "ts", Type: rt.Timestamp},
)

func TestGoStreamsSourceFeedsWindowedJob(t *testing.T) {
	in := make(chan any)
	go func() {
		defer close(in)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 100; i++ {
			in <- map[string]any{"user": []string{"ann", "bob"}[i%2], "amount": i, "ts": base.Add(time.Duration(i) * 100 * time.Millisecond)}
			if i == 50 {
				in <- map[string]any{"user": "eve", "amount": "lots", "ts": base} // malformed
			}
		}
	}()
	// A go-streams flow in front of Sluice: double every amount.
	double := flow.NewMap(func(e any) any {
		m, ok := e.(map[string]any)
		if !ok {
			return e
		}
		if a, ok := m["amount"].(int); ok {
			m["amount"] = 2 * a
		}
		return m
	}, 1)
	outlet := extension.NewChanSource(in).Via(double)

	var mu sync.Mutex
	var bad []string
	env := sluice.NewEnv(sluice.WithParallelism(2))
	src := env.FromSource("go-streams", schema, gostreams.NewSource(outlet, schema, gostreams.SourceOptions{
		OnError: func(pos int64, _ any, err error) {
			mu.Lock()
			bad = append(bad, err.Error())
			mu.Unlock()
		},
	}), sluice.SourceParallelism(1), sluice.Watermark("ts", time.Second))
	res := src.KeyBy("user").Window(window.Tumble(5*time.Second)).Aggregate(sluice.Count("n"), sluice.Sum("amount", "total"))
	got := res.Collect()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows := got.Strings()
	sort.Strings(rows)
	// Elements 0..49 fall in [0s,5s), 50..99 in [5s,10s); amounts doubled.
	sum := func(from, to, parity int) int {
		s := 0
		for i := from; i < to; i++ {
			if i%2 == parity {
				s += 2 * i
			}
		}
		return s
	}
	want := []string{
		"ann,2026-01-01 00:00:00.000,2026-01-01 00:00:05.000,25," + itoa(sum(0, 50, 0)),
		"ann,2026-01-01 00:00:05.000,2026-01-01 00:00:10.000,25," + itoa(sum(50, 100, 0)),
		"bob,2026-01-01 00:00:00.000,2026-01-01 00:00:05.000,25," + itoa(sum(0, 50, 1)),
		"bob,2026-01-01 00:00:05.000,2026-01-01 00:00:10.000,25," + itoa(sum(50, 100, 1)),
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if len(bad) != 1 || !strings.Contains(bad[0], "element 51") || !strings.Contains(bad[0], `column "amount"`) {
		t.Fatalf("bad elements reported: %q", bad)
	}
}

func itoa(i int) string { return rt.IntValue(int64(i)).String() }

func TestSluiceStreamFeedsGoStreamsFlow(t *testing.T) {
	var rows [][]rt.Value
	for i := 0; i < 5000; i++ {
		rows = append(rows, []rt.Value{rt.StringValue([]string{"ann", "bob", "cy"}[i%3]), rt.IntValue(int64(i)), rt.TimeValue(int64(i))})
	}
	env := sluice.NewEnv(sluice.WithParallelism(3))
	out := gostreams.NewOutlet(16)
	env.FromRows("rows", schema, rows).
		Rebalance(3).
		Filter(expr.Eq(expr.Col("user"), expr.Str("bob"))).
		To("to-go-streams", out.Sink(nil))

	// The go-streams side: keep multiples of 10, collect into a channel.
	// (go-streams' To blocks until the flow ends.)
	collected := make(chan any)
	go out.Via(flow.NewFilter(func(e any) bool { return e.(map[string]any)["amount"].(int64)%10 == 0 }, 1)).
		To(extension.NewChanSink(collected))
	done := make(chan []int64)
	go func() {
		var got []int64
		for e := range collected {
			m := e.(map[string]any)
			if m["user"] != "bob" || m["ts"].(time.Time).UnixMilli() != m["amount"].(int64) {
				t.Errorf("bad element %v", m)
			}
			got = append(got, m["amount"].(int64))
		}
		done <- got
	}()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := <-done
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	var want []int64
	for i := int64(0); i < 5000; i++ {
		if i%3 == 1 && i%10 == 0 {
			want = append(want, i)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d elements, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d: got %d want %d", i, got[i], want[i])
		}
	}
}
