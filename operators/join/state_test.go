package join

import (
	"math"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// openOp makes and opens one join subtask outside a job, with its own
// metrics.
func openOp(t tb, spec Spec) (*intervalJoin, *runtime.Context) {
	t.Helper()
	newOp, _, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := rttest.NewContext("join", 0, 1)
	op := newOp().(*intervalJoin)
	if err := op.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { op.Close() })
	return op, ctx
}

// checkState verifies the internal invariants of op's state after a
// watermark: every buffered row can still meet a future row, lists and
// counts agree, the stores hold few dead rows, and the state-keys metric is
// right.
func checkState(t tb, op *intervalJoin, ctx *runtime.Context) {
	t.Helper()
	keysWithRows := 0
	for id := range op.keys.entries {
		e := &op.keys.entries[id]
		if e.count[0] > 0 || e.count[1] > 0 {
			keysWithRows++
		}
	}
	slots := 0
	for _, sl := range op.keys.slots {
		if sl.id != nilID {
			slots++
		}
	}
	if keysWithRows != op.keys.live || slots != op.keys.live {
		t.Fatalf("key table: %d keys with rows, live %d, %d slots used", keysWithRows, op.keys.live, slots)
	}
	if got := ctx.Metrics.StateKeys(); got != int64(op.keys.live) {
		t.Fatalf("state keys metric %d, want %d", got, op.keys.live)
	}
	for s := range op.sides {
		sd := &op.sides[s]
		st := &sd.rows
		linked := 0
		for id := range op.keys.entries {
			e := &op.keys.entries[id]
			prev := int32(nilID)
			n := 0
			for j := e.head[s]; j != nilID; j = st.next[j] {
				if st.key[j] != int32(id) || st.prev[j] != prev {
					t.Fatalf("side %d: row %d is linked under key %d but says key %d, prev %d (want %d)", s, j, id, st.key[j], st.prev[j], prev)
				}
				if op.wm != runtime.MinWatermark && satAdd(st.ts[j], sd.expireAfter) <= op.wm {
					t.Fatalf("side %d: row at %d is still buffered at watermark %d", s, st.ts[j], op.wm)
				}
				prev = j
				n++
			}
			if n != int(e.count[s]) || e.tail[s] != prev {
				t.Fatalf("side %d key %d: %d rows linked, count %d", s, id, n, e.count[s])
			}
			linked += n
		}
		if linked != st.live || st.exp.len() != st.live {
			t.Fatalf("side %d: %d rows linked, %d live, %d in the expiry queue", s, linked, st.live, st.exp.len())
		}
		if dead := st.dead(); dead >= max(st.live, op.compactRows) {
			t.Fatalf("side %d: %d dead rows kept beside %d live ones", s, dead, st.live)
		}
		for c := range st.cols {
			if st.cols[c].Len() != len(st.ts) {
				t.Fatalf("side %d column %d has %d rows, store %d", s, c, st.cols[c].Len(), len(st.ts))
			}
		}
	}
}

func TestStateFreedByWatermark(t *testing.T) {
	// Left row i is at time i, right row i at time i+3, key i%10. With
	// bounds [-50, 100] a left row is buffered while wm < ts+100 and a right
	// row while wm < ts+50.
	const (
		n     = 200_000
		batch = 1000
		keys  = 10
	)
	spec := kvSpec(-50, 100)
	op, ctx := openOp(t, spec)
	out := &rttest.Discard{}
	lb, rb := runtime.NewBatch(leftSchema), runtime.NewBatch(rightSchema)
	defer lb.Release()
	defer rb.Release()
	maxLive := [2]int{}
	for start := 0; start < n; start += batch {
		lb.Reset()
		rb.Reset()
		for i := start; i < start+batch; i++ {
			lb.AppendValues(runtime.IntValue(int64(i%keys)), runtime.TimeValue(int64(i)), runtime.StringValue("l"))
			rb.AppendValues(runtime.Value{Type: runtime.Int, I: int64(i % keys)}, runtime.IntValue(int64(i+3)), runtime.StringValue("r"), runtime.FloatValue(1))
		}
		if err := op.ProcessBatch(0, lb, out); err != nil {
			t.Fatal(err)
		}
		if err := op.ProcessBatch(1, rb, out); err != nil {
			t.Fatal(err)
		}
		fed := int64(start + batch)
		wm := fed - 20 // every later row is at fed or after
		if err := op.ProcessWatermark(wm, out); err != nil {
			t.Fatal(err)
		}
		checkState(t, op, ctx)
		// Left rows 0..fed-1 alive: ts+100 > wm; right: ts+3+50 > wm.
		wantL := fed - min(max(wm-100+1, 0), fed)
		wantR := fed - min(max(wm-53+1, 0), fed)
		l, r := op.bufferedRows()
		if int64(l) != wantL || int64(r) != wantR {
			t.Fatalf("at watermark %d: %d left and %d right rows buffered, want %d and %d", wm, l, r, wantL, wantR)
		}
		if got := ctx.Metrics.StateKeys(); got != keys {
			t.Fatalf("state keys %d, want %d", got, keys)
		}
		for s := range maxLive {
			maxLive[s] = max(maxLive[s], len(op.sides[s].rows.ts))
		}
	}
	// The stores never grew past a small multiple of the rows in the bound.
	for s, m := range maxLive {
		if m > 2*(batch+200)+minCompactRows {
			t.Fatalf("side %d: store grew to %d rows", s, m)
		}
	}
	// Right row j meets left row i when j ≡ i (mod 10) and
	// -50 <= j+3-i <= 100, i.e. j = i-50+10m for m = 0..14.
	want := 0
	for i := 0; i < n; i++ {
		for m := 0; m <= 14; m++ {
			if j := i - 50 + 10*m; j >= 0 && j < n {
				want++
			}
		}
	}
	if out.Rows != want {
		t.Fatalf("%d rows joined, want %d", out.Rows, want)
	}
	if err := op.ProcessWatermark(runtime.MaxWatermark, out); err != nil {
		t.Fatal(err)
	}
	checkState(t, op, ctx)
	if l, r := op.bufferedRows(); l != 0 || r != 0 || op.keys.live != 0 || len(op.sides[0].rows.ts) != 0 {
		t.Fatalf("after the final watermark: %d left, %d right rows, %d keys", l, r, op.keys.live)
	}
	if late := ctx.Metrics.LateRowsDropped.Get(); late != 0 {
		t.Fatalf("%d late rows", late)
	}
}

