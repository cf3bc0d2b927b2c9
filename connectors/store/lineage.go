package store

import (
	"context"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/store/client"
)

// lineage is the shard lineage of a stream as the subtasks of one run of a
// source see it: every shard listed at Open and every child reported since
// by GetRecords, each with a stable index (its watermark partition), and
// who reads it. It is shared by the subtasks of the run (they run in one
// process) and guarded by its mutex.
//
// A shard is read only once every parent of it has been read to its end:
// the shards ready at Open (no parent in the list, or, with
// 'scan.startup.mode' = 'latest', every open shard) are dealt to the
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

	mu      sync.Mutex
	listed  bool
	listedN int   // shards from the listing at Open: indexes below it
	err     error // of the listing
	shards  map[string]*lshard
	order   []*lshard   // by index
	queue   [][]*lshard // per subtask: assigned, not yet taken
}

// lshard is one shard of the lineage.
type lshard struct {
	id       string
	idx      int
	parents  []string
	children []string
	startup  string // iterator type of its first read
	after    string // restored: the sequence number to read after
	ended    bool   // read to its end (or, closed before a 'latest' start, skipped)
	assigned bool
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
		l.err = connectors.Errorf(l.cfg.table, "stream %s: cannot list shards: %w", l.cfg.stream, err)
		return l.err
	}
	for _, sh := range all { // in shard id order
		n := l.add(sh.ShardId, sh.ParentShardId, sh.AdjacentParentShardId)
		switch {
		case restored == nil:
			n.startup = l.cfg.startup
			if l.cfg.startup == client.Latest && !sh.Open() {
				n.ended = true // what it holds is older than the start
			}
		case ended[sh.ShardId]:
			n.ended = true
		case restored.Shards[sh.ShardId] != "":
			n.after = restored.Shards[sh.ShardId]
		case restored.Start != 0:
			n.startup = client.AtTimestamp
		default:
			n.startup = client.TrimHorizon
		}
	}
	l.listedN = len(l.order)
	k := 0
	for _, n := range l.order {
		if n.ended || !l.ready(n) {
			continue
		}
		l.assign(n, k%l.parallelism)
		k++
	}
	return nil
}

// add registers a shard (once) and links it to its known parents.
func (l *lineage) add(id string, parents ...string) *lshard {
	n := l.shards[id]
	if n == nil {
		n = &lshard{id: id, idx: len(l.order), startup: l.childStartup}
		l.shards[id] = n
		l.order = append(l.order, n)
	}
	for _, p := range parents {
		if p == "" || contains(n.parents, p) {
			continue
		}
		n.parents = append(n.parents, p)
		if pn := l.shards[p]; pn != nil && !contains(pn.children, id) {
			pn.children = append(pn.children, id)
		}
	}
	// Shards already known that name n as a parent.
	for _, c := range l.order {
		if contains(c.parents, id) && !contains(n.children, c.id) {
			n.children = append(n.children, c.id)
		}
	}
	return n
}

// ready reports whether every parent of n has ended. A parent not in the
// lineage was either gone before the start (not read) or is not known yet:
// at Open the former; afterwards the latter, since a shard is always
// reported with its parent's end.
func (l *lineage) ready(n *lshard) bool {
	for _, p := range n.parents {
		pn := l.shards[p]
		if pn == nil {
			if n.idx < l.listedN {
				continue
			}
			return false
		}
		if !pn.ended {
			return false
		}
	}
	return true
}

func (l *lineage) assign(n *lshard, subtask int) {
	n.assigned = true
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
	n := l.shards[id]
	if n == nil {
		return
	}
	n.ended = true
	for _, c := range children {
		l.add(c.ShardId, c.ParentShards...)
		if !contains(n.children, c.ShardId) {
			n.children = append(n.children, c.ShardId)
		}
	}
	for _, cid := range n.children {
		c := l.shards[cid]
		if c != nil && !c.assigned && !c.ended && l.ready(c) {
			l.assign(c, subtask)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// resumeFrom is where a restored run starts shards that have no position:
// 0 for the trim horizon, else an arrival time.
func (l *lineage) resumeFrom() int64 { return l.startTs }

// boundIfAny is the arrival time a bounded read ends at (0: unbounded).
func (l *lineage) boundIfAny() int64 { return l.bound }
