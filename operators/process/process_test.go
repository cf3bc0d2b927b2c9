package process

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

var (
	kvSchema = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "v", Type: runtime.BigInt},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
	)
	countSchema = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "n", Type: runtime.BigInt},
	)
)

// runningCount emits (key, number of rows of the key so far) per row, and
// checks that each key's state lives in the subtask owning its key group.
type runningCount struct {
	count *state.ValueState[int64]
}

func (f *runningCount) Open(ctx *Ctx) error {
	var err error
	f.count, err = state.RegisterValue(ctx.State(), state.Descriptor[int64]{Name: "count"})
	return err
}

func (f *runningCount) ProcessRow(ctx *Ctx, b *runtime.Batch, r int, out *Emitter) error {
	rc := ctx.Runtime()
	if kg := ctx.State().CurrentKeyGroup(); runtime.SubtaskForKeyGroup(kg, rc.Parallelism) != rc.Subtask {
		return fmt.Errorf("key group %d is not owned by subtask %d", kg, rc.Subtask)
	}
	n, _ := f.count.Value()
	n++
	if err := f.count.Update(n); err != nil {
		return err
	}
	out.Col(0).AppendValue(b.Cols[0].Value(r))
	out.Col(1).AppendInt(n)
	return out.EndRow()
}

func (f *runningCount) OnTimer(*Ctx, int64, bool, *Emitter) error { return nil }

// kvParts builds rows spread over parts partitions: keys k0..k(keys-1)
// plus a NULL key, times increasing per partition.
func kvParts(parts, rowsPerPart, keys int, seed uint64) [][][]runtime.Value {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][][]runtime.Value, parts)
	for p := range out {
		ts := int64(0)
		for range rowsPerPart {
			ts += rng.Int64N(20)
			k := runtime.StringValue(fmt.Sprint("k", rng.IntN(keys)))
			if rng.IntN(50) == 0 {
				k = runtime.NullValue(runtime.Varchar)
			}
			out[p] = append(out[p], []runtime.Value{k, runtime.IntValue(rng.Int64N(100)), runtime.TimeValue(ts)})
		}
	}
	return out
}

func TestRunningCountSameAtAnyParallelism(t *testing.T) {
	parts := kvParts(4, 3000, 50, 1)
	perKey := map[string]int{}
	for _, p := range parts {
		for _, r := range p {
			perKey[r[0].String()]++
		}
	}
	var want []string
	for k, n := range perKey {
		for i := 1; i <= n; i++ {
			want = append(want, fmt.Sprintf("%s,%d", k, i))
		}
	}
	sort.Strings(want)
	j := job{in: kvSchema, out: countSchema, parts: parts, wm: runtime.WatermarkStrategy{TimeColumn: 2}, keyCols: []int{0},
		newFunc: func() Func { return &runningCount{} }, batchRows: 3000}
	for _, par := range []int{1, 4} {
		set := metrics.NewSet()
		j.runOpts = runtime.Options{Metrics: set}
		got, err := j.run(t, par)
		if err != nil {
			t.Fatalf("p=%d: %v", par, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: %d rows differ from the %d expected", par, len(got), len(want))
		}
		// Every subtask published its key count; together they hold each
		// key once.
		if n, _ := rttest.Metric(set, "sluice_operator_state_keys", "proc"); n != float64(len(perKey)) {
			t.Fatalf("p=%d: state keys gauge sums to %v, want %d", par, n, len(perKey))
		}
	}
}

// dedup forwards the first row of each (user, event id), and again once
// TTL of event time has passed since it was last forwarded.
type dedup struct {
	seen *state.MapState[string, bool]
	ttl  time.Duration
}

func (f *dedup) Open(ctx *Ctx) error {
	var err error
	f.seen, err = state.RegisterMap(ctx.State(), state.MapDescriptor[string, bool]{Name: "seen", TTL: f.ttl})
	return err
}

func (f *dedup) ProcessRow(ctx *Ctx, b *runtime.Batch, r int, out *Emitter) error {
	id := b.Cols[1].Str[r]
	if f.seen.Contains(id) {
		return nil
	}
	if err := f.seen.Put(id, true); err != nil {
		return err
	}
	return out.AppendRow(b, r)
}

func (f *dedup) OnTimer(*Ctx, int64, bool, *Emitter) error { return nil }

func TestDedupWithEventTimeTTL(t *testing.T) {
	schema := runtime.NewSchema(
		runtime.Field{Name: "user", Type: runtime.Varchar},
		runtime.Field{Name: "id", Type: runtime.Varchar},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
	)
	// Each event comes three times: at t, at t+250 (a duplicate within
	// the 2 s TTL) and at t+20000 (long after it, so it passes again).
	type row struct {
		user, id string
		ts       int64
	}
	var rows []row
	var want []string
	for i := range 300 {
		user, id, ts := fmt.Sprint("u", i%7), fmt.Sprint("e", i), int64(i)*100
		rows = append(rows, row{user, id, ts}, row{user, id, ts + 250}, row{user, id, ts + 20000})
		want = append(want,
			fmt.Sprintf("%s,%s,%s", user, id, runtime.FormatTimestamp(ts)),
			fmt.Sprintf("%s,%s,%s", user, id, runtime.FormatTimestamp(ts+20000)))
	}
	sort.Strings(want)
	slices.SortStableFunc(rows, func(a, b row) int { return int(a.ts - b.ts) })
	part := make([][]runtime.Value, len(rows))
	for i, r := range rows {
		part[i] = []runtime.Value{runtime.StringValue(r.user), runtime.StringValue(r.id), runtime.TimeValue(r.ts)}
	}
	j := job{in: schema, out: schema, parts: [][][]runtime.Value{part}, wm: runtime.WatermarkStrategy{TimeColumn: 2},
		keyCols: []int{0}, newFunc: func() Func { return &dedup{ttl: 2 * time.Second} },
		opts: state.Options{TTLTime: state.EventTime}, srcPar: 1, batchRows: 10}
	for _, par := range []int{1, 4} {
		got, err := j.run(t, par)
		if err != nil {
			t.Fatalf("p=%d: %v", par, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %d rows, want %d\n%v", par, len(got), len(want), diff(got, want))
		}
	}
}

// diff lists the first rows only one side has.
func diff(got, want []string) string {
	g, w := map[string]int{}, map[string]int{}
	for _, s := range got {
		g[s]++
	}
	for _, s := range want {
		w[s]++
	}
	var out []string
	for s, n := range g {
		if w[s] != n {
			out = append(out, fmt.Sprintf("%s: got %d want %d", s, n, w[s]))
		}
	}
	for s, n := range w {
		if g[s] == 0 {
			out = append(out, fmt.Sprintf("%s: got 0 want %d", s, n))
		}
	}
	sort.Strings(out)
	return fmt.Sprint(out[:min(len(out), 10)])
}

var summarySchema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "window_start", Type: runtime.Timestamp},
	runtime.Field{Name: "cnt", Type: runtime.BigInt},
	runtime.Field{Name: "total", Type: runtime.BigInt},
)

