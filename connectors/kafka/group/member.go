// Package group makes a process a member of a Kafka consumer group for a set
// of topics: it joins the group, learns which partitions this member owns in
// each generation, heartbeats, and reports every rebalance to its owner,
// waiting for the owner to let go of revoked partitions before the group
// moves them. It also commits offsets fenced by the generation, checks that
// topics are co-partitioned, assigns them co-partitioned, and partitions
// keys as the Java client does.
//
// Rebalancing is eager (kafka-go's ConsumerGroup has no cooperative
// protocol): at every rebalance a member gives up all its partitions, then
// receives its new set.
package group

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Config is a member's configuration.
type Config struct {
	Brokers []string
	GroupID string   // 'properties.group.id'
	Topics  []string // the topics the member consumes, co-partitioned
	Meta    Meta     // what the other members learn about this one

	// SessionTimeout is how long the coordinator waits for a heartbeat
	// before it declares the member dead and moves its partitions. Default
	// 10 s.
	SessionTimeout time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member
	// to rejoin during a rebalance; the member waits three quarters of it
	// at most for its owner to acknowledge a revocation. Default 30 s.
	RebalanceTimeout time.Duration
	// HeartbeatInterval defaults to a third of SessionTimeout.
	HeartbeatInterval time.Duration

	ClientID string
	TLS      *tls.Config
	SASL     sasl.Mechanism
	// Dial, if set, opens the connections to the brokers.
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	Logger *slog.Logger
}

// Gen is a generation of the group as one member sees it.
type Gen struct {
	ID       int32
	MemberID string
}

// Change is a rebalance as the member's owner sees it: either the
// partitions it was given in a new generation (Assigned), or the partitions
// it must give up because the generation ended (Revoked). The owner must
// call Ack on a revocation once it has stopped using the partitions
// (checkpointed, committed); the group does not move them before that, or
// before three quarters of RebalanceTimeout have passed.
type Change struct {
	Gen
	Revoked  map[string][]int // topic → partitions no longer owned
	Assigned map[string][]int // topic → partitions owned in this generation
	// Offsets are the group's committed offsets of the assigned
	// partitions, kafka.FirstOffset where none was committed.
	Offsets map[string]map[int]int64
	// Peers are the group's members at the start of the generation (this
	// one among them), with their Meta; PeersErr tells why not when they
	// could not be read.
	Peers    []Peer
	PeersErr error
	// Err, when set, is the only field set: the member cannot join the
	// group and will not until the configuration or the brokers change
	// (a session timeout the brokers refuse, a member offering another
	// assignment strategy, an authorization failure). The member keeps
	// retrying; the owner usually gives up and calls Close.
	Err error

	ack  chan struct{}
	once sync.Once
}

// Ack tells the member that the owner no longer uses the revoked
// partitions. It does nothing on an assignment, and may be called twice.
func (c *Change) Ack() {
	if c.ack != nil {
		c.once.Do(func() { close(c.ack) })
	}
}

// Member is a process's membership of a consumer group.
type Member struct {
	cfg     Config
	cg      *kafka.ConsumerGroup
	client  *kafka.Client
	tr      *kafka.Transport
	log     *slog.Logger
	changes chan *Change
	closing chan struct{}
	wg      sync.WaitGroup

	mu    sync.Mutex
	gen   Gen   // the current generation; ID -1 between generations
	owned []int // partition numbers of the last generation, for a sticky assignment
}

// ownedNumbers is the partition numbers the member owned in its last
// generation.
func (m *Member) ownedNumbers() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.owned)
}

