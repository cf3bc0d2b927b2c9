package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	latencyRate    = 10_000 // records/s the paced writer aims at
	latencyPerIter = 5_000  // records per iteration (0.5 s at latencyRate)
	latencyWait    = "1000" // readers' long-poll wait, in milliseconds (LongPollHeader)
)

// BenchmarkPutToReadLatency measures how long a record takes from PutRecord
// to a reader, through the server over loopback HTTP (not the store
// connector, which does not exist yet).
//
// Writer: 1 KiB records on a fixed schedule of 10,000 records/s, sent by
// several goroutines that take the next call of the schedule, sleep until
// its time and send it (a single sequential caller cannot reach 10,000
// calls/s when each waits for an fsync). A caller that falls behind sends at
// once, so the schedule stays open-loop. Sub-benchmark calls=PutRecord sends
// one PutRecord per record (every 100 µs, 16 callers); calls=PutRecords10
// sends PutRecords of 10 records every 1 ms (8 callers), which reaches the
// rate with a tenth of the HTTP calls. Readers: one per shard, GetRecords in a loop from a
// LATEST iterator, each call long-polling (LongPollHeader, latencyWait) so
// it answers as soon as records are committed, without polling.
//
// Reported: start-to-read (from just before the PutRecord call to the
// moment the GetRecords answer holding the record is decoded), ack-to-read
// (from the PutRecord acknowledgement to the same moment; negative when the
// reader sees the record before the writer has its answer, as records are
// readable once committed), the PutRecord latency itself, p50 and p99 in
// ms, and the write rate achieved.
func BenchmarkPutToReadLatency(b *testing.B) {
	b.Run("calls=PutRecord", func(b *testing.B) { putToReadLatency(b, 1, 16) })
	b.Run("calls=PutRecords10", func(b *testing.B) { putToReadLatency(b, 10, 8) })
}

// putToReadLatency runs BenchmarkPutToReadLatency with perCall records per
// call (1 means PutRecord, more PutRecords) and writers concurrent callers.
func putToReadLatency(b *testing.B, perCall, writers int) {
	c := startBenchServer(b, Options{})
	total := b.N * latencyPerIter
	op := "PutRecord"
	if perCall > 1 {
		op = "PutRecords"
	}
	// bodies[k] carries records k*perCall … (k+1)*perCall-1.
	bodies := make([][]byte, total/perCall)
	rng := rand.New(rand.NewPCG(3, 3))
	for k := range bodies {
		recs := make([]benchEntry, perCall)
		for j := range recs {
			data := make([]byte, benchRecordBytes)
			for x := range data {
				data[x] = byte(rng.Uint32())
			}
			binary.BigEndian.PutUint64(data, uint64(k*perCall+j))
			recs[j] = benchEntry{Data: data, PartitionKey: strconv.FormatUint(rng.Uint64(), 36)}
		}
		var in any = map[string]any{"StreamName": benchStream, "Records": recs}
		if perCall == 1 {
			in = map[string]any{"StreamName": benchStream, "Data": recs[0].Data, "PartitionKey": recs[0].PartitionKey}
		}
		body, err := json.Marshal(in)
		if err != nil {
			b.Fatal(err)
		}
		bodies[k] = body
	}
	// Nanoseconds since t0, per record.
	start, ack, arrive := make([]int64, total), make([]int64, total), make([]int64, total)
	var got atomic.Int64 // records read; each reader stores arrive[i] before adding
	t0 := time.Now()

	readCtx, stop := context.WithCancel(context.Background())
	longPoll := http.Header{http.CanonicalHeaderKey(LongPollHeader): {latencyWait}}
	var readers sync.WaitGroup
	for sh := range benchShards {
		var it struct{ ShardIterator string }
		err := c.call("GetShardIterator", map[string]any{"StreamName": benchStream,
			"ShardId": fmt.Sprintf("shardId-%012d", sh), "ShardIteratorType": "LATEST"}, &it)
		if err != nil {
			b.Fatal(err)
		}
		readers.Go(func() {
			next := it.ShardIterator
			for readCtx.Err() == nil {
				var out struct {
					Records           []struct{ Data []byte }
					NextShardIterator string
				}
				body, _ := json.Marshal(map[string]any{"ShardIterator": next, "Limit": 10000})
				if err := c.postCtx(readCtx, "GetRecords", body, longPoll, &out); err != nil {
					if readCtx.Err() == nil {
						b.Error(err)
					}
					return
				}
				now := int64(time.Since(t0))
				for _, r := range out.Records {
					i := binary.BigEndian.Uint64(r.Data)
					if i >= uint64(total) {
						b.Errorf("read unknown record %d", i)
						return
					}
					atomic.StoreInt64(&arrive[i], now)
					got.Add(1)
				}
				next = out.NextShardIterator
			}
		})
	}
	defer func() {
		stop()
		readers.Wait()
	}()

	interval := time.Second / latencyRate * time.Duration(perCall) // between calls
	calls := latencyPerIter / perCall
	var writing time.Duration
	b.ResetTimer()
	for iter := range b.N {
		base := iter * latencyPerIter
		begin := time.Now()
		var nextCall atomic.Int64
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for {
					k := int(nextCall.Add(1) - 1)
					if k >= calls {
						return
					}
					time.Sleep(time.Until(begin.Add(time.Duration(k) * interval)))
					call := base/perCall + k
					sent := int64(time.Since(t0))
					var out struct{ FailedRecordCount int }
					if err := c.post(op, bodies[call], &out); err != nil || out.FailedRecordCount != 0 {
						b.Errorf("%s: %v (%d records failed)", op, err, out.FailedRecordCount)
						return
					}
					acked := int64(time.Since(t0))
					for i := call * perCall; i < (call+1)*perCall; i++ {
						start[i], ack[i] = sent, acked
					}
				}
			})
		}
		wg.Wait()
		writing += time.Since(begin)
		if b.Failed() {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for got.Load() < int64(base+latencyPerIter) {
			if time.Now().After(deadline) {
				b.Fatalf("read %d of %d records after 10 s", got.Load(), base+latencyPerIter)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()

	startToRead, ackToRead, putLat := make([]time.Duration, total), make([]time.Duration, total), make([]time.Duration, total)
	early := 0
	for i := range total {
		a := atomic.LoadInt64(&arrive[i])
		startToRead[i] = time.Duration(a - start[i])
		ackToRead[i] = time.Duration(a - ack[i])
		putLat[i] = time.Duration(ack[i] - start[i])
		if a < ack[i] {
			early++
		}
	}
	b.ReportMetric(percentileMs(startToRead, 50), "start-to-read-p50-ms")
	b.ReportMetric(percentileMs(startToRead, 99), "start-to-read-p99-ms")
	b.ReportMetric(percentileMs(ackToRead, 50), "ack-to-read-p50-ms")
	b.ReportMetric(percentileMs(ackToRead, 99), "ack-to-read-p99-ms")
	b.ReportMetric(percentileMs(putLat, 50), "put-p50-ms")
	b.ReportMetric(percentileMs(putLat, 99), "put-p99-ms")
	b.ReportMetric(100*float64(early)/float64(total), "read-before-ack-%")
	b.ReportMetric(float64(total)/writing.Seconds(), "written-records/s")
}
