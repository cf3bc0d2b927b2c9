package nexmark_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fullSchema is every column, in the order of Nexmark's DDL.
func fullSchema() *runtime.Schema {
	var fs []runtime.Field
	for _, name := range nexmark.FieldNames() {
		fs = append(fs, field(name))
	}
	return runtime.NewSchema(fs...)
}

// field returns the column name with the type the connector fills it with.
func field(name string) runtime.Field {
	f := runtime.Field{Name: name, Nullable: strings.Contains(name, ".")}
	switch {
	case name == "event_type":
		f.Type = runtime.Int
	case strings.HasSuffix(strings.ToLower(name), "datetime") || strings.HasSuffix(name, "expires"):
		f.Type = runtime.Timestamp
	case slices.Contains([]string{"person.id", "auction.id", "auction.initialBid", "auction.reserve", "auction.seller",
		"auction.category", "bid.auction", "bid.bidder", "bid.price"}, name):
		f.Type = runtime.BigInt
	default:
		f.Type = runtime.Varchar
	}
	return f
}

func opts(kv ...string) map[string]string {
	m := map[string]string{"connector": "nexmark"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func newSource(t testing.TB, s *runtime.Schema, o map[string]string) (func() runtime.Source, error) {
	t.Helper()
	f, ok := connectors.Lookup("nexmark")
	if !ok {
		t.Fatal("nexmark is not registered")
	}
	newSrc, _, err := f.(connectors.Source).NewSource(connectors.Table{Name: "nexmark", Schema: s, Options: o, TimeColumn: -1})
	return newSrc, err
}

// run runs nexmark → collector with par subtasks and returns the rows.
func run(t *testing.T, s *runtime.Schema, o map[string]string, par int) []string {
	t.Helper()
	newSrc, err := newSource(t, s, o)
	if err != nil {
		t.Fatal(err)
	}
	c, sink := rttest.NewCollector(s)
	g := runtime.NewGraph("nexmark")
	src := g.AddSource("gen", s, par, newSrc, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("sink", s, par, 1, sink), runtime.Forward)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par}); err != nil {
		t.Fatal(err)
	}
	return c.Sorted()
}

