package join

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestJoinResults(t *testing.T) {
	type tc struct {
		name         string
		lower, upper int64
		left, right  [][]runtime.Value
		want         [][2]int // (left index, right index) pairs
	}
	probeRight := [][]runtime.Value{
		rrow(1, 979, "r979"), rrow(1, 980, "r980"), rrow(1, 990, "r990"), rrow(1, 995, "r995"),
		rrow(1, 1000, "r1000"), rrow(1, 1005, "r1005"), rrow(1, 1010, "r1010"), rrow(1, 1011, "r1011"),
		rrow(1, 1020, "r1020"), rrow(1, 1021, "r1021"),
	}
	one := [][]runtime.Value{lrow(1, 1000, "l1000")}
	cases := []tc{
		{
			name: "both bounds inclusive", lower: -5, upper: 10,
			left: one, right: probeRight,
			want: [][2]int{{0, 3}, {0, 4}, {0, 5}, {0, 6}},
		},
		{
			name: "negative lower and upper", lower: -20, upper: -10,
			left: one, right: probeRight,
			want: [][2]int{{0, 1}, {0, 2}},
		},
		{
			name: "positive lower and upper", lower: 10, upper: 20,
			left: one, right: probeRight,
			want: [][2]int{{0, 6}, {0, 7}, {0, 8}},
		},
		{
			name: "equal times only", lower: 0, upper: 0,
			left: one, right: probeRight,
			want: [][2]int{{0, 4}},
		},
		{
			name: "NULL keys and NULL times never match", lower: -100, upper: 100,
			left: [][]runtime.Value{lrow(nil, 1000, "lnull"), lrow(1, 1000, "l1"), lrow(2, 1001, "l2")},
			right: [][]runtime.Value{
				rrow(nil, 1000, "rnull"), rrow(1, 1000, "r1"),
				{runtime.Value{Type: runtime.Int, I: 2}, runtime.NullValue(runtime.BigInt), runtime.StringValue("r2 no time"), runtime.NullValue(runtime.Double)},
				rrow(2, 1002, "r2"),
			},
			want: [][2]int{{1, 1}, {2, 3}},
		},
		{
			name: "several matches per key", lower: -50, upper: 50,
			left: [][]runtime.Value{
				lrow(7, 1000, "a"), lrow(7, 1010, "b"), lrow(7, 1100, "c"), lrow(8, 1000, "d"),
			},
			right: [][]runtime.Value{
				rrow(7, 990, "x"), rrow(7, 1040, "y"), rrow(7, 1060, "z"), rrow(8, 1049, "w"), rrow(9, 1000, "v"),
			},
			want: [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {1, 2}, {2, 2}, {3, 3}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := pairs(c.left, c.right, c.want...)
			for _, par := range []int{1, 4} {
				// Rows come in small batches, not in time order, but within
				// the sources' allowed out-of-orderness: none is late.
				j := &job{spec: kvSpec(c.lower, c.upper), left: rttest.Deal(c.left, 3, 1), right: rttest.Deal(c.right, 4, 1), joinPar: par, outOfOrder: time.Second}
				got, late := j.run(t)
				sameRows(t, c.name, got, want)
				if late != 0 {
					t.Fatalf("%d late rows counted, want none", late)
				}
				if ref := nestedLoop(j.spec, c.left, c.right); !slices.Equal(ref, got) {
					t.Fatalf("the nested-loop reference disagrees with the expected rows:\n%v\n%v", ref, got)
				}
			}
		})
	}
}

// streamRows returns n rows per side over keys [0, keys), with times
// increasing by about one per row and shuffled by up to jitter ms, so every
// row is on time under a MaxOutOfOrderness of jitter; one row in 50 has a
// NULL key.
func streamRows(seed uint64, n, keys int, jitter int64) (left, right [][]runtime.Value) {
	rng := rand.New(rand.NewPCG(seed, 1))
	gen := func(mk func(k any, ts int64, name string) []runtime.Value, prefix string) [][]runtime.Value {
		rows := make([][]runtime.Value, n)
		base := int64(1_000_000)
		for i := range rows {
			base += rng.Int64N(3)
			var k any = rng.IntN(keys)
			if rng.IntN(50) == 0 {
				k = nil
			}
			rows[i] = mk(k, base-rng.Int64N(jitter+1), prefix+string(rune('a'+i%26)))
		}
		return rows
	}
	return gen(lrow, "l"), gen(rrow, "r")
}