// Join checks the configuration and that the topics are co-partitioned, and
// starts joining the group; the partitions come on Changes.
func Join(ctx context.Context, cfg Config) (*Member, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka group: no brokers")
	case cfg.GroupID == "":
		return nil, errors.New("kafka group: 'properties.group.id' is required to share a job's partitions between processes")
	case len(cfg.Topics) == 0:
		return nil, fmt.Errorf("kafka group %s: no topics", cfg.GroupID)
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.RebalanceTimeout <= 0 {
		cfg.RebalanceTimeout = 30 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = cfg.SessionTimeout / 3
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "sluice"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := &kafka.Transport{Dial: cfg.Dial, TLS: cfg.TLS, SASL: cfg.SASL, ClientID: cfg.ClientID}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	if _, err := CheckCoPartitioned(ctx, client, cfg.Topics...); err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("kafka group %s: %w", cfg.GroupID, err)
	}
	m := &Member{cfg: cfg, client: client, tr: tr, log: log.With("group", cfg.GroupID),
		changes: make(chan *Change, 4), closing: make(chan struct{}), gen: Gen{ID: -1}}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                cfg.GroupID,
		Brokers:           cfg.Brokers,
		Dialer:            &kafka.Dialer{ClientID: cfg.ClientID, TLS: cfg.TLS, SASLMechanism: cfg.SASL, DialFunc: cfg.Dial, Timeout: 10 * time.Second},
		Topics:            cfg.Topics,
		GroupBalancers:    []kafka.GroupBalancer{CoPartitioned{Meta: cfg.Meta, Owned: m.ownedNumbers}},
		HeartbeatInterval: cfg.HeartbeatInterval,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		JoinGroupBackoff:  min(cfg.SessionTimeout/4, time.Second),
		StartOffset:       kafka.FirstOffset,
		Timeout:           10 * time.Second,
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("kafka group %s: %w", cfg.GroupID, err)
	}
	m.cg = cg
	m.wg.Add(1)
	go m.run()
	return m, nil
}

// Changes delivers the member's rebalances in order: an assignment, then
// its revocation, then the next assignment, … It is closed by Close.
func (m *Member) Changes() <-chan *Change { return m.changes }

// Generation is the current generation; its ID is -1 while the group
// rebalances.
func (m *Member) Generation() Gen {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

func (m *Member) setGen(g Gen) {
	m.mu.Lock()
	m.gen = g
	m.mu.Unlock()
}

// run follows the generations until Close.
func (m *Member) run() {
	defer m.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-m.closing
		cancel()
	}()
	for {
		gen, err := m.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			m.log.Warn("kafka group: cannot join, retrying", "err", err)
			if fatal(err) {
				select {
				case m.changes <- &Change{Err: m.joinError(err)}:
				case <-m.closing:
					return
				}
			}
			continue
		}
		m.generation(ctx, gen)
	}
}

