package server

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/store"
)

// Stream states, as Kinesis: CreateStream leaves a stream CREATING,
// DeleteStream DELETING, and SplitShard, MergeShards, UpdateShardCount and
// UpdateStreamMode UPDATING, for the state delay once their work is done
// (UpdateShardCount's work, its splits and merges, runs in the background
// and the stream is UPDATING throughout). While CREATING, puts answer
// ResourceNotFoundException and ListShards ResourceInUseException; while
// not ACTIVE, the operations that change shards or the capacity mode answer
// ResourceInUseException; a DELETING stream is only described and listed
// (its records are already gone), and its name is taken until it is gone.
// Reads are served in every state. States are not kept on disk: a store
// opens every stream ACTIVE, and goes on with an UpdateShardCount under way.

// DefaultStateDelay is how long a stream stays CREATING, UPDATING or
// DELETING when Options.StateDelay is zero: long enough for a client (and
// the AWS SDKs' waiters) to see the state, short enough not to slow anyone.
const DefaultStateDelay = 100 * time.Millisecond

// unsetStateDelay is the state delay of Options without one.
var unsetStateDelay = DefaultStateDelay

// Limits of resharding and capacity modes, as Kinesis's defaults.
const (
	// MaxScalingsPerDay bounds UpdateShardCount calls per stream in a
	// rolling 24 hours.
	MaxScalingsPerDay = 10
	// MaxModeSwitchesPerDay bounds UpdateStreamMode calls per stream in a
	// rolling 24 hours.
	MaxModeSwitchesPerDay = 2
	// MaxOnDemandStreams bounds the streams in ON_DEMAND mode.
	MaxOnDemandStreams = 50
	// OnDemandInitialShards is the shard count of a new ON_DEMAND stream.
	OnDemandInitialShards = 4
)

// Stream statuses, as Kinesis.
const (
	statusActive   = "ACTIVE"
	statusCreating = "CREATING"
	statusUpdating = "UPDATING"
	statusDeleting = "DELETING"
)

const (
	modeProvisioned = "PROVISIONED"
	modeOnDemand    = "ON_DEMAND"
)

// OnDemand configures how ON_DEMAND streams scale themselves: every
// Interval the server measures each open shard's write rate since the last
// measure; a shard above RecordsPerSecond or BytesPerSecond for Sustain or
// longer is split at the middle of its hash key range (one split per
// stream and interval), up to the shard limits. Zero fields take
// DefaultOnDemand's values. Streams are never scaled down.
type OnDemand struct {
	RecordsPerSecond int64
	BytesPerSecond   int64
	Sustain          time.Duration
	Interval         time.Duration
}

// DefaultOnDemand is a shard's write capacity in Kinesis (1,000 records or
// 1 MiB per second), sustained for a minute, measured every second.
func DefaultOnDemand() OnDemand {
	return OnDemand{RecordsPerSecond: 1000, BytesPerSecond: 1 << 20, Sustain: time.Minute, Interval: time.Second}
}

func (o OnDemand) withDefaults() OnDemand {
	d := DefaultOnDemand()
	setDefault(&o.RecordsPerSecond, d.RecordsPerSecond)
	setDefault(&o.BytesPerSecond, d.BytesPerSecond)
	setDefault(&o.Sustain, d.Sustain)
	setDefault(&o.Interval, d.Interval)
	return o
}

// streamState is a stream's status and, for ON_DEMAND streams, the write
// load of its shards. It has a lock of its own, so that it can be read
// without the stream's; mu is taken last (after stream.mu and Server.mu)
// and held only to read or set the status.
type streamState struct {
	mu     sync.Mutex
	status string    // "" is ACTIVE
	until  time.Time // when status ends; zero while its operation runs
	// busy is set while status is not "", so that puts check for
	// CREATING without taking mu.
	busy atomic.Bool

	onDemand atomic.Bool // mirrors meta.Mode
	loads    sync.Map    // shard id -> *shardLoad, counted while onDemand

	// hot is when each shard was first seen above capacity, as of the
	// measure at seen; only the scaling loop touches them.
	hot  map[string]time.Time
	seen time.Time
}

