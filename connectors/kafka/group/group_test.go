package group

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

var twelve = map[string]int32{"clicks": 12}

func TestThreeMembersShareTwelvePartitionsDisjointly(t *testing.T) {
	addr := startCluster(t, twelve)
	var owners []*owner
	for i := range 3 {
		owners = append(owners, joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"},
			Meta: Meta{Checkpoint: "s3://ck/job", Fingerprint: "f1"}, ClientID: "member" + string(rune('a'+i))}))
	}
	took := settled(t, owners, twelve, 15*time.Second)
	t.Logf("3 members settled on 12 partitions in %v", took)
	for _, o := range owners {
		if got := len(owned(o, "clicks")); got != 4 {
			t.Errorf("member %s owns %d partitions, want 4 of 12", o.m.Generation().MemberID, got)
		}
		o.mu.Lock()
		last := o.last
		o.mu.Unlock()
		if last.PeersErr != nil {
			t.Fatal(last.PeersErr)
		}
		if len(last.Peers) != 3 {
			t.Fatalf("peers = %+v, want the 3 members", last.Peers)
		}
		for _, p := range last.Peers {
			if !p.Sluice || p.Meta != (Meta{Checkpoint: "s3://ck/job", Fingerprint: "f1"}) {
				t.Errorf("peer %s meta = %+v (sluice %v), want the member's Meta", p.MemberID, p.Meta, p.Sluice)
			}
		}
		if err := CheckPeers(last.MemberID, Meta{Checkpoint: "s3://ck/job", Fingerprint: "f1"}, last.Peers); err != nil {
			t.Errorf("CheckPeers: %v", err)
		}
		if err := CheckPeers(last.MemberID, Meta{Checkpoint: "/var/ck", Fingerprint: "f1"}, last.Peers); err == nil || !strings.Contains(err.Error(), "is local") {
			t.Errorf("CheckPeers with a local dir = %v, want a local-checkpoint error", err)
		}
	}

	// A member leaves: the other two get its partitions without waiting for
	// a session timeout, and keep theirs.
	kept := [][]int{owned(owners[0], "clicks"), owned(owners[1], "clicks")}
	owners[2].Close()
	took = settled(t, owners[:2], twelve, testSession+2*time.Second)
	t.Logf("after a member left, 2 members own the 12 partitions again in %v", took)
	for i, o := range owners[:2] {
		now := owned(o, "clicks")
		if len(now) != 6 {
			t.Errorf("member owns %d partitions, want 6 of 12", len(now))
		}
		for _, p := range kept[i] {
			if !slices.Contains(now, p) {
				t.Errorf("member had %v, now %v: the assignment is not sticky", kept[i], now)
				break
			}
		}
	}
}

func TestRevokedPartitionsMoveOnlyAfterTheOwnerLetsGo(t *testing.T) {
	addr := startCluster(t, twelve)
	const slow = 700 * time.Millisecond
	a := joinOwnedSlow(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}}, slow)
	settled(t, []*owner{a}, twelve, 15*time.Second)
	joined := time.Now()
	b := joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}})
	settled(t, []*owner{a, b}, twelve, 15*time.Second)
	a.mu.Lock()
	acked := a.ackedAt
	a.mu.Unlock()
	b.mu.Lock()
	assigned := b.assignedAt
	b.mu.Unlock()
	if acked.IsZero() || acked.Sub(joined) < slow {
		t.Fatalf("first member let go %v after the second joined, want at least %v", acked.Sub(joined), slow)
	}
	if assigned.Before(acked) {
		t.Errorf("second member got partitions %v before the first let go of them", acked.Sub(assigned))
	}
	t.Logf("owner let go after %v; partitions assigned %v later", acked.Sub(joined), assigned.Sub(acked))
}

func TestDeadMemberPartitionsMoveAfterSessionTimeout(t *testing.T) {
	addr := startCluster(t, twelve)
	var owners []*owner
	var cables []*cable
	for range 3 {
		c := &cable{}
		cables = append(cables, c)
		owners = append(owners, joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}, Dial: c.dial}))
	}
	settled(t, owners, twelve, 15*time.Second)
	before := owned(owners[2], "clicks")

	// The third member dies without leaving: its heartbeats stop.
	cables[2].Cut()
	took := settled(t, owners[:2], twelve, testSession+2*time.Second+testRebalance)
	t.Logf("rebalance after a member's death: its partitions %v owned again after %v (session timeout %v)", before, took, testSession)
	if took > testSession+2*time.Second {
		t.Errorf("partitions moved %v after the member died, want at most session timeout + 2 s = %v", took, testSession+2*time.Second)
	}
	if took < testSession/2 {
		t.Errorf("partitions moved %v after the member died, before its session could time out (%v)", took, testSession)
	}
	if gen, own := owners[2].state(); len(own) != 0 {
		t.Errorf("the dead member still believes it owns %v in generation %d", own, gen.ID)
	}
}

