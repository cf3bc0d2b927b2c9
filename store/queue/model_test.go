package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// modelMsg is a message of the model: a plain list, scanned on every step.
type modelMsg struct {
	id        string
	body      string
	sentAt    int64
	visibleAt int64
	count     int
	receipt   string // newest
	gone      bool
}

type model struct {
	msgs      []*modelMsg
	purgedAt  int64
	hasPurged bool
}

const modelRetention = 60_000 // ms: the minimum, so that clock steps expire messages

func (md *model) live(now int64) []*modelMsg {
	var out []*modelMsg
	for _, m := range md.msgs {
		if !m.gone && now < m.sentAt+modelRetention {
			out = append(out, m)
		}
	}
	return out
}

// inflight counts the messages in flight at now as the limit does: those
// received and not visible again, whether or not their retention has
// passed (they leave when a receive next meets them).
func (md *model) inflight(now int64) int {
	n := 0
	for _, m := range md.msgs {
		if !m.gone && m.count > 0 && m.visibleAt > now {
			n++
		}
	}
	return n
}

func (md *model) byID(id string) *modelMsg {
	for _, m := range md.msgs {
		if m.id == id {
			return m
		}
	}
	return nil
}

// TestQueueMatchesModel runs random sends, receives, deletes, visibility
// changes, purges, clock steps and restarts against the engine and a
// list-scanning model, comparing what receives return, the errors, and
// the approximate counts after every step. The queue's limit of messages
// in flight is lowered to 6, so that receives meet it.
func TestQueueMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "queue-model")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		var clock atomic.Int64
		clock.Store(1_700_000_000_000)
		const limit = 6 // messages in flight
		opts := Options{NoSync: true, Now: func() time.Time { return time.UnixMilli(clock.Load()) }, Logf: rt.Logf,
			Limits: Limits{MaxInFlight: limit}}
		s, err := Open(dir, opts)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { s.Close() }()
		q, err := s.Create("q", map[string]string{AttrMessageRetentionPeriod: "60"}, nil)
		if err != nil {
			rt.Fatal(err)
		}
		ctx := context.Background()
		md := &model{}
		var receipts []string
		zero := time.Duration(0)
		bodies := 0
		rt.Repeat(map[string]func(*rapid.T){
			"send": func(rt *rapid.T) {
				n := rapid.IntRange(1, 3).Draw(rt, "n")
				in := make([]SendInput, n)
				delays := make([]int64, n)
				for i := range in {
					bodies++
					in[i].Body = "m" + strconv.Itoa(bodies)
					if rapid.Bool().Draw(rt, "delayed") {
						d := rapid.IntRange(0, 3).Draw(rt, "delay")
						in[i].Delay, in[i].HasDelay = time.Duration(d)*time.Second, true
						delays[i] = int64(d) * 1000
					}
				}
				res, err := q.Send(ctx, in)
				if err != nil {
					rt.Fatal(err)
				}
				now := clock.Load()
				for i, r := range res {
					if r.Err != nil {
						rt.Fatalf("send %d: %v", i, r.Err)
					}
					if r.MD5OfBody != MD5OfBody(in[i].Body) {
						rt.Fatalf("MD5OfBody %s", r.MD5OfBody)
					}
					md.msgs = append(md.msgs, &modelMsg{id: r.ID, body: in[i].Body, sentAt: now, visibleAt: now + delays[i]})
				}
			},
			"receive": func(rt *rapid.T) {
				max := rapid.IntRange(1, 10).Draw(rt, "max")
				vis := time.Duration(rapid.IntRange(0, 5).Draw(rt, "vis")) * time.Second
				now := clock.Load()
				visible := 0
				for _, m := range md.live(now) {
					if m.visibleAt <= now {
						visible++
					}
				}
				room := limit - md.inflight(now)
				got, err := q.Receive(ctx, ReceiveOptions{Max: max, Visibility: &vis, Wait: &zero})
				if room <= 0 {
					if !errors.Is(err, ErrOverLimit) {
						rt.Fatalf("a receive with %d in flight: %v, want ErrOverLimit", limit-room, err)
					}
					return
				}
				if err != nil {
					rt.Fatal(err)
				}
				if want := min(max, visible, room); len(got) != want {
					rt.Fatalf("received %d messages, want %d", len(got), want)
				}
				for _, g := range got {
					m := md.byID(g.ID)
					if m == nil || m.gone || m.visibleAt > now || now >= m.sentAt+modelRetention {
						rt.Fatalf("received %s, which is not visible in the model: %+v", g.ID, m)
					}
					if g.Body != m.body || g.ReceiveCount != m.count+1 || g.MD5OfBody != MD5OfBody(m.body) {
						rt.Fatalf("received %+v, model %+v", g, m)
					}
					m.count++
					m.visibleAt = now + vis.Milliseconds()
					m.receipt = g.Receipt
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
				for _, m := range md.msgs {
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
				var want error
				var target *modelMsg
				for _, m := range md.live(now) {
					if m.receipt == r {
						target = m
					}
				}
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
			"purge": func(rt *rapid.T) {
				now := clock.Load()
				err := q.Purge(ctx)
				if md.hasPurged && now-md.purgedAt < 60_000 {
					if !errors.Is(err, ErrPurgeInProgress) {
						rt.Fatalf("purge: %v, want ErrPurgeInProgress", err)
					}
					return
				}
				if err != nil {
					rt.Fatal(err)
				}
				md.hasPurged, md.purgedAt = true, now
				for _, m := range md.msgs {
					m.gone = true
				}
			},
			"advance": func(rt *rapid.T) {
				clock.Add(int64(rapid.IntRange(0, 10_000).Draw(rt, "ms")))
			},
			"restart": func(rt *rapid.T) {
				if err := s.Close(); err != nil {
					rt.Fatal(err)
				}
				if s, err = Open(dir, opts); err != nil {
					rt.Fatal(err)
				}
				if q, err = s.Queue("q"); err != nil {
					rt.Fatal(err)
				}
				md.hasPurged = false // the purge limit is not kept across restarts
			},
			"compact": func(rt *rapid.T) {
				q.mu.Lock()
				q.compactLocked()
				q.mu.Unlock()
			},
			"": func(rt *rapid.T) {
				now := clock.Load()
				var visible, inflight, delayed int
				for _, m := range md.live(now) {
					switch {
					case m.visibleAt <= now:
						visible++
					case m.count > 0:
						inflight++
					default:
						delayed++
					}
				}
				q.mu.Lock()
				byID := map[string]*msg{}
				for _, m := range q.msgs {
					byID[formatID(m.id)] = m
				}
				q.mu.Unlock()
				for _, m := range md.live(now) {
					e := byID[m.id]
					if e == nil || e.visibleAt != m.visibleAt || int(e.count) != m.count || e.body != m.body {
						rt.Fatalf("message %s: engine %+v, model %+v", m.id, e, m)
					}
				}
				// The in-flight count a receive checks the limit with: the
				// messages received and not visible again, whether or not
				// their retention has passed (they leave when next met).
				modelInflight := md.inflight(now)
				q.mu.Lock()
				q.settleInflight(now)
				counted := q.inflight
				q.mu.Unlock()
				if counted != modelInflight {
					rt.Fatalf("in-flight count %d, model %d", counted, modelInflight)
				}
				a, err := q.Attributes()
				if err != nil {
					rt.Fatal(err)
				}
				got := a[AttrApproximateNumberOfMessages] + " " + a[AttrApproximateNumberOfMessagesNotVisible] + " " + a[AttrApproximateNumberOfMessagesDelayed]
				if want := fmt.Sprint(visible, inflight, delayed); got != want {
					rt.Fatalf("counts (visible, in flight, delayed) %s, model %s", got, want)
				}
			},
		})
	})
}
