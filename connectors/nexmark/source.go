package nexmark

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// blockEvents is the size of the blocks of events dealt to subtasks when
// the source runs as fast as it can.
const blockEvents = runtime.DefaultBatchRows

// pacedBlockSpan is how much event time, at most, a block of a paced
// source spans: the subtasks take turns every block, so with blocks of
// blockEvents at a low rate each would wait (p − 1) blocks between its own
// and hold the watermark back by as long (at 100 events/s and 4 subtasks,
// 30 s).
const pacedBlockSpan = 10 * time.Millisecond

// blockSize returns the events per block of cfg: blockEvents, or for a
// paced source at most pacedBlockSpan of event time at its slowest rate
// (at least one event).
func blockSize(cfg *config) int64 {
	if !cfg.paced {
		return blockEvents
	}
	rate := min(cfg.gen.cfg.FirstRate, cfg.gen.cfg.NextRate)
	return min(max(rate/int64(time.Second/pacedBlockSpan), 1), blockEvents)
}

// Pacing: a paced subtask sleeps at most maxWait per poll so the runtime
// can inject barriers and timers.
const maxWait = 50 * time.Millisecond

// Source is one subtask of a nexmark table. Subtask s of p generates the
// blocks of events s, s+p, s+2p, … (see blockSize) and is partition s for
// the watermark.
// It implements runtime.CheckpointedSource.
type Source struct {
	cfg *config

	subtask, par int64
	block        int64 // events per block (blockSize)
	total        int64 // events of the table; math.MaxInt64 when unbounded
	next         int64 // next event: inside one of this subtask's blocks, or ≥ total
	b            *runtime.Batch
	vecs         [numFields]*runtime.Vector // the batch's vector of each field, nil when absent
	nulls        [3][]bool                  // per event type: row is not of that type
	ev           Event
	buf          []byte

	polled bool
	t0     time.Time // of the first paced poll
	// anchor is the event time the wall clock is at t0: the base time, or
	// for a restored source the time of the earliest event its checkpoint
	// had not emitted (so it goes on at once, not after waiting as long as
	// it ran before).
	anchor  int64
	sleeper connectors.Sleeper

	restored  []position
	restoring bool
}

var (
	_ runtime.Source             = (*Source)(nil)
	_ runtime.PartitionedSource  = (*Source)(nil)
	_ runtime.CheckpointedSource = (*Source)(nil)
)

// Open prepares subtask ctx.Subtask of ctx.Parallelism.
func (s *Source) Open(ctx *runtime.Context) error {
	s.subtask, s.par = int64(ctx.Subtask), int64(max(ctx.Parallelism, 1))
	s.total = s.cfg.gen.cfg.Events
	if s.total == 0 {
		s.total = math.MaxInt64
	}
	s.block = blockSize(s.cfg)
	s.anchor = s.cfg.gen.cfg.BaseTime
	s.next = s.subtask * s.block
	s.b = runtime.NewBatch(s.cfg.schema)
	for i := range s.nulls {
		s.nulls[i] = make([]bool, blockEvents)
	}
	if s.restoring {
		return s.restore()
	}
	return nil
}

// Partitions returns this subtask's one partition, its index.
func (s *Source) Partitions() []int { return []int{int(s.subtask)} }

// Poll returns the next events of the subtask's current block, at most one
// block; io.EOF once a bounded table is done. The batch is borrowed until
// the next call.
func (s *Source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if s.next >= s.total {
		return nil, 0, io.EOF
	}
	blockEnd := min((s.next/s.block+1)*s.block, s.total)
	n := blockEnd - s.next
	s.polled = true
	if s.cfg.paced {
		// Emit the events whose time the wall clock has reached, counting
		// from the first poll at the base time.
		now := time.Now()
		if s.t0.IsZero() {
			s.t0 = now
		}
		due := s.anchor + now.Sub(s.t0).Milliseconds()
		k := int64(0)
		for k < n && s.cfg.gen.TimeOf(s.next+k) <= due {
			k++
		}
		if k == 0 {
			wait := time.Duration(s.cfg.gen.TimeOf(s.next)-due) * time.Millisecond
			s.sleeper.Sleep(ctx, min(max(wait, time.Millisecond), maxWait))
			return nil, 0, nil
		}
		n = k
	}
	s.fill(s.next, int(n))
	s.next += n
	if s.next == blockEnd && s.next < s.total {
		s.next += (s.par - 1) * s.block // on to this subtask's next block
	}
	return s.b, int(s.subtask), nil
}