type shardLoad struct{ records, bytes atomic.Int64 }

// get is the stream's status.
func (ss *streamState) get() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.status != "" && !ss.until.IsZero() && !time.Now().Before(ss.until) {
		ss.status = ""
		ss.busy.Store(false)
	}
	if ss.status == "" {
		return statusActive
	}
	return ss.status
}

// begin moves an ACTIVE stream to status until end is called; otherwise it
// answers ResourceInUseException naming the current status.
func (ss *streamState) begin(name, status string) error {
	if cur := ss.get(); cur != statusActive {
		return notActive(name, cur)
	}
	ss.mu.Lock()
	ss.status, ss.until = status, time.Time{}
	ss.busy.Store(true)
	ss.mu.Unlock()
	return nil
}

// end lets the status begun last stay for d, then the stream is ACTIVE.
func (ss *streamState) end(d time.Duration) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if d <= 0 {
		ss.status = ""
		ss.busy.Store(false)
		return
	}
	ss.until = time.Now().Add(d)
}

// count adds appended records and their data bytes to shard id's load.
func (ss *streamState) count(id string, records, bytes int) {
	if !ss.onDemand.Load() {
		return
	}
	v, ok := ss.loads.Load(id)
	if !ok {
		v, _ = ss.loads.LoadOrStore(id, new(shardLoad))
	}
	l := v.(*shardLoad)
	l.records.Add(int64(records))
	l.bytes.Add(int64(bytes))
}

// countBatch counts a batch of records appended to shard id.
func (ss *streamState) countBatch(id string, data [][]byte) {
	if !ss.onDemand.Load() {
		return
	}
	n := 0
	for _, d := range data {
		n += len(d)
	}
	ss.count(id, len(data), n)
}

// creating starts a new stream's CREATING status, to last d.
func (ss *streamState) creating(d time.Duration) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.status, ss.until = statusCreating, time.Now().Add(d)
	ss.busy.Store(true)
}

// writable refuses puts to a CREATING stream, as Kinesis does.
func (ss *streamState) writable(name string) error {
	if ss.busy.Load() && ss.get() == statusCreating {
		return apiErr(store.ErrResourceNotFound, store.MsgStreamNotFound, name, store.AccountID)
	}
	return nil
}

// listable refuses ListShards of a CREATING stream, as Kinesis does.
func (ss *streamState) listable(name string) error {
	if status := ss.get(); status == statusCreating {
		return apiErr(store.ErrResourceInUse, store.MsgStreamNotActiveOrUpdating, name, store.AccountID, status)
	}
	return nil
}

func notActive(name, status string) error {
	return apiErr(store.ErrResourceInUse, store.MsgStreamNotActive, name, store.AccountID, status)
}

func (ss *streamState) mode() map[string]string {
	if ss.onDemand.Load() {
		return map[string]string{"StreamMode": modeOnDemand}
	}
	return provisioned
}

// deletedStream is a stream DeleteStream removed, still shown as DELETING.
type deletedStream struct {
	until   time.Time
	created int64
}

// scaling is the Server's state for stream states and scaling.
type scaling struct {
	deleting map[string]deletedStream // guarded by Server.mu
}

func (s *Server) stateDelay() time.Duration { return max(s.opts.StateDelay, 0) }

// markDeleting shows a deleted stream as DELETING for the state delay.
// Callers hold s.mu.
func (s *Server) markDeleting(name string, created int64) {
	if d := s.stateDelay(); d > 0 {
		if s.scale.deleting == nil {
			s.scale.deleting = map[string]deletedStream{}
		}
		s.scale.deleting[name] = deletedStream{time.Now().Add(d), created}
	}
}

// deletingLocked reports whether name is a stream being deleted. Callers
// hold s.mu.
func (s *Server) deletingLocked(name string) (deletedStream, bool) {
	d, ok := s.scale.deleting[name]
	if ok && !time.Now().Before(d.until) {
		delete(s.scale.deleting, name)
		ok = false
	}
	return d, ok
}