// open returns subtask sub of par, opened.
func open(t *testing.T, s *runtime.Schema, o map[string]string, sub, par int) *nexmark.Source {
	t.Helper()
	newSrc, err := newSource(t, s, o)
	if err != nil {
		t.Fatal(err)
	}
	src := newSrc().(*nexmark.Source)
	if err := src.Open(rttest.NewContext("gen", sub, par)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// drain polls src until io.EOF, or max batches, and returns its rows.
func drain(t *testing.T, src *nexmark.Source, s *runtime.Schema, max int) [][]runtime.Value {
	t.Helper()
	var out [][]runtime.Value
	for range max {
		b, _, err := src.Poll(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			continue
		}
		if err := rttest.CheckBatch(b, s); err != nil {
			t.Fatal(err)
		}
		for i := range b.Len() {
			out = append(out, b.Values(i))
		}
	}
	return out
}

func TestEventsAreTheSameAtAnyParallelism(t *testing.T) {
	s := fullSchema()
	o := opts("events.num", "15000", "seed", "7")
	one := run(t, s, o, 1)
	if len(one) != 15000 {
		t.Fatalf("%d events, want 15000", len(one))
	}
	for _, par := range []int{2, 4} {
		if got := run(t, s, o, par); !slices.Equal(got, one) {
			t.Fatalf("parallelism %d: the events differ from parallelism 1's", par)
		}
	}
	// Another seed, other events.
	if other := run(t, s, opts("events.num", "15000", "seed", "8"), 1); slices.Equal(other, one) {
		t.Fatal("seeds 7 and 8 give the same events")
	}
}

func TestGeneratorEventMatchesTheSource(t *testing.T) {
	s := fullSchema()
	src := open(t, s, opts("events.num", "3000"), 0, 1)
	rows := drain(t, src, s, 10)
	g := nexmark.NewGenerator(nexmark.DefaultConfig())
	for n, r := range rows {
		e := g.Event(int64(n))
		if r[0].I != int64(e.Type) || r[26].I != e.Time {
			t.Fatalf("event %d: type %d time %d, Generator.Event: %+v", n, r[0].I, r[26].I, e)
		}
		switch e.Type {
		case nexmark.PersonEvent:
			if r[1].I != e.Person.ID || r[3].S != e.Person.EmailAddress || r[4].S != e.Person.CreditCard || !r[9].Null {
				t.Fatalf("event %d: %s, want %+v", n, rttest.Format(r), e.Person)
			}
		case nexmark.AuctionEvent:
			if r[9].I != e.Auction.ID || r[11].S != e.Auction.Description || r[15].I != e.Auction.Expires || !r[1].Null {
				t.Fatalf("event %d: %s, want %+v", n, rttest.Format(r), e.Auction)
			}
		default:
			if r[21].I != e.Bid.Price || r[23].S != e.Bid.URL || r[26].I != r[24].I || !r[1].Null {
				t.Fatalf("event %d: %s, want %+v", n, rttest.Format(r), e.Bid)
			}
		}
	}
}

func TestProportionsFollowTheOptions(t *testing.T) {
	s := runtime.NewSchema(field("event_type"))
	for _, c := range []struct {
		o    map[string]string
		want [3]int
	}{
		{opts("events.num", "5000"), [3]int{100, 300, 4600}},
		{opts("events.num", "1000", "person.proportion", "2", "auction.proportion", "2", "bid.proportion", "6"), [3]int{200, 200, 600}},
		{opts("events.num", "1000", "bid.proportion", "0", "out-of-order.group-size", "10"), [3]int{250, 750, 0}},
	} {
		var got [3]int
		for _, r := range run(t, s, c.o, 2) {
			got[r[0]-'0']++
		}
		if got != c.want {
			t.Errorf("%v: people, auctions, bids %v, want %v", c.o, got, c.want)
		}
	}
}

func TestEventTimeIncreasesPerSubtask(t *testing.T) {
	s := runtime.NewSchema(field("dateTime"), field("bid.dateTime"), field("person.dateTime"), field("auction.dateTime"))
	const par = 3
	base := time.Date(2015, 7, 15, 0, 0, 0, 0, time.UTC).UnixMilli()
	var all int
	for sub := range par {
		src := open(t, s, opts("events.num", "20000", "first-event.rate", "1000"), sub, par)
		prev := int64(-1)
		for _, r := range drain(t, src, s, 100) {
			ts := r[0].I
			if ts < prev {
				t.Fatalf("subtask %d: time %d after %d", sub, ts, prev)
			}
			prev = ts
			n := 0
			for _, own := range r[1:] {
				if !own.Null {
					n++
					if own.I != ts {
						t.Fatalf("subtask %d: dateTime %d but the event's own %d", sub, ts, own.I)
					}
				}
			}
			if n != 1 {
				t.Fatalf("subtask %d: %d of the ROWs are set", sub, n)
			}
			all++
		}
		// 1000 events per second from the base time: event 19999 at 19.999 s.
		if last := base + 19999; prev > last || prev < base {
			t.Fatalf("subtask %d: last time %d outside [%d, %d]", sub, prev, base, last)
		}
	}
	if all != 20000 {
		t.Fatalf("%d events, want 20000", all)
	}
}

func TestOutOfOrderGroupsStayWithinTheirGroup(t *testing.T) {
	s := runtime.NewSchema(field("dateTime"))
	src := open(t, s, opts("events.num", "5000", "first-event.rate", "1000", "out-of-order.group-size", "50"), 0, 1)
	rows := drain(t, src, s, 10)
	base := time.Date(2015, 7, 15, 0, 0, 0, 0, time.UTC).UnixMilli()
	disorder := false
	for n, r := range rows {
		group := int64(n) / 50 * 50
		if ts := r[0].I - base; ts < group || ts >= group+50 {
			t.Fatalf("event %d at %d ms, outside its group's [%d, %d)", n, ts, group, group+50)
		}
		disorder = disorder || n > 0 && r[0].I < rows[n-1][0].I
	}
	if !disorder {
		t.Fatal("no event out of order")
	}
}

func TestModelReferencesPeopleAndAuctionsThatExist(t *testing.T) {
	g := nexmark.NewGenerator(nexmark.DefaultConfig())
	var lastPerson, lastAuction int64 = 999, 999
	hotAuction, bids, extra := 0, 0, 0
	for n := range int64(50000) {
		e := g.Event(n)
		switch e.Type {
		case nexmark.PersonEvent:
			if e.Person.ID != lastPerson+1 {
				t.Fatalf("event %d: person %d after %d", n, e.Person.ID, lastPerson)
			}
			lastPerson = e.Person.ID
			if e.Person.State == "" || !strings.Contains(e.Person.EmailAddress, "@") || len(e.Person.CreditCard) != 19 {
				t.Fatalf("event %d: %+v", n, e.Person)
			}
		case nexmark.AuctionEvent:
			a := e.Auction
			if a.ID != lastAuction+1 || a.Seller < 1000 || a.Seller > lastPerson+10 || a.Expires <= a.DateTime ||
				a.Reserve < a.InitialBid || a.Category < 10 || a.Category > 14 {
				t.Fatalf("event %d: %+v (last person %d, last auction %d)", n, a, lastPerson, lastAuction)
			}
			lastAuction = a.ID
		default:
			b := e.Bid
			if b.Auction < 1000 || b.Auction > lastAuction+10 || b.Bidder < 1000 || b.Bidder > lastPerson+10 ||
				b.Price < 100 || b.Price > 100_000_000 || b.Channel == "" || !strings.HasPrefix(b.URL, "https://www.nexmark.com/") {
				t.Fatalf("event %d: %+v (last person %d, last auction %d)", n, b, lastPerson, lastAuction)
			}
			bids++
			if (b.Auction-1000)%100 == 0 {
				hotAuction++
			}
			extra += len(b.Extra)
		}
	}
	// hot-ratio.auctions 2: half of the bids are on a hot auction.
	if f := float64(hotAuction) / float64(bids); f < 0.45 || f > 0.6 {
		t.Fatalf("%.2f of the bids on hot auctions, want about 0.5", f)
	}
	// A bid is 32 bytes and its extra: 100 on average.
	if avg := float64(extra)/float64(bids) + 32; avg < 95 || avg > 105 {
		t.Fatalf("bids average %.1f bytes, want about 100", avg)
	}
}

func TestAnySubsetOfColumnsInAnyOrder(t *testing.T) {
	full := fullSchema()
	all := drain(t, open(t, full, opts("events.num", "3000"), 0, 1), full, 10)
	s := runtime.NewSchema(field("bid.price"), field("event_type"), field("PERSON.EMAILADDRESS"))
	some := drain(t, open(t, s, opts("events.num", "3000"), 0, 1), s, 10)
	for i := range all {
		if some[i][0] != all[i][21] || some[i][1] != all[i][0] || some[i][2] != all[i][3] {
			t.Fatalf("event %d: %s, want the full table's %s", i, rttest.Format(some[i]), rttest.Format(all[i]))
		}
	}
}

func TestOptionErrors(t *testing.T) {
	for _, c := range []struct {
		s    *runtime.Schema
		o    map[string]string
		want string
	}{
		{fullSchema(), opts("first-event.rat", "5"), `connector "nexmark" has no option "first-event.rat" (did you mean "first-event.rate"?)`},
		{fullSchema(), opts("events.num", "-1"), `option "events.num": "-1" must be at least 0`},
		{fullSchema(), opts("rate.shape", "sin"), `"sin" is not one of square, sine (did you mean "sine"?)`},
		{fullSchema(), opts("base-time", "yesterday"), `option "base-time": "yesterday" is neither 'now'`},
		{fullSchema(), opts("out-of-order.group-size", "1906"), `1906 is a multiple of 953`},
		{fullSchema(), opts("base-time", "9223372036854775807"), `option "base-time": "9223372036854775807" is outside the years 0001–9999`},
		{fullSchema(), opts("base-time", "-62135596800001"), `"-62135596800001" is outside the years 0001–9999`},
		{fullSchema(), opts("rate.limited", "true", "max-emit-speed", "true"), `disagree`},
		{runtime.NewSchema(field("bid.prices")), opts(), `the nexmark connector has no column "bid.prices" (did you mean "bid.price"?); its columns: event_type, person.id,`},
		{runtime.NewSchema(runtime.Field{Name: "bid.price", Type: runtime.Varchar, Nullable: true}), opts(), `column bid.price is VARCHAR; the nexmark connector fills it with BIGINT values`},
		{runtime.NewSchema(runtime.Field{Name: "bid.price", Type: runtime.BigInt}), opts(), `column bid.price is NOT NULL, but it is NULL in the events that are not bids`},
		{runtime.NewSchema(), opts(), `needs at least one column`},
		{runtime.NewSchema(field("bid.price"), runtime.Field{Name: "BID.PRICE", Type: runtime.BigInt, Nullable: true}), opts(), `column BID.PRICE is there twice`},
	} {
		_, err := newSource(t, c.s, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to contain %q", c.o, err, c.want)
		}
	}
}

func TestPositionRestoreGoesOnWithTheSameEvents(t *testing.T) {
	s := fullSchema()
	o := opts("events.num", "20000")
	src := open(t, s, o, 1, 2)
	drain(t, src, s, 2)
	pos, err := src.SnapshotPosition()
	if err != nil {
		t.Fatal(err)
	}
	tail := drain(t, src, s, 100)
	newSrc, _ := newSource(t, s, o)
	again := newSrc().(*nexmark.Source)
	if err := again.RestorePositions([][]byte{[]byte(`{"subtask":0,"parallelism":2,"next":0}`), pos}); err != nil {
		t.Fatal(err)
	}
	if err := again.Open(rttest.NewContext("gen", 1, 2)); err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got := drain(t, again, s, 100)
	if len(got) != len(tail) || len(tail) == 0 || rttest.Format(got[0]) != rttest.Format(tail[0]) ||
		rttest.Format(got[len(got)-1]) != rttest.Format(tail[len(tail)-1]) {
		t.Fatalf("restored: %d events, want the %d after the snapshot", len(got), len(tail))
	}
	newSrc, _ = newSource(t, s, o)
	three := newSrc().(*nexmark.Source)
	_ = three.RestorePositions([][]byte{pos})
	if err := three.Open(rttest.NewContext("gen", 0, 3)); err == nil || !strings.Contains(err.Error(), "taken with 2 nexmark subtasks") {
		t.Fatalf("restored with 3 subtasks: %v", err)
	}
}

func TestRateLimitedFollowsTheWallClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := runtime.NewSchema(field("dateTime"))
		base := time.Date(2015, 7, 15, 0, 0, 0, 0, time.UTC).UnixMilli()
		src := open(t, s, opts("events.num", "300", "first-event.rate", "1000", "rate.limited", "true"), 0, 1)
		start := time.Now()
		n := 0
		for {
			b, _, err := src.Poll(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				continue
			}
			elapsed := time.Since(start).Milliseconds()
			for i := range b.Len() {
				if at := b.Cols[0].I64[b.Row(i)] - base; at > elapsed {
					t.Fatalf("event %d of time +%d ms emitted at +%d ms", n, at, elapsed)
				}
				n++
			}
		}
		// Event 299 is at 299 ms.
		if d := time.Since(start); n != 300 || d < 299*time.Millisecond || d > 400*time.Millisecond {
			t.Fatalf("%d events in %v, want 300 in about 300ms", n, d)
		}
	})
}

