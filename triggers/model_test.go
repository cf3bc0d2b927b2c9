package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// funcInvoker is a function in the test's process.
type funcInvoker func(ctx context.Context, event []byte) ([]byte, error)

func (f funcInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) { return f(ctx, event) }

// memDestination keeps the failure records.
type memDestination struct {
	mu    sync.Mutex
	fails []Failure
}

func (d *memDestination) Send(_ context.Context, _ string, b []byte) error {
	var f Failure
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	d.mu.Lock()
	d.fails = append(d.fails, f)
	d.mu.Unlock()
	return nil
}

// TestDeliveryMatchesTheModel: for random records, poison records, batch
// sizes, retry limits, bisect and item-failure reporting, a one-shard
// trigger against a real store ends with every record done exactly once
// and in order, or in exactly one failure record; failure records hold a
// poison record (start at one with bisect or item failures, hold it alone
// with bisect on function errors), and come after
// max-retry-attempts + 1 invocations.
func TestDeliveryMatchesTheModel(t *testing.T) {
	c := startStore(t)
	// Streams made ahead, all at once (a stream takes a while to become
	// active); shrinking makes more on demand.
	const pool = 100
	var wg sync.WaitGroup
	for i := range pool {
		wg.Go(func() {
			if err := c.CreateStream(context.Background(), fmt.Sprintf("s%d", i), 1); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		stream := fmt.Sprintf("s%d", n)
		if n >= pool {
			createStream(t, c, stream, 1)
		}
		n++
		count := rapid.IntRange(1, 40).Draw(rt, "records")
		poison := map[string]bool{}
		var data []string
		for i := range count {
			d := fmt.Sprintf("r%02d", i)
			data = append(data, d)
			if rapid.IntRange(0, 9).Draw(rt, "poison") == 0 {
				poison[d] = true
			}
		}
		seqs := put(t, c, stream, data, func(int) string { return "k" })
		items := rapid.Bool().Draw(rt, "report-batch-item-failures")
		bisect := rapid.Bool().Draw(rt, "bisect-on-error")
		maxRetry := rapid.IntRange(0, 2).Draw(rt, "max-retry-attempts")
		batch := rapid.IntRange(1, 50).Draw(rt, "batch.size")

		var mu sync.Mutex
		var done []string
		invokes := map[string]int{} // by the batch's first record
		fn := funcInvoker(func(_ context.Context, ev []byte) ([]byte, error) {
			var e event
			if err := json.Unmarshal(ev, &e); err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			invokes[string(e.Records[0].Kinesis.Data)]++
			var failed []string
			for _, r := range e.Records {
				if poison[string(r.Kinesis.Data)] {
					failed = append(failed, fmt.Sprintf(`{"itemIdentifier":%q}`, r.Kinesis.SequenceNumber))
				}
			}
			if len(failed) > 0 && !items {
				return nil, errorf("poison")
			}
			for _, r := range e.Records {
				d := string(r.Kinesis.Data)
				if poison[d] {
					break
				}
				done = append(done, d)
			}
			return []byte(`{"batchItemFailures":[` + strings.Join(failed, ",") + `]}`), nil
		})
		dest := &memDestination{}
		tr, err := New(Config{Name: stream, Source: &StreamSource{Client: c, Stream: stream}, Invoker: fn, BatchSize: batch,
			BatchWindow: 10 * time.Millisecond, MaxRetryAttempts: maxRetry, BisectOnError: bisect, ReportBatchItemFailures: items,
			OnFailure: dest, RetryBackoff: time.Microsecond})
		if err != nil {
			rt.Fatal(err)
		}
		last := seqs[data[len(data)-1]]
		runUntil(t, tr, func() bool { return tr.Position(firstShard(t, c, stream)) == last })

		bySeq := map[string]string{}
		for d, s := range seqs {
			bySeq[s] = d
		}
		covered := map[string]int{}
		for _, f := range dest.fails {
			bi := f.KinesisBatchInfo
			first, end := bySeq[bi.StartSequenceNumber], bySeq[bi.EndSequenceNumber]
			if (items || bisect) && !poison[first] {
				rt.Fatalf("a failure record starts at %s, not a poison record", first)
			}
			if !slices.ContainsFunc(data, func(d string) bool { return d >= first && d <= end && poison[d] }) {
				rt.Fatalf("a failure record %s..%s holds no poison record", first, end)
			}
			if bisect && !items && first != end {
				rt.Fatalf("with bisect, a failure record spans %s to %s", first, end)
			}
			if f.RequestContext.ApproximateInvokeCount != maxRetry+1 {
				rt.Fatalf("a failure record after %d invocations, want %d", f.RequestContext.ApproximateInvokeCount, maxRetry+1)
			}
			k := 0
			for _, d := range data {
				if d >= first && d <= end {
					covered[d]++
					k++
				}
			}
			if k != bi.BatchSize {
				rt.Fatalf("failure record %s..%s says %d records, spans %d", first, end, bi.BatchSize, k)
			}
		}
		if !slices.IsSorted(done) {
			rt.Fatalf("records done out of order: %v", done)
		}
		for _, d := range data {
			n := covered[d]
			if slices.Contains(done, d) {
				n++
			}
			if n != 1 || poison[d] && covered[d] != 1 {
				rt.Fatalf("record %s (poison %v): done %v, in %d failure records", d, poison[d], slices.Contains(done, d), covered[d])
			}
		}
		if len(poison) == 0 && len(dest.fails) > 0 {
			rt.Fatalf("failure records without a poison record")
		}
	})
}
