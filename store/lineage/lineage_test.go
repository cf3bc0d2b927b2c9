package lineage

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/store/client"
)

func ids(ss []*Shard) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func closed(id, parent, adjacent string) client.Shard {
	return client.Shard{ShardId: id, ParentShardId: parent, AdjacentParentShardId: adjacent,
		SequenceNumberRange: client.SequenceNumberRange{StartingSequenceNumber: "1", EndingSequenceNumber: "2"}}
}

func TestChildrenWaitForEveryParent(t *testing.T) {
	// 0 was split into 1 and 2, which were merged into 3.
	g := New([]client.Shard{closed("0", "", ""), closed("1", "0", ""), closed("2", "0", ""), {ShardId: "3", ParentShardId: "1", AdjacentParentShardId: "2"}})
	if got := ids(g.Take()); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("first Take = %q; want only the root", got)
	}
	if got := ids(g.End("0", nil)); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("End(0) = %q; want both split children", got)
	}
	if got := ids(g.End("1", nil)); len(got) != 0 {
		t.Fatalf("End(1) = %q; the merge child must wait for its adjacent parent", got)
	}
	if got := ids(g.End("2", nil)); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("End(2) = %q; want the merge child", got)
	}
	if got := g.Take(); len(got) != 0 {
		t.Fatalf("Take after all were handed out = %q", ids(got))
	}
}

func TestParentsGoneBeforeTheListingDoNotBlock(t *testing.T) {
	// 0 expired; its children 1 and 2 are what is left.
	g := New([]client.Shard{{ShardId: "1", ParentShardId: "0"}, {ShardId: "2", ParentShardId: "0"}})
	if got := ids(g.Take()); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("Take = %q; want both orphans", got)
	}
}

func TestChildReportedAtTheEndIsReadAfterItsParent(t *testing.T) {
	g := New([]client.Shard{{ShardId: "0"}})
	g.Take()
	kids := []client.ChildShard{{ShardId: "1", ParentShards: []string{"0"}}, {ShardId: "2", ParentShards: []string{"0"}}}
	if got := ids(g.End("0", kids)); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("End(0) = %q", got)
	}
	// A merge child reported by its first parent waits for the other, which
	// is not known to have ended.
	got := ids(g.End("1", []client.ChildShard{{ShardId: "3", ParentShards: []string{"1", "2"}}}))
	if len(got) != 0 {
		t.Fatalf("End(1) = %q; want nothing before 2 ends", got)
	}
	if got := ids(g.End("2", []client.ChildShard{{ShardId: "3", ParentShards: []string{"1", "2"}}})); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("End(2) = %q; want 3", got)
	}
	if n := g.Shard("3"); n == nil || n.Index != 3 || !slices.Equal(n.Parents, []string{"1", "2"}) {
		t.Fatalf("shard 3 = %+v", n)
	}
}

func TestUnknownParentOfALaterShardBlocksIt(t *testing.T) {
	g := New(nil)
	if got := ids(g.End("x", nil)); got != nil {
		t.Fatalf("End of an unknown shard = %q", got)
	}
	g.Add("5", "4") // reported before its parent is known
	if g.Ready(g.Shard("5")) {
		t.Fatal("a shard found after the listing is ready though its parent is unknown")
	}
}