func TestJoinOutOfOrderWithinBound(t *testing.T) {
	left, right := streamRows(1, 3000, 40, 200)
	for _, b := range [][2]int64{{-100, 100}, {-300, -50}, {0, 0}, {20, 400}} {
		spec := kvSpec(b[0], b[1])
		want := nestedLoop(spec, left, right)
		if len(want) < 50 {
			t.Fatalf("bounds %v: only %d matches, the test data is too sparse", b, len(want))
		}
		j := &job{spec: spec, left: rttest.Deal(left, 64, 1), right: rttest.Deal(right, 100, 1), outOfOrder: 200 * time.Millisecond}
		got, late := j.run(t)
		sameRows(t, "out of order", got, want)
		if late != 0 {
			t.Fatalf("bounds %v: %d late rows counted, want none", b, late)
		}
	}
}

func TestJoinSameResultAnyParallelism(t *testing.T) {
	left, right := streamRows(2, 5000, 97, 50)
	spec := kvSpec(-150, 80)
	want := nestedLoop(spec, left, right)
	var first []string
	for _, par := range []int{1, 4} {
		// Three partitions per source, shared by par source subtasks.
		j := &job{spec: spec, left: rttest.Deal(left, 50, 3), right: rttest.Deal(right, 70, 3), srcPar: par, joinPar: par, outOfOrder: 2 * time.Second}
		got, late := j.run(t)
		if late != 0 {
			t.Fatalf("parallelism %d: %d late rows", par, late)
		}
		sameRows(t, "parallel", got, want)
		if first == nil {
			first = got
		} else if !slices.Equal(first, got) {
			t.Fatalf("parallelism 1 and 4 differ")
		}
	}
}

func TestJoinLateRowsDroppedAndCounted(t *testing.T) {
	// Both sources play: a first batch; wait until every join subtask has
	// the watermark 2999 (the first batches end at 3000 or later, with no
	// allowed out-of-orderness); a second batch whose times stay at or
	// below what its source has seen, so the watermark does not move while
	// it is joined; then wait for the other source before ending. The
	// second batches use disjoint keys, so they do not meet each other.
	type tc struct {
		name         string
		lower, upper int64
		l1, r1       [][]runtime.Value
		l2, r2       [][]runtime.Value
		want         func(l1, r1, l2, r2 [][]runtime.Value) []string
		late         int
	}
	cases := []tc{
		{
			// Left rows are freed at ts+100, right rows at ts.
			name: "interval ahead of the left row", lower: 0, upper: 100,
			l1: [][]runtime.Value{lrow(1, 990, "l1"), lrow(3, 3000, "l3")},
			r1: [][]runtime.Value{rrow(1, 1000, "r1a"), rrow(1, 1050, "r1b"), rrow(2, 2990, "r2old"), rrow(4, 3050, "r4"), rrow(2, 3000, "r2"), rrow(9, 3000, "r9")},
			l2: [][]runtime.Value{
				lrow(1, 900, "late, partners freed"),         // 900+100 <= 2999
				lrow(2, 2890, "late, r2old was freed"),       // 2890+100 <= 2999; r2 is 110 away
				lrow(2, 2900, "behind wm, stored, meets r2"), // 3000 > 2999
				lrow(4, 2960, "behind wm, meets r4"),
				lrow(4, 2999, "behind wm, meets r4 too"),
			},
			r2: [][]runtime.Value{
				rrow(5, 2000, "late right"),
				rrow(3, 2999, "late right, l3 buffered but 1 ms too early"),
				rrow(3, 3000, "on time, meets l3"),
			},
			want: func(l1, r1, l2, r2 [][]runtime.Value) []string {
				return []string{
					joined(l1[0], r1[0]), joined(l1[0], r1[1]), // before the watermark
					joined(l2[2], r1[4]), joined(l2[3], r1[3]), joined(l2[4], r1[3]),
					joined(l1[1], r2[2]),
				}
			},
			late: 4,
		},
		{
			// Left rows are freed at ts, right rows at ts+100.
			name: "interval behind the left row", lower: -100, upper: 0,
			l1: [][]runtime.Value{lrow(1, 3000, "l1")},
			r1: [][]runtime.Value{rrow(2, 2950, "r2"), rrow(2, 2000, "r2old"), rrow(3, 3000, "r3")},
			l2: [][]runtime.Value{
				lrow(2, 2960, "late, still meets buffered r2"), // 2960 <= 2999; r2 lives until 3050
				lrow(2, 2050, "late, r2old was freed"),
				lrow(3, 3000, "on time, meets r3"),
			},
			r2: [][]runtime.Value{
				rrow(1, 2950, "behind wm, stored, meets l1"), // 2950+100 > 2999
				rrow(4, 2899, "late right"),                  // 2899+100 <= 2999
			},
			want: func(l1, r1, l2, r2 [][]runtime.Value) []string {
				return []string{joined(l2[0], r1[0]), joined(l2[2], r1[2]), joined(l1[0], r2[0])}
			},
			late: 3,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, par := range []int{1, 4} {
				gate, leftDone, rightDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
				// Neither source ends (and so lets the watermark jump to its
				// final value) before the join has processed every row of
				// both: the runtime does not order messages across inputs.
				var joined atomic.Int64
				total := int64(len(c.l1) + len(c.r1) + len(c.l2) + len(c.r2))
				var log bytes.Buffer
				allJoined := func(met func() bool) func() bool {
					return func() bool { return met() && joined.Load() >= total }
				}
				j := &job{
					spec:  kvSpec(c.lower, c.upper),
					left:  []rttest.Chunk{{Rows: c.l1}, {Rows: c.l2}},
					right: []rttest.Chunk{{Rows: c.r1}, {Rows: c.r2}},
					srcOpts: [2][]rttest.SourceOption{
						{rttest.Pause(1, closed(gate)), rttest.Hold(allJoined(meet(leftDone, rightDone)), time.Minute)},
						{rttest.Pause(1, closed(gate)), rttest.Hold(allJoined(meet(rightDone, leftDone)), time.Minute)},
					},
					joinPar: par,
					gate:    gate, gateAt: 2999,
					joined: &joined,
					log:    &log,
				}
				got, late := j.run(t)
				sameRows(t, c.name, got, c.want(c.l1, c.r1, c.l2, c.r2))
				if late != c.late {
					t.Fatalf("parallelism %d: %d late rows counted, want %d", par, late, c.late)
				}
				// The drops are logged too: each subtask's last line tells its total.
				logged := map[string]int{}
				for _, m := range lateLine.FindAllStringSubmatch(log.String(), -1) {
					n, _ := strconv.Atoi(m[2])
					logged[m[1]] = max(logged[m[1]], n)
				}
				sum := 0
				for _, n := range logged {
					sum += n
				}
				if sum != c.late {
					t.Fatalf("parallelism %d: the log tells %d late rows, want %d:\n%s", par, sum, c.late, log.String())
				}
			}
		})
	}
}

