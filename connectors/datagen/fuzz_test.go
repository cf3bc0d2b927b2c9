package datagen_test

import (
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// FuzzOptions: whatever the option values, NewSource returns an error or a
// source whose batches are well formed, of the right number of rows; never
// a panic.
func FuzzOptions(f *testing.F) {
	f.Add("100", "random", "-5", "5", "sequence", "0", "", "2026-01-01T00:00:00Z", "1ms", "0", "8", "0.5")
	f.Add("5000", "sequence", "", "", "sequence", "9223372036854775806", "9223372036854775807", "", "100us", "1s", "0", "1")
	f.Add("", "random", "-9223372036854775808", "9223372036854775807", "random", "", "", "1970-01-01 00:00:00", "2562047h", "2562047h", "16384", "0")
	f.Add("3", "random", "0", "0", "sequence", "-2147483648", "2147483647", "9999-12-31T23:59:59.999Z", "1ns", "1ms", "1", "1e-300")
	f.Fuzz(func(t *testing.T, rows, kindK, minK, maxK, kindN, startN, endN, startTS, step, maxPast, length, nullRate string) {
		o := opts("fields.k.kind", kindK, "fields.n.kind", kindN, "fields.s.null-rate", nullRate, "fields.d.null-rate", nullRate)
		set := func(key, v string) {
			if v != "" {
				o[key] = v
			}
		}
		set("number-of-rows", rows)
		set("fields.k.min", minK)
		set("fields.k.max", maxK)
		set("fields.n.start", startN)
		set("fields.n.end", endN)
		set("fields.ts.start", startTS)
		set("fields.ts.step", step)
		set("fields.ts.max-past", maxPast)
		set("fields.s.length", length)
		newSrc, err := newSource(t, schema, o)
		if err != nil {
			return
		}
		n, err := strconv.ParseInt(rows, 10, 64)
		if err != nil || n > 20000 {
			n = -1 // unbounded or big: poll a few batches only
		}
		polls := 12
		if l, err := strconv.Atoi(length); err == nil && l > 1000 {
			polls, n = 1, -1 // long strings are slow to make: one batch each
		}
		var got int64
		for sub := range 2 {
			src := newSrc()
			if err := src.Open(rttest.NewContext("gen", sub, 2)); err != nil {
				t.Fatal(err)
			}
			for range polls {
				b, _, err := src.Poll(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := rttest.CheckBatch(b, schema); err != nil {
					t.Fatal(err)
				}
				got += int64(b.Len())
			}
			src.Close()
		}
		if n >= 0 && got > n || n >= 0 && n <= 10*runtime.DefaultBatchRows && got != n && endN == "" {
			t.Fatalf("%d rows, want %d", got, n)
		}
	})
}