// fatal reports whether a join error will repeat until the configuration or
// the brokers change.
func fatal(err error) bool {
	for _, e := range []error{kafka.InvalidSessionTimeout, kafka.InconsistentGroupProtocol, kafka.GroupAuthorizationFailed,
		kafka.TopicAuthorizationFailed, kafka.SASLAuthenticationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// joinError explains a fatal join error.
func (m *Member) joinError(err error) error {
	switch {
	case errors.Is(err, kafka.InvalidSessionTimeout):
		return fmt.Errorf("kafka group %s: the brokers refuse a session timeout of %v (see their group.min.session.timeout.ms and group.max.session.timeout.ms): %w",
			m.cfg.GroupID, m.cfg.SessionTimeout, err)
	case errors.Is(err, kafka.InconsistentGroupProtocol):
		return fmt.Errorf("kafka group %s: the group's members are not all Sluice processes of this job (another consumer uses this group id): %w", m.cfg.GroupID, err)
	}
	return fmt.Errorf("kafka group %s: cannot join: %w", m.cfg.GroupID, err)
}

// generation hands a generation's partitions to the owner and, when it
// ends, takes them back. kafka-go waits for the function given to Start
// before it rejoins, so the group does not move the partitions before the
// owner acknowledges (or three quarters of RebalanceTimeout pass).
func (m *Member) generation(ctx context.Context, gen *kafka.Generation) {
	g := Gen{ID: gen.ID, MemberID: gen.MemberID}
	assigned := make(map[string][]int, len(gen.Assignments))
	offsets := make(map[string]map[int]int64, len(gen.Assignments))
	for topic, ps := range gen.Assignments {
		offsets[topic] = make(map[int]int64, len(ps))
		for _, p := range ps {
			assigned[topic] = append(assigned[topic], p.ID)
			offsets[topic][p.ID] = p.Offset
		}
		slices.Sort(assigned[topic])
	}
	peers, perr := m.Peers(ctx)
	m.wg.Add(1) // Close waits for it even if the generation ended already
	var numbers []int
	for _, ps := range assigned {
		numbers = append(numbers, ps...)
	}
	numbers = slices.Compact(slices.Sorted(slices.Values(numbers)))
	gen.Start(func(gctx context.Context) {
		defer m.wg.Done()
		m.mu.Lock()
		m.gen, m.owned = g, numbers
		m.mu.Unlock()
		select {
		case m.changes <- &Change{Gen: g, Assigned: assigned, Offsets: offsets, Peers: peers, PeersErr: perr}:
		case <-gctx.Done(): // ended before the owner took it: nothing to revoke
			m.setGen(Gen{ID: -1})
			return
		case <-m.closing:
			return
		}
		select {
		case <-gctx.Done():
		case <-m.closing:
			return
		}
		m.setGen(Gen{ID: -1})
		start := time.Now()
		rev := &Change{Gen: g, Revoked: assigned, ack: make(chan struct{})}
		timeout := time.NewTimer(m.ackWait())
		defer timeout.Stop()
		select {
		case m.changes <- rev:
		case <-m.closing:
			return
		case <-timeout.C:
			m.log.Warn("kafka group: nobody took the revocation", "generation", g.ID)
			return
		}
		select {
		case <-rev.ack:
			m.log.Info("kafka group: partitions released", "generation", g.ID, "after", time.Since(start))
		case <-m.closing:
		case <-timeout.C:
			m.log.Warn("kafka group: revocation not acknowledged in time, rejoining", "generation", g.ID, "waited", m.ackWait())
		}
	})
}

// ackWait is how long the member waits for its owner to acknowledge a
// revocation: three quarters of the rebalance timeout, so that it still
// rejoins before the coordinator gives up on it.
func (m *Member) ackWait() time.Duration { return m.cfg.RebalanceTimeout - m.cfg.RebalanceTimeout/4 }

// Peers reads the group's members and their Meta.
func (m *Member) Peers(ctx context.Context) ([]Peer, error) {
	peers, _, err := m.peers(ctx)
	return peers, err
}

// peers reads the group's members, and how many of them showed no
// metadata (left out).
func (m *Member) peers(ctx context.Context) ([]Peer, int, error) {
	pending := 0
	resp, err := m.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{m.cfg.GroupID}})
	if err != nil {
		return nil, 0, fmt.Errorf("kafka group %s: cannot describe the group: %w", m.cfg.GroupID, err)
	}
	var peers []Peer
	for _, g := range resp.Groups {
		if g.Error != nil {
			return nil, 0, fmt.Errorf("kafka group %s: cannot describe the group: %w", m.cfg.GroupID, g.Error)
		}
		for _, mem := range g.Members {
			if len(mem.MemberMetadata.UserData) == 0 && len(mem.MemberMetadata.Topics) == 0 {
				// A member between two joins (the coordinator shows no
				// metadata for it while the group rebalances).
				pending++
				continue
			}
			u, ok := decodeUserData(mem.MemberMetadata.UserData)
			peers = append(peers, Peer{MemberID: mem.MemberID, ClientID: mem.ClientID, Host: mem.ClientHost, Meta: u.Meta, Sluice: ok})
		}
	}
	slices.SortFunc(peers, func(a, b Peer) int {
		switch {
		case a.MemberID < b.MemberID:
			return -1
		case a.MemberID > b.MemberID:
			return 1
		}
		return 0
	})
	return peers, pending, nil
}

