package group

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Test timings: short, so that a dead member is noticed in about a second.
const (
	testSession   = 1200 * time.Millisecond
	testHeartbeat = 200 * time.Millisecond
	testRebalance = 3 * time.Second
)

// startCluster starts a one-broker in-process Kafka with the topics (name
// → partitions) and returns its address.
func startCluster(t testing.TB, topics map[string]int32) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// cable is a member's network: cut, every connection breaks and no new one
// opens, as when a process is killed or its machine vanishes (it sends no
// LeaveGroup).
type cable struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (c *cable) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, errors.New("cable cut")
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

// Mend lets the member connect again, as a paused process that resumes.
func (c *cable) Mend() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut, c.conns = false, nil
}

func (c *cable) Cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, conn := range c.conns {
		conn.Close()
	}
}

// owner plays a member's owner: it keeps the member's current partitions,
// acknowledging every revocation, and records the changes.
type owner struct {
	m    *Member
	mu   sync.Mutex
	gen  Gen
	own  map[string][]int
	last *Change // the last assignment
	revs int
	errs []error
	done chan struct{}

	ackDelay   time.Duration // how long the owner takes to let go of its partitions
	ackedAt    time.Time     // when it last let go
	assignedAt time.Time     // when it was first given partitions
}

// joinOwned joins the group and starts its owner; both stop with the test.
func joinOwned(t testing.TB, cfg Config) *owner {
	t.Helper()
	return joinOwnedSlow(t, cfg, 0)
}

// joinOwnedSlow is joinOwned with an owner that takes ackDelay to let go of
// revoked partitions.
func joinOwnedSlow(t testing.TB, cfg Config, ackDelay time.Duration) *owner {
	t.Helper()
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = testSession
		cfg.HeartbeatInterval = testHeartbeat
		cfg.RebalanceTimeout = testRebalance
	}
	m, err := Join(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := &owner{m: m, done: make(chan struct{}), ackDelay: ackDelay}
	go func() {
		defer close(o.done)
		for ch := range m.Changes() {
			if ch.Err != nil {
				o.mu.Lock()
				o.errs = append(o.errs, ch.Err)
				o.mu.Unlock()
				continue
			}
			if ch.Revoked != nil {
				time.Sleep(o.ackDelay)
			}
			o.mu.Lock()
			if ch.Revoked != nil {
				o.own, o.gen = nil, Gen{ID: -1}
				o.revs++
				o.ackedAt = time.Now()
			} else {
				o.own, o.gen, o.last = ch.Assigned, ch.Gen, ch
				if len(ch.Assigned) > 0 && o.assignedAt.IsZero() {
					o.assignedAt = time.Now()
				}
			}
			o.mu.Unlock()
			ch.Ack()
		}
	}()
	t.Cleanup(o.Close)
	return o
}

func (o *owner) Close() {
	o.m.Close()
	<-o.done
}

// state is the owner's generation and partitions.
func (o *owner) state() (Gen, map[string][]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gen, maps.Clone(o.own)
}

// settled waits until the owners, all in one generation, own every
// partition of the topics exactly once, and returns how long it took.
func settled(t testing.TB, owners []*owner, topics map[string]int32, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if ok, _ := covers(owners, topics); ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			_, why := covers(owners, topics)
			t.Fatalf("partitions not settled after %v: %s", within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// covers reports whether the owners, in one generation, own every partition
// of the topics exactly once; why says what is missing.
func covers(owners []*owner, topics map[string]int32) (bool, string) {
	seen := map[string]map[int]int{}
	gen := int32(-2)
	for _, o := range owners {
		g, own := o.state()
		if g.ID < 0 {
			return false, "a member is between generations"
		}
		if gen != -2 && g.ID != gen {
			return false, "members in different generations"
		}
		gen = g.ID
		for topic, ps := range own {
			if seen[topic] == nil {
				seen[topic] = map[int]int{}
			}
			for _, p := range ps {
				seen[topic][p]++
			}
		}
	}
	for topic, n := range topics {
		for p := range int(n) {
			if seen[topic][p] != 1 {
				return false, fmt.Sprintf("partition %s/%d owned %d times", topic, p, seen[topic][p])
			}
		}
	}
	return true, ""
}

// owned is the partitions of topic each owner has, sorted.
func owned(o *owner, topic string) []int {
	_, own := o.state()
	return slices.Sorted(slices.Values(own[topic]))
}