// describeDeleting answers DescribeStream or DescribeStreamSummary (summary
// set) for a stream being deleted, or returns err unchanged.
func (s *Server) describeDeleting(name string, err error, summary bool) (any, error) {
	if ae, ok := err.(*store.Error); !ok || ae.Code != store.ErrResourceNotFound {
		return nil, err
	}
	s.mu.Lock()
	d, ok := s.deletingLocked(name)
	s.mu.Unlock()
	if !ok {
		return nil, err
	}
	desc := map[string]any{
		"StreamName":              name,
		"StreamARN":               s.arn(name),
		"StreamStatus":            statusDeleting,
		"StreamModeDetails":       provisioned,
		"RetentionPeriodHours":    MinRetentionHours,
		"StreamCreationTimestamp": epochSeconds(d.created),
		"EnhancedMonitoring":      []map[string][]string{{"ShardLevelMetrics": {}}},
		"EncryptionType":          "NONE",
	}
	if summary {
		desc["OpenShardCount"], desc["ConsumerCount"] = 0, 0
		return map[string]any{"StreamDescriptionSummary": desc}, nil
	}
	desc["Shards"], desc["HasMoreShards"] = []shardOut{}, false
	return map[string]any{"StreamDescription": desc}, nil
}

// recent keeps the times (Unix ms) of times within the last 24 hours of now.
func recent(times []int64, now time.Time) []int64 {
	cut := now.Add(-24 * time.Hour).UnixMilli()
	out := times[:0:0]
	for _, t := range times {
		if t > cut {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) updateShardCount(body []byte) (any, error) {
	var in struct {
		streamRef
		TargetShardCount *int
		ScalingType      *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	switch n := in.TargetShardCount; {
	case n == nil:
		c.null("targetShardCount")
	case *n < 1:
		c.fail(strconv.Itoa(*n), true, "targetShardCount", fmt.Sprintf(store.MsgMinValue, 1))
	case *n > 100000:
		c.fail(strconv.Itoa(*n), true, "targetShardCount", fmt.Sprintf(store.MsgMaxValue, 100000))
	}
	c.enum("scalingType", in.ScalingType, true, "UNIFORM_SCALING")
	if err := c.err(); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	name, n, cur := st.meta.Name, *in.TargetShardCount, len(st.shards.Open())
	if st.state.onDemand.Load() {
		return nil, apiErr(store.ErrValidation, store.MsgShardCountOnDemand, name, store.AccountID)
	}
	if status := st.state.get(); status != statusActive {
		return nil, notActive(name, status)
	}
	if n > MaxShardsPerStream {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgShardCountMost, MaxShardsPerStream, cur, n)
	}
	if n > 2*cur {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgShardCountDouble, cur, n)
	}
	if 2*n < cur {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgShardCountHalf, cur, n)
	}
	now := s.opts.Now()
	scaled := recent(st.meta.Scaled, now)
	if len(scaled) >= MaxScalingsPerDay {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgShardCountRate, name, store.AccountID, len(scaled))
	}
	_, created, err := st.shards.UniformPlan(n)
	if err != nil {
		return nil, err
	}
	if lim := int64(s.opts.Limits.MaxShards); lim > 0 && s.shardCount.Load()+int64(created) > lim {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgStoreShardLimitScale,
			s.shardCount.Load(), created, lim)
	}
	old := st.meta.Scaled
	st.meta.Scaled, st.meta.ScalingTo = append(scaled, now.UnixMilli()), n
	if err := st.save(); err != nil {
		st.meta.Scaled, st.meta.ScalingTo = old, 0
		return nil, err
	}
	if err := st.state.begin(name, statusUpdating); err != nil {
		return nil, err
	}
	target := st.shards.UniformTarget(n)
	if !s.goBackground(func() { s.scaleUniform(st, n, target) }) {
		st.state.end(0)
		return nil, fmt.Errorf("server closed")
	}
	return map[string]any{"StreamName": name, "StreamARN": s.arn(name), "CurrentShardCount": cur, "TargetShardCount": n}, nil
}

