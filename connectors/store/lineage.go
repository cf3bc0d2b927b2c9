package store

import (
	"context"
	"sync"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/store/client"
	shardlineage "github.com/sluicehq/sluice/store/lineage"
)

// lineage is the shard lineage of a stream as the subtasks of one run of a
// source see it: every shard listed at Open and every child reported since
// by GetRecords, each with a stable index (its watermark partition), and
// who reads it. It is shared by the subtasks of the run (they run in one
// process) and guarded by its mutex.
//
// A shard is read only once every parent of it has been read to its end
// (store/lineage keeps the order): the shards ready at Open (no parent in
// the list, or, with 'scan.startup.mode' = 'latest', every open shard) are
// dealt to the
// subtasks in turn; a child becomes ready when its last parent ends and is
// read by the subtask that read that parent, so that for each partition key
// the records of the parent leave the subtask before those of the child.
type lineage struct {
	cfg         *config
	parallelism int
	joined      int // subtasks of the run that have opened

	// Set by open, read-only afterwards.
	startTs      int64  // AT_TIMESTAMP start, or the start of a 'latest' run (epoch ms)
	bound        int64  // bounded reads end at records that arrived after this (epoch ms)
	childStartup string // iterator type of shards created by resharding
	consumerARN  string // enhanced fan-out: the consumer that subscribes

	mu     sync.Mutex
	listed bool
	err    error               // of the listing
	g      *shardlineage.Graph // the order: set by open
	shards map[string]*lshard
	queue  [][]*lshard // per subtask: assigned, not yet taken
}

// lshard is one shard of the lineage: its place in the order (ID, Index,
// Ended: read to its end or, closed before a 'latest' start, skipped) and
// where its reading starts.
type lshard struct {
	*shardlineage.Shard
	startup string // iterator type of its first read
	after   string // restored: the sequence number to read after
}

// lineages hands the subtasks of each run of a source their shared
// lineage: subtasks join the current one until all of its run have joined.
type lineages struct {
	mu  sync.Mutex
	cur *lineage
}

func (ls *lineages) join(cfg *config, ctx *runtime.Context) *lineage {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	p := max(ctx.Parallelism, 1)
	if ls.cur == nil || ls.cur.joined >= ls.cur.parallelism || ls.cur.parallelism != p {
		ls.cur = &lineage{cfg: cfg, parallelism: p, shards: map[string]*lshard{}, queue: make([][]*lshard, p)}
	}
	ls.cur.joined++
	return ls.cur
}

// open lists the stream's shards once per run (the first subtask to open
// does it) and deals the ready ones. With a restored position, shards it
// has read to their end are skipped and the others resume after their
// position, or from the position's start.
func (l *lineage) open(ctx context.Context, restored *position) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.listed {
		return l.err
	}
	l.listed = true
	now := time.Now().UnixMilli()
	l.childStartup = client.TrimHorizon
	switch {
	case restored != nil:
		l.startTs, l.bound = restored.Start, restored.Bound
	case l.cfg.startup == client.AtTimestamp:
		l.startTs = l.cfg.startTs
	case l.cfg.startup == client.Latest:
		l.startTs = now
	}
	if l.cfg.startup == client.AtTimestamp {
		l.childStartup = client.AtTimestamp
	}
	if l.cfg.bounded && l.bound == 0 {
		l.bound = now
	}
	ended := map[string]bool{}
	if restored != nil {
		for _, id := range restored.Ended {
			ended[id] = true
		}
	}
	if err := l.cfg.ensureStream(ctx); err != nil {
		l.err = err
		return err
	}
	all, err := l.cfg.client.ListShards(ctx, l.cfg.stream) // every shard, open and closed
	if err != nil {
		l.err = l.cfg.listError(ctx, err)
		return l.err
	}
	if l.cfg.efo != nil {
		if l.consumerARN, err = l.cfg.consumerARN(ctx); err != nil {
			l.err = err
			return err
		}
	}
	l.g = shardlineage.New(all)
	for _, sh := range all { // in shard id order
		n := l.add(sh.ShardId)
		switch {
		case restored == nil:
			n.startup = l.cfg.startup
			if l.cfg.startup == client.Latest && !sh.Open() {
				n.Ended = true // what it holds is older than the start
			}
		case ended[sh.ShardId]:
			n.Ended = true
		case restored.Shards[sh.ShardId] != "":
			n.after = restored.Shards[sh.ShardId]
		case restored.Start != 0:
			n.startup = client.AtTimestamp
		default:
			n.startup = client.TrimHorizon
		}
	}
	for k, n := range l.g.Take() {
		l.assign(l.add(n.ID), k%l.parallelism)
	}
	return nil
}

// add returns the shard id of the lineage's graph, with where its reading
// starts (a shard created by resharding: childStartup).
func (l *lineage) add(id string) *lshard {
	n := l.shards[id]
	if n == nil {
		n = &lshard{Shard: l.g.Shard(id), startup: l.childStartup}
		l.shards[id] = n
	}
	return n
}

func (l *lineage) assign(n *lshard, subtask int) {
	l.queue[subtask] = append(l.queue[subtask], n)
}

// take returns the shards newly assigned to subtask.
func (l *lineage) take(subtask int) []*lshard {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queue[subtask]
	l.queue[subtask] = nil
	return q
}

// end records that subtask has read shard id to its end, with the children
// GetRecords named; a child whose parents have all ended goes to subtask.
func (l *lineage) end(subtask int, id string, children []client.ChildShard) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.g == nil {
		return
	}
	for _, c := range l.g.End(id, children) {
		l.assign(l.add(c.ID), subtask)
	}
}

// resumeFrom is where a restored run starts shards that have no position:
// 0 for the trim horizon, else an arrival time.
func (l *lineage) resumeFrom() int64 { return l.startTs }

// boundIfAny is the arrival time a bounded read ends at (0: unbounded).
func (l *lineage) boundIfAny() int64 { return l.bound }
