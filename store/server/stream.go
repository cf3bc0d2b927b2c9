package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/atomicfile"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

const metaFile = "stream.json"

// shardMeta is one shard as stream.json keeps it; hash keys are decimal strings.
type shardMeta struct {
	ID             string `json:"id"`
	Start          string `json:"start"`
	End            string `json:"end"`
	Parent         string `json:"parent,omitempty"`
	AdjacentParent string `json:"adjacentParent,omitempty"`
	Closed         bool   `json:"closed,omitempty"`
	// EndSeq is the shard's next sequence number when it was closed, so a
	// closed shard's ending sequence number survives a restart.
	EndSeq uint64 `json:"endSeq,omitempty"`
}

// streamMeta is the content of stream.json.
type streamMeta struct {
	Name           string            `json:"name"`
	Generation     uint64            `json:"generation"`
	Created        int64             `json:"created"` // Unix milliseconds
	RetentionHours int               `json:"retentionHours"`
	Tags           map[string]string `json:"tags,omitempty"`
	NextShardID    int               `json:"nextShardId"`
	Shards         []shardMeta       `json:"shards"`
	Consumers      []consumerMeta    `json:"consumers,omitempty"` // enhanced fan-out (efo.go)
	// Encryption, when the stream is encrypted (see crypt.go).
	EncryptionType string  `json:"encryptionType,omitempty"` // "KMS"
	KeyID          string  `json:"keyId,omitempty"`          // as StartStreamEncryption named it
	KeyRef         string  `json:"keyRef,omitempty"`         // the keyring's id of that key
	KeyChanges     []int64 `json:"keyChanges,omitempty"`     // the last day's StartStreamEncryption calls (Unix ms)
	// Mode is ON_DEMAND or empty (PROVISIONED); Scaled and ModeSwitched
	// are the times (Unix ms) of the last day's UpdateShardCount and
	// UpdateStreamMode calls; ScalingTo is the target of an
	// UpdateShardCount under way.
	Mode         string  `json:"mode,omitempty"`
	Scaled       []int64 `json:"scaled,omitempty"`
	ModeSwitched []int64 `json:"modeSwitched,omitempty"`
	ScalingTo    int     `json:"scalingTo,omitempty"`
	// Policy is the resource policy, as put.
	Policy string `json:"policy,omitempty"`
	// ShardLevelMetrics are the enhanced monitoring metrics enabled, in AWS's order.
	ShardLevelMetrics []string `json:"shardLevelMetrics,omitempty"`
}

// stream is one open stream: its metadata, shard map and one log per shard.
// mu guards all fields; appends and reads hold it for reading.
type stream struct {
	dir    string
	mu     sync.RWMutex
	meta   streamMeta
	shards *store.ShardMap
	endSeq map[string]uint64
	logs   map[string]*slog.Log
	// deleted is set by DeleteStream; a request that found the stream
	// before then answers ResourceNotFoundException once it gets the lock.
	deleted bool

	// waitMu guards wake, the channel long-polling readers wait on; see
	// changed and notify. It is taken after mu, never before.
	waitMu sync.Mutex
	wake   chan struct{}

	state streamState // status and write load (scaling.go)
	// policy is meta.Policy parsed (nil: none), read without mu by
	// authorize; set under mu.
	policy atomic.Pointer[policy]
	// metrics are the counters of each shard while enhanced monitoring is
	// on (nil: off); see monitoring.go.
	metrics map[string]*shardCounters
}

// gone is the error for a request that raced with DeleteStream or Close.
// Callers hold mu.
func (st *stream) gone() error {
	if st.deleted {
		return apiErr(store.ErrResourceNotFound, store.MsgStreamNotFound, st.meta.Name, store.AccountID)
	}
	if st.logs == nil {
		return errors.New("store closed")
	}
	return nil
}

func (s *Server) logOptions() slog.Options {
	return slog.Options{Fsync: s.opts.Fsync, SegmentBytes: s.opts.SegmentBytes, MaxRecordBytes: store.MaxRecordBytes,
		OnCorruption: s.opts.OnCorruption, Logf: s.logf, Keys: s.keys.Material}
}

// openStream loads dir/<name>/stream.json and opens the stream's shard logs.
func (s *Server) openStream(name string) (*stream, error) {
	dir := filepath.Join(s.dir, name)
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, err
	}
	st := &stream{dir: dir, endSeq: map[string]uint64{}, logs: map[string]*slog.Log{}}
	if err := json.Unmarshal(b, &st.meta); err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", filepath.Join(dir, metaFile), err)
	}
	if st.meta.Policy != "" {
		p, err := parsePolicy(st.meta.Policy)
		if err != nil {
			return nil, fmt.Errorf("bad resource policy in %s: %w", filepath.Join(dir, metaFile), err)
		}
		st.policy.Store(p)
	}
	st.shards = &store.ShardMap{NextID: st.meta.NextShardID}
	for _, m := range st.meta.Shards {
		start, err1 := store.ParseHashKey(m.Start)
		end, err2 := store.ParseHashKey(m.End)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("bad hash range of %s in %s: %w", m.ID, dir, err)
		}
		if _, err := store.ShardIndex(m.ID); err != nil {
			return nil, fmt.Errorf("bad shard in %s: %w", filepath.Join(dir, metaFile), err)
		}
		st.shards.Shards = append(st.shards.Shards, &store.Shard{ID: m.ID, Range: store.HashRange{Start: start, End: end},
			Parent: m.Parent, AdjacentParent: m.AdjacentParent, Closed: m.Closed})
		if m.Closed {
			st.endSeq[m.ID] = m.EndSeq
		}
	}
	if err := st.openLogs(s.logOptions()); err != nil {
		st.close()
		return nil, err
	}
	st.state.onDemand.Store(st.meta.Mode == modeOnDemand)
	st.syncMetrics(s.metrics)
	return st, nil
}