// windowSummary sums v per key and 1-second window of event time and emits
// each window's summary from an event-time timer when the watermark
// passes its end. A row with v < 0 cancels its window so far: it deletes
// the timer and the window's state.
type windowSummary struct {
	wins *state.MapState[int64, [2]int64] // window start → count, sum (gob codec)
}

func (f *windowSummary) Open(ctx *Ctx) error {
	var err error
	f.wins, err = state.RegisterMap(ctx.State(), state.MapDescriptor[int64, [2]int64]{Name: "windows"})
	return err
}

func (f *windowSummary) ProcessRow(ctx *Ctx, b *runtime.Batch, r int, out *Emitter) error {
	ts, v := b.Cols[2].I64[r], b.Cols[1].I64[r]
	start := ts - ts%1000
	end := start + 999
	if end <= ctx.CurrentWatermark() {
		ctx.Runtime().Metrics.LateRowsDropped.Inc()
		return fmt.Errorf("late row at %d, watermark %d", ts, ctx.CurrentWatermark())
	}
	if v < 0 {
		f.wins.Remove(start)
		ctx.DeleteTimer(end, true)
		return nil
	}
	acc, _ := f.wins.Get(start)
	acc[0]++
	acc[1] += v
	if err := f.wins.Put(start, acc); err != nil {
		return err
	}
	ctx.RegisterEventTimer(end)
	return nil
}

func (f *windowSummary) OnTimer(ctx *Ctx, ts int64, eventTime bool, out *Emitter) error {
	if !eventTime {
		return errors.New("unexpected processing-time timer")
	}
	if wm := ctx.CurrentWatermark(); wm < ts {
		return fmt.Errorf("timer %d fired at watermark %d", ts, wm)
	}
	start := ts - 999
	acc, ok := f.wins.Get(start)
	if !ok {
		return fmt.Errorf("timer %d without state", ts)
	}
	f.wins.Remove(start)
	key := ctx.Key()
	return out.AppendValues(key[0], runtime.TimeValue(start), runtime.IntValue(acc[0]), runtime.IntValue(acc[1]))
}