func TestManyKeysComeAndGo(t *testing.T) {
	// Every key lives for one batch: the key table reuses and then compacts
	// its entries, and output batches are split at DefaultBatchRows.
	spec := kvSpec(0, 0)
	op, ctx := openOp(t, spec)
	out := &rttest.Collector{}
	lb, rb := runtime.NewBatch(leftSchema), runtime.NewBatch(rightSchema)
	defer lb.Release()
	defer rb.Release()
	total := 0
	for round := 0; round < 6; round++ {
		lb.Reset()
		rb.Reset()
		size := 5000
		if round%2 == 1 {
			size = 10 // few keys, so the free entries outnumber the live ones
		}
		ts := int64(round * 10)
		for i := 0; i < size; i++ {
			k := round*100_000 + i
			lb.AppendValues(runtime.IntValue(int64(k)), runtime.TimeValue(ts), runtime.StringValue("l"))
			rb.AppendValues(runtime.Value{Type: runtime.Int, I: int64(k)}, runtime.IntValue(ts), runtime.StringValue("r"), runtime.FloatValue(0))
		}
		if err := op.ProcessBatch(0, lb, out); err != nil {
			t.Fatal(err)
		}
		if err := op.ProcessBatch(1, rb, out); err != nil {
			t.Fatal(err)
		}
		total += size
		if out.Len() != total {
			t.Fatalf("round %d: %d rows out, want %d", round, out.Len(), total)
		}
		if err := op.ProcessWatermark(ts, out); err != nil {
			t.Fatal(err)
		}
		checkState(t, op, ctx)
		if op.keys.live != 0 {
			t.Fatalf("round %d: %d keys left", round, op.keys.live)
		}
	}
	if len(op.keys.entries) > 2*minCompactKeys {
		t.Fatalf("key table kept %d entries", len(op.keys.entries))
	}
}

func TestKeyTableCollisions(t *testing.T) {
	kt := newKeyTable([]runtime.Type{runtime.Varchar, runtime.BigInt})
	s := runtime.NewSchema(runtime.Field{Name: "s", Type: runtime.Varchar}, runtime.Field{Name: "k", Type: runtime.BigInt})
	b := rttest.NewBatch(s, [][]runtime.Value{
		{runtime.StringValue("a"), runtime.IntValue(1)},
		{runtime.StringValue("a"), runtime.IntValue(2)},
		{runtime.StringValue("b"), runtime.IntValue(1)},
		{runtime.StringValue("c"), runtime.IntValue(3)},
	}...)
	defer b.Release()
	cols := []int{0, 1}
	const h = 42 // every key in one chain
	ids := make([]int32, 4)
	for r := range 3 {
		if kt.find(h, b, cols, r) != nilID {
			t.Fatalf("row %d found before insertion", r)
		}
		ids[r] = kt.insert(h, b, cols, r)
	}
	ids[3] = kt.insert(7, b, cols, 3)
	for r, id := range ids {
		hash := uint64(h)
		if r == 3 {
			hash = 7
		}
		if got := kt.find(hash, b, cols, r); got != id {
			t.Fatalf("row %d: found key %d, want %d", r, got, id)
		}
	}
	if kt.find(7, b, cols, 0) != nilID {
		t.Fatal("a key was found under another key's hash")
	}
	kt.remove(ids[1]) // middle of the chain
	if kt.find(h, b, cols, 1) != nilID || kt.find(h, b, cols, 0) != ids[0] || kt.find(h, b, cols, 2) != ids[2] {
		t.Fatal("wrong chain after removing its middle")
	}
	kt.remove(ids[2]) // head of the chain (inserted last)
	if kt.find(h, b, cols, 2) != nilID || kt.find(h, b, cols, 0) != ids[0] {
		t.Fatal("wrong chain after removing its head")
	}
	again := kt.insert(h, b, cols, 1)
	if again != ids[2] && again != ids[1] {
		t.Fatalf("a free entry was not reused: got id %d", again)
	}
	if kt.vals[0].Str[again] != "a" || kt.vals[1].I64[again] != 2 {
		t.Fatalf("reused entry holds %q %d", kt.vals[0].Str[again], kt.vals[1].I64[again])
	}
	remap := kt.compact(nil)
	if kt.live != 3 || len(kt.entries) != 3 || len(kt.free) != 0 {
		t.Fatalf("after compaction: %d live, %d entries, %d free", kt.live, len(kt.entries), len(kt.free))
	}
	for r, old := range map[int]int32{0: ids[0], 1: again, 3: ids[3]} {
		hash := uint64(h)
		if r == 3 {
			hash = 7
		}
		if got := kt.find(hash, b, cols, r); got != remap[old] || got == nilID {
			t.Fatalf("row %d: found %d after compaction, want %d", r, got, remap[old])
		}
	}
}