func TestRateShapeAlternatesRates(t *testing.T) {
	c := nexmark.DefaultConfig()
	c.FirstRate, c.NextRate, c.RatePeriodSec = 1000, 100, 10
	g := nexmark.NewGenerator(c)
	// 5 s at 1000/s, then 5 s at 100/s: 5500 events per 10 s.
	if d := g.TimeOf(5000) - g.TimeOf(4000); d != 1000 {
		t.Fatalf("1000 events at the first rate take %d ms, want 1000", d)
	}
	if d := g.TimeOf(5100) - g.TimeOf(5000); d != 1000 {
		t.Fatalf("100 events at the next rate take %d ms, want 1000", d)
	}
	if d := g.TimeOf(5500) - g.TimeOf(0); d != 10000 {
		t.Fatalf("a period takes %d ms, want 10000", d)
	}
	c.RateShape = "sine"
	g = nexmark.NewGenerator(c)
	for n := int64(1); n < 20000; n++ {
		if g.TimeOf(n) < g.TimeOf(n-1) {
			t.Fatalf("sine: time goes back at event %d", n)
		}
	}
}

// BenchmarkPoll measures one subtask generating every column, in events/s:
//
//	go test -run '^$' -bench Poll ./connectors/nexmark
func BenchmarkPoll(b *testing.B) {
	for _, bc := range []struct {
		name   string
		schema *runtime.Schema
	}{
		{"all-columns", fullSchema()},
		{"bid-columns", runtime.NewSchema(field("event_type"), field("bid.auction"), field("bid.price"), field("dateTime"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			newSrc, err := newSource(b, bc.schema, opts())
			if err != nil {
				b.Fatal(err)
			}
			src := newSrc()
			if err := src.Open(rttest.NewContext("gen", 0, 1)); err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			ctx := context.Background()
			rows := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				batch, _, err := src.Poll(ctx)
				if err != nil || batch == nil {
					b.Fatal("unbounded source ended")
				}
				rows += batch.Len()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "events/s")
			// Per CPU-second of the process: the figure per core, even on a
			// busy machine.
			if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
				b.ReportMetric(float64(rows)/cpu, "events/cpu-s")
			}
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wmSink records each watermark it receives (in ms of event time from the
// base time) with when it came (in ms of wall clock from the start).
type wmSink struct {
	runtime.Base
	start, base int64
	mu          *sync.Mutex
	at, wms     *[]int64
}

func (s wmSink) ProcessBatch(int, *runtime.Batch, runtime.Output) error { return nil }

func (s wmSink) ProcessWatermark(wm int64, _ runtime.Output) error {
	if wm == runtime.MaxWatermark {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.at = append(*s.at, time.Now().UnixMilli()-s.start)
	*s.wms = append(*s.wms, wm-s.base)
	return nil
}

func TestRateLimitedSubtasksAdvanceTheWatermarkTogether(t *testing.T) {
	// 2000 events/s for 1.2 s over 2 subtasks: dealt in blocks of
	// runtime.DefaultBatchRows events (about 1 s), subtask 1 would wait
	// about 1 s for its first event, and subtask 0 as long before its next
	// block, each holding the watermark back that long. The watermark must
	// follow the wall clock closely.
	s := runtime.NewSchema(field("dateTime"))
	o := opts("events.num", "2400", "first-event.rate", "2000", "rate.limited", "true")
	newSrc, err := newSource(t, s, o)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2015, 7, 15, 0, 0, 0, 0, time.UTC).UnixMilli()
	var mu sync.Mutex
	var at, wms []int64
	start := time.Now().UnixMilli()
	g := runtime.NewGraph("nexmark")
	src := g.AddSource("gen", s, 2, newSrc, runtime.WatermarkStrategy{TimeColumn: 0})
	sink := g.AddOperator("sink", s, 1, 1, func() runtime.Operator {
		return wmSink{start: start, base: base, mu: &mu, at: &at, wms: &wms}
	})
	g.Connect(src, sink, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	if len(wms) < 10 || wms[len(wms)-1] < 1100 {
		t.Fatalf("watermarks %v, want many, up to about 1199 ms", wms)
	}
	// How far behind the wall clock the watermark was at worst: just before
	// each new one came (and before the first).
	behind := at[0]
	for i := 1; i < len(at); i++ {
		behind = max(behind, at[i]-wms[i-1])
	}
	if behind > 250 {
		t.Fatalf("the watermark fell %d ms behind the wall clock (watermarks %v at %v ms), want at most 250", behind, wms, at)
	}
}

func TestRestoreRefusesPositionsDealtInOtherBlocks(t *testing.T) {
	s := fullSchema()
	paced := opts("events.num", "20000", "first-event.rate", "100", "rate.limited", "true")
	src := open(t, s, paced, 0, 1)
	pos, err := src.SnapshotPosition()
	if err != nil {
		t.Fatal(err)
	}
	newSrc, _ := newSource(t, s, opts("events.num", "20000"))
	fast := newSrc().(*nexmark.Source)
	if err := fast.RestorePositions([][]byte{pos}); err != nil {
		t.Fatal(err)
	}
	if err := fast.Open(rttest.NewContext("gen", 0, 1)); err == nil || !strings.Contains(err.Error(), "blocks of 1 and the job now deals blocks of") {
		t.Fatalf("a paced position restored into a fast source: %v", err)
	}
}

func TestBaseTimeAtTheEdgesOfTheYearsIsAccepted(t *testing.T) {
	s := runtime.NewSchema(field("dateTime"))
	for _, bt := range []string{"0001-01-01T00:00:00Z", "-62135596800000", "9999-12-31T23:59:59.999Z", "253402300799999"} {
		rows := drain(t, open(t, s, opts("events.num", "1", "base-time", bt), 0, 1), s, 10)
		if len(rows) != 1 {
			t.Fatalf("base-time %s: %d events, want 1", bt, len(rows))
		}
	}
}

func TestAuctionsInFlightIsBoundedSoExpiriesStayAhead(t *testing.T) {
	// A huge auction.num-in-flight overflowed the expiry horizon: auctions
	// expired a millisecond after they started.
	if _, err := newSource(t, fullSchema(), opts("auction.num-in-flight", "9223372036854775807")); err == nil ||
		!strings.Contains(err.Error(), `option "auction.num-in-flight": "9223372036854775807" must be between 1 and 1000000`) {
		t.Fatalf("auction.num-in-flight = max int64: %v", err)
	}
	// At the largest allowed, at 1 event/s, an auction lasts until 1e6
	// auctions (5e7/3 events, 193 days) more have started, on average.
	s := runtime.NewSchema(field("auction.dateTime"), field("auction.expires"))
	rows := drain(t, open(t, s, opts("events.num", "5000", "first-event.rate", "1", "auction.num-in-flight", "1000000"), 0, 1), s, 10)
	var sum, n int64
	for _, r := range rows {
		if r[0].Null {
			continue
		}
		if r[1].I <= r[0].I {
			t.Fatalf("an auction of %d expires at %d", r[0].I, r[1].I)
		}
		sum += r[1].I - r[0].I
		n++
	}
	if days := int64(100 * 24 * 3600 * 1000); n == 0 || sum/n < days {
		t.Fatalf("%d auctions last %d ms on average, want about 193 days", n, sum/max(n, 1))
	}
}

func TestRateLimitedRestoreGoesOnAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := runtime.NewSchema(field("dateTime"))
		o := opts("events.num", "300", "first-event.rate", "1000", "rate.limited", "true")
		pollUntil := func(src *nexmark.Source, n int) int {
			got := 0
			for got < n {
				b, _, err := src.Poll(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if b != nil {
					got += b.Len()
				}
			}
			return got
		}
		src := open(t, s, o, 0, 1)
		done := pollUntil(src, 150) // 150 ms of events
		pos, err := src.SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		newSrc, _ := newSource(t, s, o)
		again := newSrc().(*nexmark.Source)
		if err := again.RestorePositions([][]byte{pos}); err != nil {
			t.Fatal(err)
		}
		if err := again.Open(rttest.NewContext("gen", 0, 1)); err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		start := time.Now()
		rest := pollUntil(again, 1000)
		// The other 150 ms of events take about 150 ms, not 300 (as if the
		// restored source started again at the base time).
		if d := time.Since(start); done+rest != 300 || d > 200*time.Millisecond || d < 100*time.Millisecond {
			t.Fatalf("restored after %d events: %d more in %v, want %d in about 150ms", done, rest, d, 300-done)
		}
	})
}
