package store

import (
	"fmt"
	"sort"
)

// Error is an error of the Kinesis API, with AWS's error name.
type Error struct {
	Code    string // e.g. ResourceNotFoundException
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// AWS's error names.
const (
	ErrResourceNotFound = "ResourceNotFoundException"
	ErrResourceInUse    = "ResourceInUseException"
	ErrInvalidArgument  = "InvalidArgumentException"
	ErrValidation       = "ValidationException"
	ErrExpiredIterator  = "ExpiredIteratorException"
	ErrLimitExceeded    = "LimitExceededException"
)

func apiErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Shard is one shard of a stream: a range of hash keys and, in the log,
// the records written to it. A split or merge closes its parents, which
// keep their records; their children take the hash keys.
type Shard struct {
	ID             string // shardId-000000000000
	Range          HashRange
	Parent         string // the shard it was split from or the first merged shard
	AdjacentParent string // the second merged shard
	Closed         bool   // no more writes: a split or merge took its range
}

// ShardMap is the shard layout of a stream over its history, in creation
// order. It is not safe for concurrent use; the stream serialises access.
type ShardMap struct {
	Shards []*Shard
	NextID int
}

// NewShardMap returns n open shards splitting the hash key space evenly.
func NewShardMap(n int) *ShardMap {
	m := &ShardMap{}
	for _, r := range EvenRanges(n) {
		m.add(r, "", "")
	}
	return m
}

func (m *ShardMap) add(r HashRange, parent, adjacent string) *Shard {
	s := &Shard{ID: fmt.Sprintf("shardId-%012d", m.NextID), Range: r, Parent: parent, AdjacentParent: adjacent}
	m.NextID++
	m.Shards = append(m.Shards, s)
	return s
}

// Get returns the shard called id.
func (m *ShardMap) Get(id string) (*Shard, error) {
	for _, s := range m.Shards {
		if s.ID == id {
			return s, nil
		}
	}
	return nil, apiErr(ErrResourceNotFound, MsgMapNoShard, id)
}

// Open returns the open shards, ordered by hash key range.
func (m *ShardMap) Open() []*Shard {
	var out []*Shard
	for _, s := range m.Shards {
		if !s.Closed {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Cmp(out[j].Range.Start) < 0 })
	return out
}

// Route returns the open shard whose range holds h.
func (m *ShardMap) Route(h HashKey) *Shard {
	open := m.Open()
	i := sort.Search(len(open), func(i int) bool { return open[i].Range.End.Cmp(h) >= 0 })
	if i < len(open) && open[i].Range.Contains(h) {
		return open[i]
	}
	return nil // cannot happen: open shards cover the space
}

// Split closes shard id and opens two children: [start, newStart-1] and
// [newStart, end].
func (m *ShardMap) Split(id string, newStart HashKey) (lo, hi *Shard, err error) {
	s, err := m.Get(id)
	if err != nil {
		return nil, nil, err
	}
	if s.Closed {
		return nil, nil, apiErr(ErrResourceInUse, MsgMapShardClosed, id)
	}
	if newStart.Cmp(s.Range.Start) <= 0 || newStart.Cmp(s.Range.End) > 0 {
		return nil, nil, apiErr(ErrInvalidArgument, MsgMapSplitKey, newStart, id, s.Range.Start, s.Range.End)
	}
	s.Closed = true
	lo = m.add(HashRange{s.Range.Start, newStart.Sub(1)}, s.ID, "")
	hi = m.add(HashRange{newStart, s.Range.End}, s.ID, "")
	return lo, hi, nil
}

// Merge closes two open shards with adjacent ranges and opens one child
// covering both.
func (m *ShardMap) Merge(id, adjacentID string) (*Shard, error) {
	a, err := m.Get(id)
	if err != nil {
		return nil, err
	}
	b, err := m.Get(adjacentID)
	if err != nil {
		return nil, err
	}
	if a.Closed || b.Closed {
		return nil, apiErr(ErrResourceInUse, MsgMapMergeClosed, id, adjacentID)
	}
	lo, hi := a, b
	if b.Range.Start.Cmp(a.Range.Start) < 0 {
		lo, hi = b, a
	}
	if lo.Range.End.Add(1) != hi.Range.Start || lo.Range.End == MaxHashKey {
		return nil, apiErr(ErrInvalidArgument, MsgMapNotAdjacent, id, adjacentID)
	}
	a.Closed, b.Closed = true, true
	return m.add(HashRange{lo.Range.Start, hi.Range.End}, a.ID, b.ID), nil
}

// Children returns the shards created from s by a split or merge.
func (m *ShardMap) Children(id string) []*Shard {
	var out []*Shard
	for _, s := range m.Shards {
		if s.Parent == id || s.AdjacentParent == id {
			out = append(out, s)
		}
	}
	return out
}