func TestCoPartitionedTopicsGetSamePartitionNumbers(t *testing.T) {
	topics := map[string]int32{"orders": 12, "payments": 12}
	addr := startCluster(t, topics)
	var owners []*owner
	for range 3 {
		owners = append(owners, joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"orders", "payments"}}))
	}
	settled(t, owners, topics, 15*time.Second)
	for _, o := range owners {
		a, b := owned(o, "orders"), owned(o, "payments")
		if len(a) != 4 || !slices.Equal(a, b) {
			t.Errorf("member owns orders %v and payments %v, want the same 4 partition numbers", a, b)
		}
	}
}

func TestMismatchedPartitionCountsAreAnError(t *testing.T) {
	addr := startCluster(t, map[string]int32{"orders": 12, "payments": 8})
	_, err := Join(context.Background(), Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"orders", "payments"}})
	var pce *PartitionCountError
	if !errors.As(err, &pce) {
		t.Fatalf("Join = %v, want a *PartitionCountError", err)
	}
	for _, want := range []string{"orders has 12", "payments has 8", "kafka group g", "co-partitioned"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestMissingTopicOrGroupIsAnError(t *testing.T) {
	addr := startCluster(t, twelve)
	if _, err := Join(context.Background(), Config{Brokers: []string{addr}, Topics: []string{"clicks"}}); err == nil || !strings.Contains(err.Error(), "properties.group.id") {
		t.Errorf("Join without a group id = %v, want an error naming 'properties.group.id'", err)
	}
	_, err := Join(context.Background(), Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks", "nope"}})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Join with a missing topic = %v, want an error naming it", err)
	}
}

func TestStaleGenerationCommitIsRefused(t *testing.T) {
	addr := startCluster(t, twelve)
	a := joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}})
	settled(t, []*owner{a}, twelve, 15*time.Second)
	old, _ := a.state()
	ctx := context.Background()
	if err := a.m.Commit(ctx, old, map[string]map[int]int64{"clicks": {0: 5, 7: 9}}); err != nil {
		t.Fatalf("commit in the current generation: %v", err)
	}

	b := joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}})
	settled(t, []*owner{a, b}, twelve, 15*time.Second)
	cur, _ := a.state()
	if cur.ID == old.ID {
		t.Fatalf("generation did not change: %d", cur.ID)
	}
	err := a.m.Commit(ctx, old, map[string]map[int]int64{"clicks": {0: 50}})
	if !errors.Is(err, kafka.IllegalGeneration) && !errors.Is(err, kafka.UnknownMemberId) {
		t.Fatalf("commit of ended generation %d = %v, want IllegalGeneration", old.ID, err)
	}
	t.Logf("zombie commit refused: %v", err)

	// The current generation commits, and what is committed is what the
	// next owner of the partition starts from.
	if err := a.m.Commit(ctx, cur, map[string]map[int]int64{"clicks": {0: 6}}); err != nil {
		t.Fatalf("commit in the current generation: %v", err)
	}
	b.Close()
	settled(t, []*owner{a}, twelve, testSession+2*time.Second)
	a.mu.Lock()
	offs := a.last.Offsets["clicks"]
	a.mu.Unlock()
	if offs[0] != 6 || offs[7] != 9 || offs[1] != kafka.FirstOffset {
		t.Errorf("offsets after the rebalance = %v, want 0:6 7:9 and FirstOffset elsewhere", offs)
	}
}

func TestJoinRefusedByTheBrokersIsReported(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(12, "clicks")) // sessions of 6 s at least
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := joinOwned(t, Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"clicks"}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		o.mu.Lock()
		errs := slices.Clone(o.errs)
		o.mu.Unlock()
		if len(errs) > 0 {
			if !errors.Is(errs[0], kafka.InvalidSessionTimeout) || !strings.Contains(errs[0].Error(), "session timeout of 1.2s") {
				t.Fatalf("error = %v, want InvalidSessionTimeout naming the session timeout", errs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error reported for a session timeout the brokers refuse")
		}
		time.Sleep(20 * time.Millisecond)
	}
	o.Close()
}