// openLogs opens the log of every shard that has none open yet.
func (st *stream) openLogs(opts slog.Options) error {
	for _, sh := range st.shards.Shards {
		if st.logs[sh.ID] != nil {
			continue
		}
		o := opts
		if logf := opts.Logf; logf != nil {
			prefix := fmt.Sprintf("stream %s shard %s: ", st.meta.Name, sh.ID)
			o.Logf = func(format string, args ...any) { logf(prefix+format, args...) }
		}
		l, err := slog.Open(filepath.Join(st.dir, sh.ID), o)
		if l != nil {
			st.logs[sh.ID] = l
		}
		if err != nil {
			var ce *slog.CorruptError
			if errors.As(err, &ce) && l != nil {
				// Serve what is readable up to the corruption; appends fail.
				o.Logf("read-only, serving records up to %d: %v", l.NextSeq()-1, err)
				continue
			}
			return fmt.Errorf("cannot open shard %s of stream %s: %w", sh.ID, st.meta.Name, err)
		}
		if err := st.encryptLog(sh.ID, l, opts.Keys); err != nil {
			return err
		}
		if dmg := l.Damage(); len(dmg) > 0 {
			o.Logf("DAMAGED: %s", damageSummary(dmg, opts.OnCorruption))
		}
	}
	return nil
}

// damageSummary describes the damage of one shard log in one line.
func damageSummary(dmg []slog.Damage, policy slog.CorruptionPolicy) string {
	var lost uint64
	exact := true
	for _, d := range dmg {
		lost += d.NextSeq - d.FirstSeq
		exact = exact && d.Exact
	}
	first := dmg[0]
	where := fmt.Sprintf("%d damaged region(s), first in %s at offset %d", len(dmg), first.File, first.Offset)
	if lost == 0 && exact {
		return where + "; no record lost"
	}
	n := fmt.Sprint(lost)
	if !exact {
		n = "up to " + n
	}
	if n == "1" {
		n += " record"
	} else {
		n += " records"
	}
	readers := "readers get an error at the first lost record (--on-corruption stop)"
	if policy == slog.CorruptionSkip {
		readers = "readers skip the lost records (--on-corruption skip)"
	}
	return fmt.Sprintf("%s; %s lost; %s", where, n, readers)
}

func (st *stream) close() error {
	var errs []error
	for _, l := range st.logs {
		errs = append(errs, l.Close())
	}
	st.logs = nil // gone() reports the stream closed from now on
	st.notify()
	return errors.Join(errs...)
}

// save writes stream.json from the shard map, atomically. Callers hold mu.
func (st *stream) save() error {
	st.meta.NextShardID = st.shards.NextID
	st.meta.Shards = st.meta.Shards[:0]
	for _, sh := range st.shards.Shards {
		st.meta.Shards = append(st.meta.Shards, shardMeta{ID: sh.ID, Start: sh.Range.Start.String(), End: sh.Range.End.String(),
			Parent: sh.Parent, AdjacentParent: sh.AdjacentParent, Closed: sh.Closed, EndSeq: st.endSeq[sh.ID]})
	}
	b, err := json.MarshalIndent(&st.meta, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(st.dir, metaFile), b, 0o644)
}

// writeFileAtomic replaces path with data, a file of mode perm
// (atomicfile.Write).
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// lookup returns the named stream or ResourceNotFoundException.
// locked looks up a stream and locks it, for writing when write is set. A
// deleted or closed stream is an error, returned with nothing locked;
// otherwise the caller must call unlock.
func (s *Server) locked(name string, write bool) (st *stream, unlock func(), err error) {
	if st, err = s.lookup(name); err != nil {
		return nil, nil, err
	}
	if write {
		st.mu.Lock()
		unlock = st.mu.Unlock
	} else {
		st.mu.RLock()
		unlock = st.mu.RUnlock
	}
	if err := st.gone(); err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

func (s *Server) lookup(name string) (*stream, error) {
	if err := store.ValidateStreamName(name); err != nil { // for operations that do not check it first
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("server closed")
	}
	st := s.streams[name]
	if st == nil {
		return nil, apiErr(store.ErrResourceNotFound, store.MsgStreamNotFound, name, store.AccountID)
	}
	return st, nil
}

// arn is the stream's ARN as clients expect one.
func (s *Server) arn(name string) string {
	region := s.opts.Region
	if region == "" {
		region = "us-east-1"
	}
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", region, store.AccountID, name)
}

// seqNum is the API sequence number of shard sh's log sequence number 0;
// callers set Seq. Callers hold mu.
func (st *stream) seqNum(sh *store.Shard) store.SequenceNumber {
	idx, _ := store.ShardIndex(sh.ID) // checked when the shard was loaded
	return store.SequenceNumber{Generation: st.meta.Generation, Shard: idx}
}