// goBackground runs f in a goroutine Close waits for, unless the server is
// closed.
func (s *Server) goBackground(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// scaleUniform reshards st to target, n uniform shards (see
// store.ShardMap.UniformTarget), one split or merge at a
// time, each under the stream's write lock on its own, so writers and
// readers go on between steps; then the stream is ACTIVE again after the
// state delay. A step that fails (the store's shard limit, a full disk)
// stops the scaling where it is; the open shards always cover every hash
// key. stream.json names the target (ScalingTo) until the scaling ends, so
// that one cut short by Close or a crash goes on when the store reopens.
func (s *Server) scaleUniform(st *stream, n int, target []store.HashRange) {
	defer func() { st.state.end(s.stateDelay()) }()
	defer func() {
		select {
		case <-s.stop:
			return // resumed by the next New
		default:
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.gone() == nil {
			st.meta.ScalingTo = 0
			if err := st.save(); err != nil {
				s.logf("stream %s: %v", st.meta.Name, err)
			}
		}
	}()
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		more := false
		err := s.reshardStream(st, false, func(m *store.ShardMap) error {
			var err error
			more, err = m.UniformStep(target)
			return err
		})
		var ae *store.Error
		if errors.As(err, &ae) && ae.Code == store.ErrResourceNotFound {
			return // deleted
		}
		if err != nil {
			s.logf("stream %s: scaling to %d shards stopped: %v", st.meta.Name, n, err)
			return
		}
		if !more {
			return
		}
	}
}

func (s *Server) updateStreamMode(body []byte) (any, error) {
	var in struct {
		StreamARN         *string
		StreamModeDetails *struct{ StreamMode *string }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	switch {
	case in.StreamARN == nil:
		c.null("streamARN")
	case !arnPattern.match(*in.StreamARN):
		c.fail(*in.StreamARN, true, "streamARN", fmt.Sprintf(store.MsgPattern, arnPattern.text))
	}
	if d := in.StreamModeDetails; d == nil {
		c.null("streamModeDetails")
	} else {
		c.enum("streamModeDetails.streamMode", d.StreamMode, true, modeProvisioned, modeOnDemand)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	mode := *in.StreamModeDetails.StreamMode
	st, unlock, err := s.locked(streamRef{StreamARN: *in.StreamARN}.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	name := st.meta.Name
	if status := st.state.get(); status != statusActive {
		return nil, notActive(name, status)
	}
	if cur := st.state.mode()["StreamMode"]; cur == mode {
		return nil, apiErr(store.ErrInvalidArgument, store.MsgStreamModeSame, name, store.AccountID, mode)
	}
	now := s.opts.Now()
	switched := recent(st.meta.ModeSwitched, now)
	if len(switched) >= MaxModeSwitchesPerDay {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgStreamModeRate, name, store.AccountID, len(switched))
	}
	if mode == modeOnDemand {
		if n := s.onDemandStreams(); n >= MaxOnDemandStreams {
			return nil, apiErr(store.ErrLimitExceeded, store.MsgOnDemandLimit, MaxOnDemandStreams, store.AccountID)
		}
	}
	oldMode, oldSwitched := st.meta.Mode, st.meta.ModeSwitched
	st.meta.Mode, st.meta.ModeSwitched = "", append(switched, now.UnixMilli())
	if mode == modeOnDemand {
		st.meta.Mode = modeOnDemand
	}
	if err := st.save(); err != nil {
		st.meta.Mode, st.meta.ModeSwitched = oldMode, oldSwitched
		return nil, err
	}
	st.state.onDemand.Store(mode == modeOnDemand)
	if err := st.state.begin(name, statusUpdating); err == nil {
		st.state.end(s.stateDelay())
	}
	return struct{}{}, nil
}

// resumeScaling goes on with the UpdateShardCount calls that Close or a
// crash cut short. New calls it once every stream is open.
func (s *Server) resumeScaling() {
	for _, st := range s.streams {
		if n := st.meta.ScalingTo; n > 0 && st.state.begin(st.meta.Name, statusUpdating) == nil {
			target := st.shards.UniformTarget(n)
			s.goBackground(func() { s.scaleUniform(st, n, target) })
		}
	}
}

// onDemandStreams counts the ON_DEMAND streams.
func (s *Server) onDemandStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onDemandStreamsLocked()
}

func (s *Server) onDemandStreamsLocked() int {
	n := 0
	for _, st := range s.streams {
		if st.state.onDemand.Load() {
			n++
		}
	}
	return n
}

func (s *Server) describeLimits(body []byte) (any, error) {
	if err := decode(body, &struct{}{}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	list := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st)
	}
	onDemand := s.onDemandStreamsLocked()
	s.mu.Unlock()
	open := 0
	for _, st := range list {
		st.mu.RLock()
		if st.gone() == nil {
			open += len(st.shards.Open())
		}
		st.mu.RUnlock()
	}
	limit := s.opts.Limits.MaxShards
	if limit < 0 {
		limit = math.MaxInt32 // no limit: the largest the field holds
	}
	return map[string]any{"ShardLimit": limit, "OpenShardCount": open,
		"OnDemandStreamCount": onDemand, "OnDemandStreamCountLimit": MaxOnDemandStreams}, nil
}

// scaleLoop scales ON_DEMAND streams under write load (see OnDemand).
func (s *Server) scaleLoop() {
	defer s.wg.Done()
	o := s.opts.OnDemand
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.scaleOnDemand(now, now.Sub(last))
			last = now
		}
	}
}

