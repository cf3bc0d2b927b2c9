package server

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

// MaxShardsPerStream bounds CreateStream and SplitShard (LimitExceededException).
const MaxShardsPerStream = 1024

// MaxTags is the most tags a stream may carry, as Kinesis.
const MaxTags = 50

type streamRef struct {
	StreamName string
	StreamARN  string
}

// name resolves StreamName or StreamARN.
func (r streamRef) name() string {
	if r.StreamName == "" && r.StreamARN != "" {
		if i := strings.LastIndex(r.StreamARN, ":stream/"); i >= 0 {
			return r.StreamARN[i+len(":stream/"):]
		}
	}
	return r.StreamName
}

func epochSeconds(ms int64) float64 { return float64(ms) / 1000 }

func (s *Server) createStream(body []byte) (any, error) {
	var in struct {
		StreamName        string
		ShardCount        *int
		StreamModeDetails *struct{ StreamMode string }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := store.ValidateStreamName(in.StreamName); err != nil {
		return nil, err
	}
	n := 4 // ON_DEMAND streams start with 4 shards, as Kinesis
	if in.ShardCount != nil {
		n = *in.ShardCount
	} else if in.StreamModeDetails == nil || in.StreamModeDetails.StreamMode != "ON_DEMAND" {
		return nil, apiErr(store.ErrValidation, "1 validation error detected: Value null at 'shardCount' failed to satisfy constraint: Member must not be null")
	}
	if n < 1 {
		return nil, apiErr(store.ErrValidation, "1 validation error detected: Value '%d' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
	}
	if n > MaxShardsPerStream {
		return nil, apiErr(store.ErrLimitExceeded, "This request would exceed the shard limit of %d shards per stream.", MaxShardsPerStream)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("server closed")
	}
	if s.streams[in.StreamName] != nil {
		return nil, apiErr(store.ErrResourceInUse, "Stream %s under account 000000000000 already exists.", in.StreamName)
	}
	if err := s.takeShards(n); err != nil {
		return nil, err
	}
	created := false
	defer func() {
		if !created {
			s.giveShards(n)
		}
	}()
	dir := filepath.Join(s.dir, in.StreamName)
	if err := os.RemoveAll(dir); err != nil { // leftovers of a create that crashed
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create stream folder %s: %w", dir, err)
	}
	// Generations only grow, also across restarts and deletions: the creation
	// time in nanoseconds, or one more than the newest known.
	s.nextGen = max(s.nextGen+1, uint64(s.opts.Now().UnixNano()))
	st := &stream{dir: dir, shards: store.NewShardMap(n), endSeq: map[string]uint64{}, logs: map[string]*slog.Log{}}
	st.meta = streamMeta{Name: in.StreamName, Generation: s.nextGen, Created: s.opts.Now().UnixMilli(),
		RetentionHours: int(s.opts.Retention.Hours())}
	if st.meta.RetentionHours < MinRetentionHours {
		st.meta.RetentionHours = MinRetentionHours
	}
	if err := st.openLogs(s.logOptions()); err != nil {
		st.close()
		return nil, err
	}
	if err := st.save(); err != nil {
		st.close()
		return nil, err
	}
	s.streams[in.StreamName] = st
	created = true
	return struct{}{}, nil
}

func (s *Server) deleteStream(body []byte) (any, error) {
	var in struct {
		streamRef
		EnforceConsumerDeletion bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	// The stream's write lock waits for in-flight appends and reads.
	st, unlock, err := s.locked(in.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.checkConsumersDeletable(st, in.EnforceConsumerDeletion); err != nil {
		return nil, err
	}
	// Rename under Server.mu, before the name is free again, so a CreateStream
	// of the same name never sees this folder; renaming also means a crash
	// mid-delete never leaves a half-deleted stream that New would load
	// ('~' is not allowed in stream names, so New skips the trash).
	trash := filepath.Join(s.dir, fmt.Sprintf("%s%s~%d", trashPrefix, st.meta.Name, st.meta.Generation))
	s.mu.Lock()
	err = os.Rename(st.dir, trash)
	if err == nil {
		delete(s.streams, st.meta.Name)
		st.deleted = true
	}
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("cannot delete stream %s: %w", st.meta.Name, err)
	}
	s.giveShards(len(st.shards.Shards))
	cerr := st.close()
	if err := os.RemoveAll(trash); err != nil {
		return nil, fmt.Errorf("cannot remove deleted stream %s: %w", trash, err)
	}
	if cerr != nil {
		return nil, fmt.Errorf("deleted stream %s, but closing its logs failed: %w", st.meta.Name, cerr)
	}
	return struct{}{}, nil
}

type hashKeyRange struct {
	StartingHashKey string
	EndingHashKey   string
}

type seqRange struct {
	StartingSequenceNumber string
	EndingSequenceNumber   string `json:",omitempty"`
}

type shardOut struct {
	ShardId               string
	ParentShardId         string `json:",omitempty"`
	AdjacentParentShardId string `json:",omitempty"`
	HashKeyRange          hashKeyRange
	SequenceNumberRange   seqRange
}

// shardsOut describes shards after exclusiveStart (in shard id order), at most limit. Callers hold st.mu.
// keep, when not nil, selects the shards to describe.
func (st *stream) shardsOut(exclusiveStart string, limit int, keep func(*store.Shard) bool) (out []shardOut, more bool) {
	for _, sh := range st.shards.Shards { // ids are created in increasing order
		if exclusiveStart != "" && sh.ID <= exclusiveStart || keep != nil && !keep(sh) {
			continue
		}
		if len(out) == limit {
			return out, true
		}
		o := shardOut{ShardId: sh.ID, ParentShardId: sh.Parent, AdjacentParentShardId: sh.AdjacentParent,
			HashKeyRange: hashKeyRange{sh.Range.Start.String(), sh.Range.End.String()}}
		o.SequenceNumberRange = st.seqRange(sh)
		out = append(out, o)
	}
	return out, false
}

// seqRange is shard sh's SequenceNumberRange: from its first readable
// record (or, with none, the next one) and, once closed, to its last
// record. A closed shard with no readable record reports the same number
// for both, never an ending number below the starting one. Callers hold
// st.mu.
func (st *stream) seqRange(sh *store.Shard) seqRange {
	num := st.seqNum(sh)
	num.Seq = 1
	if l := st.logs[sh.ID]; l != nil {
		num.Seq = l.FirstSeq()
	}
	if !sh.Closed {
		return seqRange{StartingSequenceNumber: num.String()}
	}
	last := max(st.endSeq[sh.ID], 1) - 1 // endSeq is the next sequence number at closing
	num.Seq = min(num.Seq, last)
	r := seqRange{StartingSequenceNumber: num.String()}
	num.Seq = last
	r.EndingSequenceNumber = num.String()
	return r
}

var (
	enhancedMonitoring = []map[string][]string{{"ShardLevelMetrics": {}}}
	provisioned        = map[string]string{"StreamMode": "PROVISIONED"}
)

func (s *Server) describeStream(body []byte) (any, error) {
	var in struct {
		streamRef
		Limit                 int
		ExclusiveStartShardId string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := pageSize(&in.Limit, "limit", 100, 10000); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	shards, more := st.shardsOut(in.ExclusiveStartShardId, in.Limit, nil)
	return map[string]any{"StreamDescription": map[string]any{
		"StreamName":              st.meta.Name,
		"StreamARN":               s.arn(st.meta.Name),
		"StreamStatus":            "ACTIVE",
		"StreamModeDetails":       provisioned,
		"Shards":                  shards,
		"HasMoreShards":           more,
		"RetentionPeriodHours":    st.meta.RetentionHours,
		"StreamCreationTimestamp": epochSeconds(st.meta.Created),
		"EnhancedMonitoring":      enhancedMonitoring,
		"EncryptionType":          "NONE",
	}}, nil
}

func (s *Server) describeStreamSummary(body []byte) (any, error) {
	var in streamRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName":              st.meta.Name,
		"StreamARN":               s.arn(st.meta.Name),
		"StreamStatus":            "ACTIVE",
		"StreamModeDetails":       provisioned,
		"RetentionPeriodHours":    st.meta.RetentionHours,
		"StreamCreationTimestamp": epochSeconds(st.meta.Created),
		"EnhancedMonitoring":      enhancedMonitoring,
		"EncryptionType":          "NONE",
		"OpenShardCount":          len(st.shards.Open()),
		"ConsumerCount":           len(st.meta.Consumers),
	}}, nil
}

func (s *Server) listStreams(body []byte) (any, error) {
	var in struct {
		Limit                    int
		ExclusiveStartStreamName string
		NextToken                string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := pageSize(&in.Limit, "limit", 100, 10000); err != nil {
		return nil, err
	}
	after := in.ExclusiveStartStreamName
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, apiErr(store.ErrInvalidArgument, "NextToken is not valid.")
		}
		after = string(b)
	}
	s.mu.Lock()
	type summary struct {
		name    string
		created int64
	}
	var all []summary
	for name, st := range s.streams {
		if name > after {
			all = append(all, summary{name, st.meta.Created})
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	more := len(all) > in.Limit
	if more {
		all = all[:in.Limit]
	}
	names := make([]string, 0, len(all))
	summaries := make([]map[string]any, 0, len(all))
	for _, a := range all {
		names = append(names, a.name)
		summaries = append(summaries, map[string]any{"StreamName": a.name, "StreamARN": s.arn(a.name),
			"StreamStatus": "ACTIVE", "StreamModeDetails": provisioned, "StreamCreationTimestamp": epochSeconds(a.created)})
	}
	out := map[string]any{"StreamNames": names, "HasMoreStreams": more, "StreamSummaries": summaries}
	if more {
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))
	}
	return out, nil
}

func (s *Server) listShards(body []byte) (any, error) {
	var in struct {
		streamRef
		NextToken             string
		ExclusiveStartShardId string
		MaxResults            int
		ShardFilter           *struct {
			Type    string
			ShardId string
		}
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := pageSize(&in.MaxResults, "maxResults", 1000, 10000); err != nil {
		return nil, err
	}
	name, after := in.name(), in.ExclusiveStartShardId
	if in.NextToken != "" {
		if name != "" || after != "" {
			return nil, apiErr(store.ErrInvalidArgument, "NextToken cannot be combined with StreamName or ExclusiveStartShardId.")
		}
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		var ok bool
		name, after, ok = strings.Cut(string(b), "\x00")
		if err != nil || !ok {
			return nil, apiErr(store.ErrInvalidArgument, "NextToken is not valid.")
		}
	}
	var keep func(*store.Shard) bool
	if f := in.ShardFilter; f != nil {
		switch f.Type {
		case "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON":
			// Shards are never expired here, so every shard is still readable.
		case "AT_LATEST":
			keep = func(sh *store.Shard) bool { return !sh.Closed }
		case "AFTER_SHARD_ID":
			if f.ShardId == "" {
				return nil, apiErr(store.ErrInvalidArgument, "ShardFilter AFTER_SHARD_ID needs a ShardId.")
			}
			if f.ShardId > after {
				after = f.ShardId
			}
		default:
			return nil, apiErr(store.ErrInvalidArgument, "ShardFilter type %q is not supported by this store.", f.Type)
		}
	}
	st, unlock, err := s.locked(name, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	shards, more := st.shardsOut(after, in.MaxResults, keep)
	out := map[string]any{"Shards": shards}
	if more {
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(name + "\x00" + shards[len(shards)-1].ShardId))
	}
	return out, nil
}

func (s *Server) changeRetention(body []byte, increase bool) (any, error) {
	var in struct {
		streamRef
		RetentionPeriodHours int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	h := in.RetentionPeriodHours
	if h < MinRetentionHours || h > MaxRetentionHours {
		return nil, apiErr(store.ErrInvalidArgument, "Retention period hours %d must be between %d and %d.", h, MinRetentionHours, MaxRetentionHours)
	}
	st, unlock, err := s.locked(in.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if increase && h < st.meta.RetentionHours {
		return nil, apiErr(store.ErrInvalidArgument, "Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", h, st.meta.Name, st.meta.RetentionHours)
	}
	if !increase && h > st.meta.RetentionHours {
		return nil, apiErr(store.ErrInvalidArgument, "Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", h, st.meta.Name, st.meta.RetentionHours)
	}
	old := st.meta.RetentionHours
	st.meta.RetentionHours = h
	if err := st.save(); err != nil {
		st.meta.RetentionHours = old
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Server) increaseRetention(body []byte) (any, error) { return s.changeRetention(body, true) }
func (s *Server) decreaseRetention(body []byte) (any, error) { return s.changeRetention(body, false) }

// pageSize applies the default of a paging field (0: def) and checks that it
// is from 1 to most, with AWS's validation message naming the field.
func pageSize(v *int, field string, def, most int) error {
	if *v == 0 {
		*v = def
	}
	if *v < 1 || *v > most {
		return apiErr(store.ErrValidation, "1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between 1 and %d", *v, field, most)
	}
	return nil
}