// Commit commits offsets (topic → partition → next offset to read) for
// generation g. The coordinator refuses the commit of a generation that has
// ended or of a member it no longer knows (kafka.IllegalGeneration,
// kafka.UnknownMemberId, kafka.RebalanceInProgress): a member that lost its
// partitions cannot move their offsets.
func (m *Member) Commit(ctx context.Context, g Gen, offsets map[string]map[int]int64) error {
	with := make(map[string]map[int]Offset, len(offsets))
	for topic, ps := range offsets {
		with[topic] = make(map[int]Offset, len(ps))
		for p, off := range ps {
			with[topic][p] = Offset{Offset: off}
		}
	}
	return m.CommitMeta(ctx, g, with)
}

// Offset is a committed offset and the metadata committed with it (Kafka
// keeps up to offset.metadata.max.bytes of it, 4 KiB by default).
type Offset struct {
	Offset   int64
	Metadata string
}

// CommitMeta is Commit with metadata beside each offset: a task of a
// shared job commits where its checkpoint is, so that the commit that the
// coordinator accepts decides which checkpoint counts.
func (m *Member) CommitMeta(ctx context.Context, g Gen, offsets map[string]map[int]Offset) error {
	if len(offsets) == 0 {
		return nil
	}
	req := &kafka.OffsetCommitRequest{GroupID: m.cfg.GroupID, GenerationID: int(g.ID), MemberID: g.MemberID,
		Topics: make(map[string][]kafka.OffsetCommit, len(offsets))}
	for topic, ps := range offsets {
		for p, off := range ps {
			req.Topics[topic] = append(req.Topics[topic], kafka.OffsetCommit{Partition: p, Offset: off.Offset, Metadata: off.Metadata})
		}
	}
	resp, err := m.client.OffsetCommit(ctx, req)
	var kerr kafka.Error
	if err != nil && !errors.As(err, &kerr) && ctx.Err() == nil {
		// A broken connection (the coordinator moved, the process was
		// paused): once more on fresh connections.
		m.tr.CloseIdleConnections()
		resp, err = m.client.OffsetCommit(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("kafka group %s: cannot commit offsets of generation %d: %w", m.cfg.GroupID, g.ID, err)
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("kafka group %s: commit of %s/%d in generation %d refused: %w", m.cfg.GroupID, topic, p.Partition, g.ID, p.Error)
			}
		}
	}
	return nil
}

// Committed returns the group's committed offsets, with their metadata, of
// the given partitions (topic → partitions); a partition without a commit
// has Offset -1 and no metadata.
func (m *Member) Committed(ctx context.Context, parts map[string][]int) (map[string]map[int]Offset, error) {
	req := &kafka.OffsetFetchRequest{GroupID: m.cfg.GroupID, Topics: parts}
	resp, err := m.client.OffsetFetch(ctx, req)
	var kerr kafka.Error
	if err != nil && !errors.As(err, &kerr) && ctx.Err() == nil {
		m.tr.CloseIdleConnections()
		resp, err = m.client.OffsetFetch(ctx, req)
	}
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return nil, fmt.Errorf("kafka group %s: cannot fetch the committed offsets: %w", m.cfg.GroupID, err)
	}
	out := make(map[string]map[int]Offset, len(parts))
	for topic, ps := range parts {
		out[topic] = make(map[int]Offset, len(ps))
		for _, p := range ps {
			out[topic][p] = Offset{Offset: -1}
		}
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("kafka group %s: committed offset of %s/%d: %w", m.cfg.GroupID, topic, p.Partition, p.Error)
			}
			if out[topic] == nil {
				out[topic] = map[int]Offset{}
			}
			out[topic][p.Partition] = Offset{Offset: p.CommittedOffset, Metadata: p.Metadata}
		}
	}
	return out, nil
}

// Close leaves the group (the others get its partitions at once) and stops.
// The owner should have stopped using its partitions first: Close does not
// wait for an acknowledgement.
func (m *Member) Close() error {
	select {
	case <-m.closing:
		return nil
	default:
	}
	close(m.closing)
	err := m.cg.Close()
	m.wg.Wait()
	close(m.changes)
	m.tr.CloseIdleConnections()
	return err
}