func (s *Server) scaleOnDemand(now time.Time, elapsed time.Duration) {
	s.mu.Lock()
	var list []*stream
	for _, st := range s.streams {
		if st.state.onDemand.Load() {
			list = append(list, st)
		}
	}
	s.mu.Unlock()
	o := s.opts.OnDemand
	secs := elapsed.Seconds()
	if secs <= 0 {
		return
	}
	for _, st := range list {
		var split *store.Shard
		st.mu.RLock()
		if st.gone() != nil {
			st.mu.RUnlock()
			continue
		}
		open := st.shards.Open()
		if st.state.hot == nil || now.Sub(st.state.seen) > 2*elapsed {
			// New, or not measured last time (it was PROVISIONED).
			st.state.hot = map[string]time.Time{}
		}
		st.state.seen = now
		for _, sh := range open {
			var recs, bytes int64
			if v, ok := st.state.loads.Load(sh.ID); ok {
				l := v.(*shardLoad)
				recs, bytes = l.records.Swap(0), l.bytes.Swap(0)
			}
			if float64(recs)/secs <= float64(o.RecordsPerSecond) && float64(bytes)/secs <= float64(o.BytesPerSecond) {
				delete(st.state.hot, sh.ID)
				continue
			}
			since, ok := st.state.hot[sh.ID]
			if !ok {
				st.state.hot[sh.ID], since = now, now
			}
			if split == nil && now.Sub(since) >= o.Sustain && sh.Range.Start != sh.Range.End && len(open) < MaxShardsPerStream {
				split = sh
			}
		}
		isOpen := make(map[any]bool, len(open))
		for _, sh := range open {
			isOpen[sh.ID] = true
		}
		st.state.loads.Range(func(id, _ any) bool { // forget closed shards
			if !isOpen[id] {
				st.state.loads.Delete(id)
			}
			return true
		})
		st.mu.RUnlock()
		if split == nil || st.state.get() != statusActive {
			continue
		}
		err := s.reshardStream(st, true, func(m *store.ShardMap) error {
			_, _, err := m.Split(split.ID, split.Range.Middle())
			return err
		})
		if err != nil {
			s.warn.Printf("on-demand stream %s: cannot split hot shard %s: %v", st.meta.Name, split.ID, err)
			continue
		}
		delete(st.state.hot, split.ID)
	}
}