// fill generates events first … first+n-1 into s.b.
func (s *Source) fill(first int64, n int) {
	b := s.b
	for c, f := range s.cfg.fields {
		v := &b.Cols[c]
		v.Resize(n)
		if v.Type.Physical() == runtime.PhysString {
			clear(v.Str)
		}
		s.vecs[f] = v
	}
	want := [3]bool{}
	for _, f := range s.cfg.fields {
		if e := f.eventOf(); e >= 0 {
			want[e] = true
		}
	}
	mat := [3]bool{want[PersonEvent] && (s.vecs[fPersonEmail] != nil || s.vecs[fPersonCreditCard] != nil),
		want[AuctionEvent] && (s.vecs[fAuctionItemName] != nil || s.vecs[fAuctionDescription] != nil)}
	ev := &s.ev
	v := &s.vecs
	for i := range n {
		s.cfg.gen.event(first+int64(i), ev, &s.buf, mat[s.cfg.gen.TypeOf(first+int64(i))])
		for t := range s.nulls {
			s.nulls[t][i] = ev.Type != t
		}
		if x := v[fEventType]; x != nil {
			x.I64[i] = int64(ev.Type)
		}
		if x := v[fDateTime]; x != nil {
			x.I64[i] = ev.Time
		}
		switch ev.Type {
		case PersonEvent:
			p := &ev.Person
			setInt(v[fPersonID], i, p.ID)
			setStr(v[fPersonName], i, p.Name)
			setStr(v[fPersonEmail], i, p.EmailAddress)
			setStr(v[fPersonCreditCard], i, p.CreditCard)
			setStr(v[fPersonCity], i, p.City)
			setStr(v[fPersonState], i, p.State)
			setInt(v[fPersonDateTime], i, p.DateTime)
			setStr(v[fPersonExtra], i, p.Extra)
		case AuctionEvent:
			a := &ev.Auction
			setInt(v[fAuctionID], i, a.ID)
			setStr(v[fAuctionItemName], i, a.ItemName)
			setStr(v[fAuctionDescription], i, a.Description)
			setInt(v[fAuctionInitialBid], i, a.InitialBid)
			setInt(v[fAuctionReserve], i, a.Reserve)
			setInt(v[fAuctionDateTime], i, a.DateTime)
			setInt(v[fAuctionExpires], i, a.Expires)
			setInt(v[fAuctionSeller], i, a.Seller)
			setInt(v[fAuctionCategory], i, a.Category)
			setStr(v[fAuctionExtra], i, a.Extra)
		default:
			d := &ev.Bid
			setInt(v[fBidAuction], i, d.Auction)
			setInt(v[fBidBidder], i, d.Bidder)
			setInt(v[fBidPrice], i, d.Price)
			setStr(v[fBidChannel], i, d.Channel)
			setStr(v[fBidURL], i, d.URL)
			setInt(v[fBidDateTime], i, d.DateTime)
			setStr(v[fBidExtra], i, d.Extra)
		}
	}
	for c, f := range s.cfg.fields {
		col := &b.Cols[c]
		if e := f.eventOf(); e >= 0 {
			col.Null = s.nulls[e][:n]
			if col.Type.Physical() != runtime.PhysString {
				for i, null := range col.Null {
					if null {
						col.I64[i] = 0
					}
				}
			}
		}
	}
	b.N, b.Sel, b.Kinds = n, nil, nil
}

func setInt(v *runtime.Vector, i int, x int64) {
	if v != nil {
		v.I64[i] = x
	}
}

func setStr(v *runtime.Vector, i int, x string) {
	if v != nil {
		v.Str[i] = x
	}
}

// Close releases the subtask's batch.
func (s *Source) Close() error {
	s.sleeper.Stop()
	if s.b != nil {
		for c := range s.b.Cols {
			s.b.Cols[c].Null = nil // ours, not the pool's
		}
		s.b.Release()
		s.b = nil
	}
	return nil
}

// position is a subtask's checkpointed position (JSON).
type position struct {
	Table       string `json:"table"`
	Subtask     int64  `json:"subtask"`
	Parallelism int64  `json:"parallelism"`
	Next        int64  `json:"next"`
	// Block is the events per block (absent in positions written before
	// paced sources had smaller blocks: blockEvents).
	Block int64 `json:"block,omitempty"`
}

// SnapshotPosition returns the subtask's position: the next event it
// emits.
func (s *Source) SnapshotPosition() ([]byte, error) {
	return json.Marshal(position{Table: s.cfg.table, Subtask: s.subtask, Parallelism: s.par, Next: s.next, Block: s.block})
}

// RestorePositions takes the positions of every subtask of a checkpoint
// (before Open); Open picks this subtask's.
func (s *Source) RestorePositions(all [][]byte) error {
	var ps []position
	for i, data := range all {
		var p position
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("table %s: checkpointed position %d of the nexmark source is not readable: %v", s.cfg.table, i, err)
		}
		if p.Parallelism < 1 || p.Subtask < 0 || p.Subtask >= p.Parallelism || p.Next < 0 {
			return fmt.Errorf("table %s: checkpointed position %d of the nexmark source is not valid: subtask %d of %d at event %d",
				s.cfg.table, i, p.Subtask, p.Parallelism, p.Next)
		}
		ps = append(ps, p)
	}
	s.restored, s.restoring = ps, true
	return nil
}

func (s *Source) restore() error {
	if len(s.restored) == 0 {
		return nil
	}
	if was := s.restored[0].Parallelism; was != s.par {
		return fmt.Errorf("table %s: the checkpoint was taken with %d nexmark subtasks and the job now runs %d; "+
			"a nexmark source can only be restored with the parallelism of its checkpoint", s.cfg.table, was, s.par)
	}
	was := s.restored[0].Block
	if was == 0 {
		was = blockEvents
	}
	if was != s.block {
		return fmt.Errorf("table %s: the checkpoint dealt the nexmark events to subtasks in blocks of %d and the job now deals "+
			"blocks of %d (with 'rate.limited' a block spans 10 ms at the slower of first-event.rate and next-event.rate); "+
			"restore it with the options of its checkpoint", s.cfg.table, was, s.block)
	}
	first := s.restored[0].Next
	for _, p := range s.restored {
		first = min(first, p.Next)
	}
	if first < s.total {
		s.anchor = s.cfg.gen.TimeOf(first)
	}
	for _, p := range s.restored {
		if p.Subtask == s.subtask {
			s.next = p.Next
			return nil
		}
	}
	return fmt.Errorf("table %s: the checkpoint holds no position of nexmark subtask %d of %d", s.cfg.table, s.subtask, s.par)
}
