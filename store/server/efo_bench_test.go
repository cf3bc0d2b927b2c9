package server

import (
	"bufio"
	"bytes"
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

	"github.com/sluicehq/sluice/store/eventstream"
)

const (
	pushRate    = 2_000 // records/s the paced writer aims at
	pushPerIter = 1_000 // records per iteration (0.5 s at pushRate)
	pushPerCall = 10    // records per PutRecords call
)

// BenchmarkPutToPushLatency measures how long a record takes from the start
// of its PutRecords call to a reader, for the two ways of reading that do
// not poll, side by side in one run over loopback HTTP/1.1: a
// SubscribeToShard subscription per shard (enhanced fan-out, records
// pushed as they commit) and a GetRecords loop per shard that long-polls
// (LongPollHeader, latencyWait). Both read every record the writer puts:
// PutRecords of 10 records of 1 KiB every 5 ms (2,000 records/s), from 4
// callers on a fixed schedule. Reported: p50 and p99 in ms of each.
func BenchmarkPutToPushLatency(b *testing.B) {
	c := startBenchServer(b, Options{FanOut: FanOutOptions{ConsumerDelay: -1}})
	var reg struct{ Consumer struct{ ConsumerARN string } }
	if err := c.call("RegisterStreamConsumer", map[string]any{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/" + benchStream,
		"ConsumerName": "bench"}, &reg); err != nil {
		b.Fatal(err)
	}
	total := b.N * pushPerIter
	bodies := make([][]byte, total/pushPerCall)
	rng := rand.New(rand.NewPCG(4, 4))
	for k := range bodies {
		recs := make([]benchEntry, pushPerCall)
		for j := range recs {
			data := make([]byte, benchRecordBytes)
			for x := range data {
				data[x] = byte(rng.Uint32())
			}
			binary.BigEndian.PutUint64(data, uint64(k*pushPerCall+j))
			recs[j] = benchEntry{Data: data, PartitionKey: strconv.FormatUint(rng.Uint64(), 36)}
		}
		body, err := json.Marshal(map[string]any{"StreamName": benchStream, "Records": recs})
		if err != nil {
			b.Fatal(err)
		}
		bodies[k] = body
	}
	start, push, poll := make([]int64, total), make([]int64, total), make([]int64, total)
	var pushed, polled atomic.Int64
	t0 := time.Now()
	arrived := func(data []byte, at []int64, n *atomic.Int64) {
		i := binary.BigEndian.Uint64(data)
		if i >= uint64(total) {
			b.Errorf("read unknown record %d", i)
			return
		}
		atomic.StoreInt64(&at[i], int64(time.Since(t0)))
		n.Add(1)
	}

	ctx, stop := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	defer func() {
		stop()
		readers.Wait()
	}()
	subscribed := make(chan struct{}, benchShards)
	for sh := range benchShards {
		shard := fmt.Sprintf("shardId-%012d", sh)
		var it struct{ ShardIterator string }
		if err := c.call("GetShardIterator", map[string]any{"StreamName": benchStream, "ShardId": shard, "ShardIteratorType": "LATEST"}, &it); err != nil {
			b.Fatal(err)
		}
		readers.Go(func() { // long polls
			longPoll := http.Header{http.CanonicalHeaderKey(LongPollHeader): {latencyWait}}
			next := it.ShardIterator
			for ctx.Err() == nil {
				var out struct {
					Records           []struct{ Data []byte }
					NextShardIterator string
				}
				body, _ := json.Marshal(map[string]any{"ShardIterator": next, "Limit": 10000})
				if err := c.postCtx(ctx, "GetRecords", body, longPoll, &out); err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				for _, r := range out.Records {
					arrived(r.Data, poll, &polled)
				}
				next = out.NextShardIterator
			}
		})
		readers.Go(func() { // one subscription (it lives 5 minutes, longer than the benchmark)
			body, _ := json.Marshal(map[string]any{"ConsumerARN": reg.Consumer.ConsumerARN, "ShardId": shard,
				"StartingPosition": map[string]string{"Type": "LATEST"}})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(body))
			req.Header.Set("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			resp, err := c.hc.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("SubscribeToShard: %v", err)
				subscribed <- struct{}{}
				return
			}
			defer resp.Body.Close()
			d := eventstream.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
			first := true
			for {
				m, err := d.Decode()
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				if m.HeaderString(":event-type") != "SubscribeToShardEvent" {
					continue
				}
				if first {
					first = false
					subscribed <- struct{}{}
				}
				var ev struct{ Records []struct{ Data []byte } }
				if err := json.Unmarshal(m.Payload, &ev); err != nil {
					b.Error(err)
					return
				}
				for _, r := range ev.Records {
					arrived(r.Data, push, &pushed)
				}
			}
		})
	}
	for range benchShards {
		<-subscribed
	}
	if b.Failed() {
		return
	}

	const writers = 4
	interval := time.Second / pushRate * pushPerCall
	calls := pushPerIter / pushPerCall
	b.ResetTimer()
	for iter := range b.N {
		base := iter * pushPerIter
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
					call := base/pushPerCall + k
					sent := int64(time.Since(t0))
					for i := call * pushPerCall; i < (call+1)*pushPerCall; i++ {
						atomic.StoreInt64(&start[i], sent)
					}
					var out struct{ FailedRecordCount int }
					if err := c.post("PutRecords", bodies[call], &out); err != nil || out.FailedRecordCount != 0 {
						b.Errorf("PutRecords: %v (%d records failed)", err, out.FailedRecordCount)
						return
					}
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for pushed.Load() < int64(base+pushPerIter) || polled.Load() < int64(base+pushPerIter) {
			if time.Now().After(deadline) {
				b.Fatalf("pushed %d, polled %d of %d records after 10 s", pushed.Load(), polled.Load(), base+pushPerIter)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	pushLat, pollLat := make([]time.Duration, total), make([]time.Duration, total)
	for i := range total {
		s := atomic.LoadInt64(&start[i])
		pushLat[i] = time.Duration(atomic.LoadInt64(&push[i]) - s)
		pollLat[i] = time.Duration(atomic.LoadInt64(&poll[i]) - s)
	}
	b.ReportMetric(percentileMs(pushLat, 50), "push-p50-ms")
	b.ReportMetric(percentileMs(pushLat, 99), "push-p99-ms")
	b.ReportMetric(percentileMs(pollLat, 50), "longpoll-p50-ms")
	b.ReportMetric(percentileMs(pollLat, 99), "longpoll-p99-ms")
}