// lateLine is a line of runtime.LateLog: who, and the count.
var lateLine = regexp.MustCompile(`(?m)^sluice: (.+): (\d+) late rows dropped (?:so far|in all)`)

// closed returns a condition that holds once ch is closed.
func closed(ch <-chan struct{}) func() bool {
	return func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
}

// meet returns the Hold condition of one of two sources: asked first, it
// closes mine (this source has sent its rows); it holds once theirs is
// closed too.
func meet(mine chan struct{}, theirs <-chan struct{}) func() bool {
	var once sync.Once
	return func() bool {
		once.Do(func() { close(mine) })
		return closed(theirs)()
	}
}

func TestNewValidatesSpec(t *testing.T) {
	ok := kvSpec(-1, 1)
	strKey := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.Varchar}, runtime.Field{Name: "ts", Type: runtime.Timestamp})
	cases := []struct {
		name string
		edit func(s *Spec)
	}{
		{"no left schema", func(s *Spec) { s.Left = nil }},
		{"no keys", func(s *Spec) { s.LeftKeys, s.RightKeys = nil, nil }},
		{"key count mismatch", func(s *Spec) { s.RightKeys = []int{0, 2} }},
		{"key out of range", func(s *Spec) { s.LeftKeys = []int{3} }},
		{"negative key", func(s *Spec) { s.RightKeys = []int{-1} }},
		{"key types differ", func(s *Spec) { s.RightKeys = []int{2} }},
		{"VARCHAR against BIGINT", func(s *Spec) { s.Right = strKey }},
		{"time out of range", func(s *Spec) { s.LeftTime = 9 }},
		{"time not a time", func(s *Spec) { s.RightTime = 2 }},
		{"lower above upper", func(s *Spec) { s.Lower, s.Upper = 5, 4 }},
	}
	for _, c := range cases {
		s := ok
		c.edit(&s)
		if _, _, err := New(s); !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("%s: got %v, want ErrInvalidSpec", c.name, err)
		}
	}
	if _, _, err := New(ok); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
}

func TestOutputSchemaNames(t *testing.T) {
	f := func(name string, left, right *runtime.Schema, want ...string) {
		t.Helper()
		_, out, err := New(Spec{Left: left, Right: right, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 1, RightTime: 1, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Names(); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i, f := range out.Fields {
			src := left.Fields
			j := i
			if i >= left.Len() {
				src, j = right.Fields, i-left.Len()
			}
			if f.Type != src[j].Type || f.Nullable != src[j].Nullable {
				t.Fatalf("column %d is %v, want the type of its input column %v", i, f, src[j])
			}
		}
	}
	f("", leftSchema, rightSchema, "k", "ts", "name", "k0", "ts0", "name0", "x")
	f("j_", leftSchema, rightSchema, "j_k", "j_ts", "j_name", "j_k0", "j_ts0", "j_name0", "j_x")
	tricky := runtime.NewSchema(
		runtime.Field{Name: "K", Type: runtime.BigInt},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "k0", Type: runtime.BigInt},
	)
	f("", leftSchema, tricky, "k", "ts", "name", "K0", "ts0", "k00")
}
