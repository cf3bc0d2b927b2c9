package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// TestAppendValueWritesWhatEncodingJSONWrites: the encoder rows are
// written with gives the bytes encoding/json gives for jsonValue, for
// numbers at the edges of float formatting and strings JSON must escape.
func TestAppendValueWritesWhatEncodingJSONWrites(t *testing.T) {
	f := func(v runtime.Value) {
		t.Helper()
		want, err := json.Marshal(jsonValue(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendValue(nil, v); string(got) != string(want) {
			t.Errorf("%v: %s, want %s", v, got, want)
		}
	}
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e20, 1e21, 123456789e15, 1e-6, 9.99e-7, 1e-7, 5e-324,
		math.MaxFloat64, -math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 1.0 / 3} {
		f(runtime.FloatValue(x))
	}
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "tab\t", "nl\n", "\x00\x1f", "<a>&", "é", "日本", "\xff\xfe", "\u2028\u2029", "emoji 🙂"} {
		f(runtime.StringValue(s))
	}
	for _, i := range []int64{0, -1, maxSafe, maxSafe + 1, -maxSafe, -maxSafe - 1, math.MaxInt64, math.MinInt64} {
		f(runtime.IntValue(i))
		f(runtime.Value{Type: runtime.DecimalType(18, 4), I: i})
	}
	f(runtime.TimeValue(1700000000000))
	f(runtime.Value{Type: runtime.Boolean, I: 1})
	f(runtime.Value{Type: runtime.Boolean})
	f(runtime.Value{Type: runtime.Double, Null: true})
}

// FuzzAppendValue: any string or float is written as encoding/json
// writes it.
func FuzzAppendValue(f *testing.F) {
	f.Add("a\"b", 1.5)
	f.Add("\xff<", 1e21)
	f.Fuzz(func(t *testing.T, s string, x float64) {
		for _, v := range []runtime.Value{runtime.StringValue(s), runtime.FloatValue(x)} {
			want, _ := json.Marshal(jsonValue(v))
			if got := appendValue(nil, v); string(got) != string(want) {
				t.Errorf("%v: %s, want %s", v, got, want)
			}
		}
	})
}

// TestEventsReproduceTheStateRandomly: for random runs of inserts and
// retractions, keyed or not, bounded by retain or not, a client that took
// a snapshot and then applied the deltas of any versions holds the
// dashboard's rows; and without eviction, the rows are the multiset (or
// the rows by key) the changes make.
func TestEventsReproduceTheStateRandomly(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		keyed := rapid.Bool().Draw(rt, "keyed")
		retainRows := rapid.SampledFrom([]int{3, 10, 1000}).Draw(rt, "retain")
		var pk []string
		if keyed {
			pk = []string{"k"}
		}
		d := testBoard(t, NewHub(), "rnd", map[string]string{"retain": fmt.Sprintf("%d rows", retainRows)}, pk...)
		model := map[string]int{}   // unkeyed: row → copies
		byKey := map[int64]string{} // keyed: k → row
		client := map[string]int{}
		var cv int64
		catchUp := func() {
			dl, _, _ := d.delta(cv, 0)
			if !dl.ok {
				s := d.encodedSnapshot(0)
				applyEncoded(rt, client, "snapshot", s.b)
				cv = s.version
				return
			}
			cv = applyEncoded(rt, client, "delta", dl.b)
		}
		for range rapid.IntRange(1, 60).Draw(rt, "ops") {
			if rapid.IntRange(0, 4).Draw(rt, "sync") == 0 {
				catchUp()
			}
			k, v := rapid.Int64Range(0, 4).Draw(rt, "k"), rapid.Int64Range(0, 2).Draw(rt, "v")
			row := fmt.Sprint([]any{k, v})
			kind := rapid.SampledFrom([]runtime.RowKind{runtime.Insert, runtime.UpdateBefore, runtime.UpdateAfter, runtime.Delete}).Draw(rt, "kind")
			d.write(batch(kind, [2]int64{k, v}))
			insert := kind == runtime.Insert || kind == runtime.UpdateAfter
			switch {
			case keyed && insert:
				byKey[k] = row
			case keyed:
				delete(byKey, k)
			case insert:
				model[row]++
			case model[row] > 0:
				if model[row]--; model[row] == 0 {
					delete(model, row)
				}
			}
		}
		catchUp()
		snap := d.Snapshot()
		want := map[string]int{}
		for _, r := range snap.Rows {
			want[fmt.Sprint(r)]++
		}
		if fmt.Sprint(client) != fmt.Sprint(want) {
			rt.Fatalf("the client holds %v, the dashboard %v", client, want)
		}
		if len(snap.Rows) > retainRows {
			rt.Fatalf("%d rows, retain %d", len(snap.Rows), retainRows)
		}
		if retainRows == 1000 {
			if keyed {
				model = map[string]int{}
				for _, r := range byKey {
					model[r]++
				}
			}
			if fmt.Sprint(model) != fmt.Sprint(want) {
				rt.Fatalf("the dashboard holds %v, want %v", want, model)
			}
		}
	})
}

// applyEncoded applies an event's data to a client's rows and returns its
// version.
func applyEncoded(t *rapid.T, rows map[string]int, name string, data []byte) int64 {
	var ev struct {
		Version        int64
		Rows           [][]any
		Added, Removed [][]any
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("%s %s: %v", name, data, err)
	}
	if name == "snapshot" {
		clear(rows)
		ev.Added = ev.Rows
	}
	for _, r := range ev.Removed {
		k := fmt.Sprint(r)
		if rows[k] == 0 {
			t.Fatalf("delta %s removes %s, which the client does not hold", data, k)
		}
		if rows[k]--; rows[k] == 0 {
			delete(rows, k)
		}
	}
	for _, r := range ev.Added {
		rows[fmt.Sprint(r)]++
	}
	return ev.Version
}
