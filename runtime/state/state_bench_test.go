package state

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

func benchBatch(keys int) *runtime.Batch {
	s := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.BigInt})
	b := runtime.NewBatch(s)
	for i := range runtime.DefaultBatchRows {
		b.Cols[0].AppendInt(int64(i*7919) % int64(keys))
		b.N++
	}
	return b
}

// BenchmarkValueCount is a keyed running count: per row, encode the key,
// set it, read and update a ValueState.
func BenchmarkValueCount(b *testing.B) {
	for _, ttl := range []time.Duration{0, time.Hour} {
		b.Run(fmt.Sprint("ttl=", ttl), func(b *testing.B) {
			be, _ := newBackend(b, Options{})
			v := must(RegisterValue(be, Descriptor[int64]{Name: "n", TTL: ttl}))
			bt := benchBatch(10000)
			cols := []int{0}
			var key []byte
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for r := range bt.N {
					key = EncodeKey(bt, r, cols, key[:0])
					be.SetCurrentKeyBytes(key, -1)
					n, _ := v.Value()
					if err := v.Update(n + 1); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*bt.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkMapPut(b *testing.B) {
	be, _ := newBackend(b, Options{})
	m := must(RegisterMap(be, MapDescriptor[int64, int64]{Name: "m", TTL: time.Hour}))
	bt := benchBatch(1000)
	cols := []int{0}
	var key []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for r := range bt.N {
			key = EncodeKey(bt, r, cols, key[:0])
			be.SetCurrentKeyBytes(key, -1)
			if err := m.Put(int64(r%16), int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*bt.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkSnapshot(b *testing.B) {
	be, _ := newBackend(b, Options{})
	v := must(RegisterValue(be, Descriptor[int64]{Name: "v"}))
	m := must(RegisterMap(be, MapDescriptor[string, int64]{Name: "m"}))
	for i := range 100000 {
		be.SetCurrentKey(fmt.Sprint("key-", i))
		must(0, v.Update(int64(i)))
		must(0, m.Put("a", int64(i)))
	}
	var buf bytes.Buffer
	must(0, be.Snapshot(&buf))
	size := buf.Len()
	b.Run("write", func(b *testing.B) {
		b.SetBytes(int64(size))
		for range b.N {
			if err := be.Snapshot(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(int64(size))
		for range b.N {
			nb, _ := newBackend(b, Options{})
			must(RegisterValue(nb, Descriptor[int64]{Name: "v"}))
			must(RegisterMap(nb, MapDescriptor[string, int64]{Name: "m"}))
			if err := nb.Restore(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
}
