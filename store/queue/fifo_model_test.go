package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

type fifoModelMsg struct {
	id, body, group string
	seq             string
	sentAt          int64
	visibleAt       int64
	count           int
	receipt         string
	gone            bool
}

type fifoDedup struct {
	id, seq string
	at      int64
}

// TestFIFOQueueMatchesModel runs random sends (three groups, explicit and
// content-based deduplication ids), receives, deletes, visibility
// changes, clock steps (past the 5-minute deduplication window too),
// rewrites and restarts against a FIFO queue and a model, and checks that
// each receive returns exactly the messages the model says, in order:
// in send order, none from a group with a message in flight.
func TestFIFOQueueMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "queue-fifo-model")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		var clock atomic.Int64
		clock.Store(1_700_000_000_000)
		const limit = 4 // messages in flight: a receive then takes no more
		opts := Options{NoSync: true, Now: func() time.Time { return time.UnixMilli(clock.Load()) }, Logf: rt.Logf,
			Limits: Limits{MaxInFlightFIFO: limit}}
		s, err := Open(dir, opts)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { s.Close() }()
		q, err := s.Create("q.fifo", map[string]string{AttrFifoQueue: "true", AttrContentBasedDeduplication: "true", AttrMessageRetentionPeriod: "60"}, nil)
		if err != nil {
			rt.Fatal(err)
		}
		ctx := context.Background()
		var msgs []*fifoModelMsg
		dedups := map[string]fifoDedup{}
		var receipts []string
		zero := time.Duration(0)
		live := func(now int64) []*fifoModelMsg {
			var out []*fifoModelMsg
			for _, m := range msgs {
				if !m.gone && now < m.sentAt+modelRetention {
					out = append(out, m)
				}
			}
			return out
		}
		rt.Repeat(map[string]func(*rapid.T){
			"send": func(rt *rapid.T) {
				in := SendInput{Body: "b" + strconv.Itoa(rapid.IntRange(0, 20).Draw(rt, "body")),
					Group: rapid.SampledFrom([]string{"a", "b", "c"}).Draw(rt, "group")}
				if rapid.Bool().Draw(rt, "explicit") {
					in.DedupID = "d" + strconv.Itoa(rapid.IntRange(0, 5).Draw(rt, "dedup"))
				}
				res, err := q.Send(ctx, []SendInput{in})
				if err != nil || res[0].Err != nil {
					rt.Fatal(err, res)
				}
				now := clock.Load()
				key := in.DedupID
				if key == "" {
					sum := sha256.Sum256([]byte(in.Body))
					key = hex.EncodeToString(sum[:])
				}
				if d, ok := dedups[key]; ok && now < d.at+DedupWindow.Milliseconds() {
					if res[0].ID != d.id || res[0].SequenceNumber != d.seq {
						rt.Fatalf("a duplicate within the window got %s %s, want %s %s", res[0].ID, res[0].SequenceNumber, d.id, d.seq)
					}
					return
				}
				for _, m := range msgs {
					if m.id == res[0].ID || m.seq >= res[0].SequenceNumber {
						rt.Fatalf("send got id %s, sequence number %s; an earlier message has %s %s", res[0].ID, res[0].SequenceNumber, m.id, m.seq)
					}
				}
				dedups[key] = fifoDedup{id: res[0].ID, seq: res[0].SequenceNumber, at: now}
				msgs = append(msgs, &fifoModelMsg{id: res[0].ID, body: in.Body, group: in.Group, seq: res[0].SequenceNumber, sentAt: now, visibleAt: now})
			},
			"receive": func(rt *rapid.T) {
				max := rapid.IntRange(1, 10).Draw(rt, "max")
				vis := time.Duration(rapid.IntRange(0, 5).Draw(rt, "vis")) * time.Second
				now := clock.Load()
				blocked := map[string]bool{}
				ms := live(now)
				for _, m := range ms {
					if m.count > 0 && m.visibleAt > now {
						blocked[m.group] = true
					}
				}
				room := limit
				for _, m := range msgs { // in flight, whether or not their retention has passed
					if !m.gone && m.count > 0 && m.visibleAt > now {
						room--
					}
				}
				var want []*fifoModelMsg
				for _, m := range ms {
					if len(want) < min(max, room) && !blocked[m.group] {
						want = append(want, m)
					}
				}
				got, err := q.Receive(ctx, ReceiveOptions{Max: max, Visibility: &vis, Wait: &zero})
				if err != nil {
					rt.Fatal(err)
				}
				if len(got) != len(want) {
					rt.Fatalf("received %d messages, want %d", len(got), len(want))
				}
				for i, g := range got {
					w := want[i]
					if g.ID != w.id || g.Body != w.body || g.Group != w.group || g.SequenceNumber != w.seq || g.ReceiveCount != w.count+1 {
						rt.Fatalf("message %d: received %+v, want %+v", i, g, w)
					}
					w.count++
					w.visibleAt = now + vis.Milliseconds()
					w.receipt = g.Receipt
					receipts = append(receipts, g.Receipt)
				}
			},
			"delete": func(rt *rapid.T) {
				if len(receipts) == 0 {
					rt.Skip("no receipt")
				}
				r := rapid.SampledFrom(receipts).Draw(rt, "receipt")
				errs, err := q.Delete(ctx, []string{r})
				if err != nil || errs[0] != nil {
					rt.Fatal(err, errs)
				}
				for _, m := range msgs {
					if m.receipt == r {
						m.gone = true
					}
				}
			},
			"changeVisibility": func(rt *rapid.T) {
				if len(receipts) == 0 {
					rt.Skip("no receipt")
				}
				r := rapid.SampledFrom(receipts).Draw(rt, "receipt")
				timeout := time.Duration(rapid.IntRange(0, 5).Draw(rt, "timeout")) * time.Second
				errs, err := q.ChangeVisibility(ctx, []VisibilityChange{{Receipt: r, Timeout: timeout}})
				if err != nil {
					rt.Fatal(err)
				}
				now := clock.Load()
				var target *fifoModelMsg
				for _, m := range live(now) {
					if m.receipt == r {
						target = m
					}
				}
				var want error
				switch {
				case target == nil:
					want = ErrReceiptExpired
				case target.visibleAt <= now:
					want = ErrNotInflight
				}
				if !errors.Is(errs[0], want) || (want == nil) != (errs[0] == nil) {
					rt.Fatalf("ChangeVisibility: %v, want %v", errs[0], want)
				}
				if want == nil {
					target.visibleAt = now + timeout.Milliseconds()
				}
			},
			"advance": func(rt *rapid.T) {
				if rapid.IntRange(0, 9).Draw(rt, "long") == 0 {
					clock.Add(int64(rapid.IntRange(60_000, 400_000).Draw(rt, "ms")))
					return
				}
				clock.Add(int64(rapid.IntRange(0, 10_000).Draw(rt, "ms")))
			},
			"restart": func(rt *rapid.T) {
				if err := s.Close(); err != nil {
					rt.Fatal(err)
				}
				if s, err = Open(dir, opts); err != nil {
					rt.Fatal(err)
				}
				if q, err = s.Queue("q.fifo"); err != nil {
					rt.Fatal(err)
				}
			},
			"compact": func(rt *rapid.T) {
				q.mu.Lock()
				q.compactLocked()
				q.mu.Unlock()
			},
			"": func(rt *rapid.T) {
				now := clock.Load()
				a, err := q.Attributes(AttrApproximateNumberOfMessages, AttrApproximateNumberOfMessagesNotVisible)
				if err != nil {
					rt.Fatal(err)
				}
				var visible, inflight int
				for _, m := range live(now) {
					if m.visibleAt <= now {
						visible++
					} else {
						inflight++
					}
				}
				if got, want := a[AttrApproximateNumberOfMessages]+" "+a[AttrApproximateNumberOfMessagesNotVisible], fmt.Sprint(visible, " ", inflight); got != want {
					rt.Fatalf("counts %s, model %s", got, want)
				}
			},
		})
	})
}