func TestEventTimeTimersEmitSummaries(t *testing.T) {
	// Keys are partition-local (key k in partition k%4), so each key's
	// rows, cancellations included, arrive in a fixed order.
	rng := rand.New(rand.NewPCG(7, 7))
	parts := make([][][]runtime.Value, 4)
	type win struct{ k, start int64 }
	acc := map[win][2]int64{}
	for p := range parts {
		ts := int64(0)
		for range 2500 {
			ts += rng.Int64N(30)
			k := int64(p + 4*rng.IntN(5))
			v := rng.Int64N(10)
			if rng.IntN(40) == 0 {
				v = -1
			}
			parts[p] = append(parts[p], []runtime.Value{runtime.IntValue(k), runtime.IntValue(v), runtime.TimeValue(ts)})
			w := win{k, ts - ts%1000}
			if v < 0 {
				delete(acc, w)
				continue
			}
			a := acc[w]
			acc[w] = [2]int64{a[0] + 1, a[1] + v}
		}
	}
	var want []string
	for w, a := range acc {
		want = append(want, fmt.Sprintf("%d,%s,%d,%d", w.k, runtime.FormatTimestamp(w.start), a[0], a[1]))
	}
	sort.Strings(want)
	in := runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt},
		runtime.Field{Name: "v", Type: runtime.BigInt},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
	)
	j := job{in: in, out: summarySchema, parts: parts, wm: runtime.WatermarkStrategy{TimeColumn: 2}, keyCols: []int{0},
		newFunc: func() Func { return &windowSummary{} }, batchRows: 64}
	for _, par := range []int{1, 4} {
		got, err := j.run(t, par)
		if err != nil {
			t.Fatalf("p=%d: %v", par, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %d rows, want %d\n%v", par, len(got), len(want), diff(got, want))
		}
	}
}

// procTimer registers, per key, a processing-time timer a little in the
// future (twice: one timer), and one more that it deletes; the timer
// emits the key once.
type procTimer struct {
	armed *state.ValueState[bool]
}

func (f *procTimer) Open(ctx *Ctx) error {
	var err error
	f.armed, err = state.RegisterValue(ctx.State(), state.Descriptor[bool]{Name: "armed"})
	return err
}

func (f *procTimer) ProcessRow(ctx *Ctx, b *runtime.Batch, r int, out *Emitter) error {
	if _, ok := f.armed.Value(); ok {
		return nil
	}
	now := ctx.CurrentProcessingTime()
	ctx.RegisterProcessingTimer(now + 20)
	ctx.RegisterProcessingTimer(now + 20)
	ctx.RegisterProcessingTimer(now + 30)
	ctx.DeleteTimer(now+30, false)
	if _, n := ctx.Timers(); n == 0 {
		return errors.New("no processing timer registered")
	}
	return f.armed.Update(true)
}

func (f *procTimer) OnTimer(ctx *Ctx, ts int64, eventTime bool, out *Emitter) error {
	if eventTime {
		return errors.New("unexpected event-time timer")
	}
	if now := ctx.CurrentProcessingTime(); now < ts {
		return fmt.Errorf("timer %d fired early at %d", ts, now)
	}
	if _, ok := f.armed.Value(); !ok {
		return errors.New("timer without the key's state")
	}
	f.armed.Clear()
	return out.AppendValues(ctx.Key()[0], runtime.IntValue(0))
}

