// Package lineage orders the shards of a stream for reading so that, for
// each partition key, the records of a shard come before those of the
// shards a split or merge made of it: a shard is ready to read once every
// parent of it has been read to its end.
//
// A Graph starts from a ListShards answer (every shard, open and closed) and
// grows with the children GetRecords names when a closed shard has been read
// to its end. It is used by the store connector's source and by `sluice
// stream consume`. A Graph is not safe for concurrent use.
package lineage

import "github.com/sluicehq/sluice/store/client"

// Shard is one shard of a Graph.
type Shard struct {
	ID       string
	Index    int      // order of discovery: the listing's (shard id order), then children as reported
	Parents  []string // parent and adjacent parent, when known
	Children []string
	// Ended: read to its end (or skipped, as a shard closed before a
	// 'latest' start).
	Ended bool
	// Taken: handed to a reader (by Take or End).
	Taken bool
}

// Graph is the shard lineage of one stream.
type Graph struct {
	shards map[string]*Shard
	order  []*Shard
	listed int // shards from the listing: indexes below it
}

// New returns the lineage of the shards of a ListShards answer (which
// lists every shard, parents before children). Shards whose parents are
// not in it — gone before the listing — need nothing read first.
func New(listing []client.Shard) *Graph {
	g := &Graph{shards: map[string]*Shard{}}
	for _, sh := range listing {
		g.Add(sh.ShardId, sh.ParentShardId, sh.AdjacentParentShardId)
	}
	g.listed = len(g.order)
	return g
}

// Shards returns every shard in index order.
func (g *Graph) Shards() []*Shard { return g.order }

// Shard returns the shard of id, or nil.
func (g *Graph) Shard(id string) *Shard { return g.shards[id] }

// Add registers a shard (once) and links it to its known parents (empty
// ids are ignored).
func (g *Graph) Add(id string, parents ...string) *Shard {
	n := g.shards[id]
	if n == nil {
		n = &Shard{ID: id, Index: len(g.order)}
		g.shards[id] = n
		g.order = append(g.order, n)
	}
	for _, p := range parents {
		if p == "" || contains(n.Parents, p) {
			continue
		}
		n.Parents = append(n.Parents, p)
		if pn := g.shards[p]; pn != nil && !contains(pn.Children, id) {
			pn.Children = append(pn.Children, id)
		}
	}
	// Shards already known that name n as a parent.
	for _, c := range g.order {
		if contains(c.Parents, id) && !contains(n.Children, c.ID) {
			n.Children = append(n.Children, c.ID)
		}
	}
	return n
}

// Ready reports whether every parent of n has ended. A parent not in the
// lineage was either gone before the listing (not read) or is not known
// yet: for a listed shard the former; for a later one the latter, since a
// shard is always reported with its parent's end.
func (g *Graph) Ready(n *Shard) bool {
	for _, p := range n.Parents {
		pn := g.shards[p]
		if pn == nil {
			if n.Index < g.listed {
				continue
			}
			return false
		}
		if !pn.Ended {
			return false
		}
	}
	return true
}

// Take marks and returns, in index order, the shards that are ready and
// neither ended nor taken yet.
func (g *Graph) Take() []*Shard {
	var out []*Shard
	for _, n := range g.order {
		if !n.Ended && !n.Taken && g.Ready(n) {
			n.Taken = true
			out = append(out, n)
		}
	}
	return out
}

// End records that shard id has been read to its end, with the children
// GetRecords named, and returns (marked taken) the children that are now
// ready: whoever read id reads them, so that a key's records stay in order.
func (g *Graph) End(id string, children []client.ChildShard) []*Shard {
	n := g.shards[id]
	if n == nil {
		return nil
	}
	n.Ended = true
	for _, c := range children {
		g.Add(c.ShardId, c.ParentShards...)
		if !contains(n.Children, c.ShardId) {
			n.Children = append(n.Children, c.ShardId)
		}
	}
	var ready []*Shard
	for _, cid := range n.Children {
		c := g.shards[cid]
		if c != nil && !c.Taken && !c.Ended && g.Ready(c) {
			c.Taken = true
			ready = append(ready, c)
		}
	}
	return ready
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