func TestExpiryHeapOrder(t *testing.T) {
	var h expiryHeap
	in := []int64{5, 3, 9, 1, 1, 7, 2, 8, 6, 4, 0, 10}
	for i, at := range in {
		h.push(expiry{at: at, row: int32(i)})
	}
	prev := int64(math.MinInt64)
	for range in {
		e := h.pop()
		if e.at < prev || in[e.row] != e.at {
			t.Fatalf("popped %v after %d", e, prev)
		}
		prev = e.at
	}
	if len(h) != 0 {
		t.Fatalf("%d left", len(h))
	}
}

func TestTimeArithmeticDoesNotOverflow(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	for _, c := range []struct{ a, b, want int64 }{
		{1, 2, 3}, {maxI, 1, maxI}, {maxI - 1, 1, maxI}, {minI, -1, minI}, {minI, 0, minI}, {-5, -6, -11}, {maxI, minI, -1},
	} {
		if got := satAdd(c.a, c.b); got != c.want {
			t.Fatalf("satAdd(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, c := range []struct {
		lt, rt, lower, upper int64
		want                 bool
	}{
		{0, 5, 5, 5, true}, {0, 5, 6, 9, false}, {0, 5, -9, 4, false},
		{minI, maxI, minI + 1, maxI, false}, // difference beyond int64
		{maxI, minI, minI + 1, maxI, false},
		{maxI, maxI, 0, 0, true}, {-1, maxI, 0, maxI, false}, {0, maxI, 0, maxI, true},
	} {
		if got := within(c.lt, c.rt, c.lower, c.upper); got != c.want {
			t.Fatalf("within(%d, %d, %d, %d) = %v", c.lt, c.rt, c.lower, c.upper, got)
		}
	}
	// Rows near the ends of time are stored, matched and freed.
	op, ctx := openOp(t, kvSpec(-10, 10))
	out := &rttest.Collector{}
	lb := rttest.NewBatch(leftSchema, lrow(1, maxI-1, "end"), lrow(2, minI+1, "start"))
	rb := rttest.NewBatch(rightSchema, rrow(1, maxI, "end"), rrow(2, minI, "start"))
	defer lb.Release()
	defer rb.Release()
	if err := op.ProcessBatch(0, lb, out); err != nil {
		t.Fatal(err)
	}
	if err := op.ProcessBatch(1, rb, out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 2 {
		t.Fatalf("got %v", out.Strings())
	}
	if err := op.ProcessWatermark(maxI-100, out); err != nil {
		t.Fatal(err)
	}
	if l, r := op.bufferedRows(); l != 1 || r != 1 {
		t.Fatalf("at watermark max-100: %d left and %d right rows, want the two at the end of time", l, r)
	}
	if err := op.ProcessWatermark(runtime.MaxWatermark, out); err != nil {
		t.Fatal(err)
	}
	checkState(t, op, ctx)
	if l, r := op.bufferedRows(); l != 0 || r != 0 {
		t.Fatalf("after the final watermark: %d left and %d right rows", l, r)
	}
}

func TestBadInputIsAnError(t *testing.T) {
	op, _ := openOp(t, kvSpec(0, 1))
	b := rttest.NewBatch(rightSchema, rrow(1, 1, "x"))
	defer b.Release()
	if err := op.ProcessBatch(2, b, &rttest.Discard{}); err == nil {
		t.Fatal("rows on input 2 were accepted")
	}
	if err := op.ProcessBatch(0, b, &rttest.Discard{}); err == nil {
		t.Fatal("a batch of the wrong width was accepted")
	}
}