func TestProcessingTimers(t *testing.T) {
	parts := kvParts(4, 500, 20, 3)
	keys := map[string]bool{}
	for _, p := range parts {
		for _, r := range p {
			keys[r[0].String()] = true
		}
	}
	var want []string
	for k := range keys {
		want = append(want, k+",0")
	}
	sort.Strings(want)
	j := job{in: kvSchema, out: countSchema, parts: parts, wm: runtime.NoWatermarks, keyCols: []int{0},
		newFunc: func() Func { return &procTimer{} },
		// Keep the job open until every key's timer has fired, and a
		// little longer so that a duplicate would show.
		hold: func(c *rttest.Collector) bool {
			return c.Len() < len(want)
		}}
	for _, par := range []int{1, 4} {
		got, err := j.run(t, par)
		if err != nil {
			t.Fatalf("p=%d: %v", par, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %v\nwant %v", par, got, want)
		}
	}
}

func TestStateLimitFailsJob(t *testing.T) {
	j := job{in: kvSchema, out: countSchema, parts: kvParts(2, 500, 50, 4), wm: runtime.NoWatermarks, keyCols: []int{0},
		newFunc: func() Func { return &runningCount{} }, opts: state.Options{MaxKeys: 5}}
	_, err := j.run(t, 2)
	var oe *runtime.OperatorError
	var le *state.LimitError
	if !errors.Is(err, state.ErrStateLimit) || !errors.As(err, &oe) || !errors.As(err, &le) {
		t.Fatalf("got %v", err)
	}
	if oe.Operator != "proc" || le.State != "count" || le.Max != 5 {
		t.Fatalf("got %v", err)
	}
	if !regexp.MustCompile(`row with key \(k\d+\)`).MatchString(err.Error()) {
		t.Fatalf("error does not name the key: %v", err)
	}
}

func TestBadKeyColumnFailsOpen(t *testing.T) {
	op := New(kvSchema, countSchema, []int{7}, func() Func { return &runningCount{} }, state.Options{})()
	if err := op.Open(&runtime.Context{}); err == nil {
		t.Fatal("key column out of range accepted")
	}
}

// ttlTimers writes a value with a 1 s event-time TTL for key "a" and
// registers timers that read it back: a timer sees state as of its own
// time. The last timer chains timers past every real watermark, which the
// final watermark fires.
type ttlTimers struct {
	v *state.ValueState[int64]
}

func (f *ttlTimers) Open(ctx *Ctx) error {
	var err error
	f.v, err = state.RegisterValue(ctx.State(), state.Descriptor[int64]{Name: "v", TTL: time.Second})
	return err
}

func (f *ttlTimers) ProcessRow(ctx *Ctx, b *runtime.Batch, r int, out *Emitter) error {
	if b.Cols[0].Str[r] != "a" {
		return nil
	}
	if err := f.v.Update(1); err != nil {
		return err
	}
	ctx.RegisterEventTimer(900)
	ctx.RegisterEventTimer(5000)
	return nil
}

func (f *ttlTimers) OnTimer(ctx *Ctx, ts int64, _ bool, out *Emitter) error {
	_, visible := f.v.Value()
	n := ts * 10
	if visible {
		n++
	}
	if ts >= 5000 && ts < 40000 {
		ctx.RegisterEventTimer(ts + 10000)
	}
	return out.AppendValues(ctx.Key()[0], runtime.IntValue(n))
}

func TestTimersSeeTTLStateAsOfTheirTime(t *testing.T) {
	rows := [][]runtime.Value{
		{runtime.StringValue("z"), runtime.IntValue(0), runtime.TimeValue(0)},     // watermark -1 after it
		{runtime.StringValue("a"), runtime.IntValue(0), runtime.TimeValue(100)},   // written at -1: expires at 999
		{runtime.StringValue("z"), runtime.IntValue(0), runtime.TimeValue(10000)}, // fires 900 and 5000
	}
	j := job{in: kvSchema, out: countSchema, parts: [][][]runtime.Value{rows}, wm: runtime.WatermarkStrategy{TimeColumn: 2},
		keyCols: []int{0}, newFunc: func() Func { return &ttlTimers{} }, opts: state.Options{TTLTime: state.EventTime},
		srcPar: 1, batchRows: 1}
	got, err := j.run(t, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a,150000", "a,250000", "a,350000", "a,450000", "a,50000", "a,9001"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestTimerService(t *testing.T) {
	var s timerService
	s.add(30, "b", 1)
	s.add(10, "b", 1)
	s.add(10, "a", 2)
	if s.add(10, "a", 2) {
		t.Fatal("registering twice made two timers")
	}
	s.add(20, "a", 2)
	s.remove(20, "a")
	s.remove(99, "none")
	var fired []string
	for {
		tm, ok := s.next(25)
		if !ok {
			break
		}
		fired = append(fired, fmt.Sprint(tm.ts, tm.key, tm.kg))
	}
	if want := []string{"10a2", "10b1"}; !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	// Deleted and re-registered: fires once.
	s.add(40, "c", 0)
	s.remove(40, "c")
	s.add(40, "c", 0)
	n := 0
	for {
		if _, ok := s.next(100); !ok {
			break
		}
		n++
	}
	if n != 2 || s.len() != 0 {
		t.Fatalf("fired %d timers (want 30b and 40c), %d left", n, s.len())
	}
	// Many deletions compact the heap.
	for i := range 1000 {
		s.add(int64(i), "k", 0)
	}
	for i := range 990 {
		s.remove(int64(i), "k")
	}
	if len(s.h) > 2*s.len()+64 {
		t.Fatalf("heap holds %d entries for %d timers", len(s.h), s.len())
	}
	if tm, ok := s.next(math.MaxInt64); !ok || tm.ts != 990 {
		t.Fatalf("next = %v, %v", tm, ok)
	}
}

func TestEmitterEndRowChecksColumns(t *testing.T) {
	e := Emitter{b: runtime.NewBatch(countSchema)}
	defer e.b.Release()
	e.Col(0).AppendString("x")
	if err := e.EndRow(); err == nil {
		t.Fatal("incomplete row accepted")
	}
	if err := e.AppendValues(runtime.IntValue(1)); err == nil {
		t.Fatal("wrong number of values accepted")
	}
}