func TestCheckPeersRefusesAnotherJobOrALocalCheckpoint(t *testing.T) {
	self := Meta{Checkpoint: "s3://ck/job", Fingerprint: "f1"}
	peer := func(m Meta) Peer { return Peer{MemberID: "other", Host: "/10.0.0.2", Meta: m, Sluice: true} }
	me := Peer{MemberID: "me", Meta: Meta{Checkpoint: "/var/ck", Fingerprint: "f1"}, Sluice: true}
	for _, c := range []struct {
		name  string
		self  Meta
		peers []Peer
		want  string // "" = no error
	}{
		{"alone with a local dir", Meta{Checkpoint: "/var/ck", Fingerprint: "f1"}, []Peer{me}, ""},
		{"same job, shared dir", self, []Peer{peer(self)}, ""},
		{"another job", self, []Peer{peer(Meta{Checkpoint: "s3://ck/job", Fingerprint: "f2"})}, "runs another job (fingerprint f2, this one is f1)"},
		{"local dir with others", Meta{Checkpoint: "/var/ck", Fingerprint: "f1"}, []Peer{me, peer(Meta{Checkpoint: "/var/ck", Fingerprint: "f1"})}, "checkpoint dir /var/ck is local"},
		{"another dir", self, []Peer{peer(Meta{Checkpoint: "s3://ck/other", Fingerprint: "f1"})}, "keeps checkpoints in s3://ck/other"},
		{"not Sluice", self, []Peer{{MemberID: "x", ClientID: "console-consumer", Host: "/10.0.0.3"}}, "console-consumer at /10.0.0.3) is not a Sluice process"},
	} {
		err := CheckPeers("me", c.self, c.peers)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

func TestZombieCannotCommitAfterItsPartitionsMoved(t *testing.T) {
	addr := startCluster(t, twelve)
	c := &cable{}
	zombie := joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}, Dial: c.dial})
	other := joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}})
	settled(t, []*owner{zombie, other}, twelve, 15*time.Second)
	gen, own := zombie.state()
	ctx := context.Background()
	offs := map[string]map[int]int64{"clicks": {own["clicks"][0]: 10}}
	if err := zombie.m.Commit(ctx, gen, offs); err != nil {
		t.Fatalf("commit before the pause: %v", err)
	}

	// The process pauses past its session timeout, its partitions move,
	// then it resumes and tries to commit what it was doing.
	c.Cut()
	settled(t, []*owner{other}, twelve, testSession+2*time.Second)
	c.Mend()
	offs["clicks"][own["clicks"][0]] = 99
	err := zombie.m.Commit(ctx, gen, offs)
	if !errors.Is(err, kafka.UnknownMemberId) && !errors.Is(err, kafka.IllegalGeneration) {
		t.Fatalf("zombie commit = %v, want it refused (UnknownMemberId or IllegalGeneration)", err)
	}
	t.Logf("zombie commit refused: %v", err)
}

func TestCommittedMetadataIsWhatTheLastAcceptedCommitSaid(t *testing.T) {
	addr := startCluster(t, twelve)
	a := joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}})
	settled(t, []*owner{a}, twelve, 15*time.Second)
	old, _ := a.state()
	ctx := context.Background()
	if err := a.m.CommitMeta(ctx, old, map[string]map[int]Offset{"clicks": {3: {Offset: 40, Metadata: `{"ck":7}`}}}); err != nil {
		t.Fatal(err)
	}
	b := joinOwned(t, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}})
	settled(t, []*owner{a, b}, twelve, 15*time.Second)
	// The old generation's commit is refused and leaves the metadata as it was.
	if err := a.m.CommitMeta(ctx, old, map[string]map[int]Offset{"clicks": {3: {Offset: 90, Metadata: `{"ck":8}`}}}); err == nil {
		t.Fatal("a commit of an ended generation was accepted")
	}
	got, err := b.m.Committed(ctx, map[string][]int{"clicks": {3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if c := got["clicks"][3]; c.Offset != 40 || c.Metadata != `{"ck":7}` {
		t.Errorf("partition 3 = %+v, want offset 40 with the first commit's metadata", c)
	}
	if c := got["clicks"][4]; c.Offset != -1 || c.Metadata != "" {
		t.Errorf("partition 4 = %+v, want no commit", c)
	}
}
