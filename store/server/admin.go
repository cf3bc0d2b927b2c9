package server

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

// MaxShardsPerStream bounds CreateStream and SplitShard (LimitExceededException).
const MaxShardsPerStream = 1024

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
		ShardCount        *integer
		StreamModeDetails *struct{ StreamMode *string }
		Tags              map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ref := presence(body)
	onDemand := in.StreamModeDetails != nil && deref(in.StreamModeDetails.StreamMode) == modeOnDemand
	var c checker
	c.num("shardCount", in.ShardCount, false, 1, 100000)
	c.name("streamName", ref.StreamName, true)
	if in.StreamModeDetails != nil {
		c.enum("streamModeDetails.streamMode", in.StreamModeDetails.StreamMode, true, modeProvisioned, modeOnDemand)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	if in.ShardCount == nil && !onDemand { // optional in the model, required for a provisioned stream
		c.null("shardCount")
		return nil, c.err()
	}
	if err := store.ValidateStreamName(in.StreamName); err != nil { // "." and ".."
		return nil, err
	}
	checkTagMap(&c, in.Tags, false, maxTagMapEntries)
	if err := c.err(); err != nil {
		return nil, err
	}
	n := OnDemandInitialShards
	if in.ShardCount != nil {
		n = int(*in.ShardCount)
	}
	if n > MaxShardsPerStream {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgShardLimit, MaxShardsPerStream)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("server closed")
	}
	if _, deleting := s.deletingLocked(in.StreamName); s.streams[in.StreamName] != nil || deleting {
		return nil, apiErr(store.ErrResourceInUse, store.MsgStreamExists, in.StreamName, store.AccountID)
	}
	if onDemand && s.onDemandStreamsLocked() >= MaxOnDemandStreams {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgOnDemandLimit, MaxOnDemandStreams, store.AccountID)
	}
	if err := checkNewTags(in.Tags, "stream", in.StreamName); err != nil {
		return nil, err
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
		RetentionHours: int(s.opts.Retention.Hours()), Tags: in.Tags}
	if len(in.Tags) == 0 {
		st.meta.Tags = nil
	}
	if st.meta.RetentionHours < MinRetentionHours {
		st.meta.RetentionHours = MinRetentionHours
	}
	if onDemand {
		st.meta.Mode = modeOnDemand
		st.state.onDemand.Store(true)
	}
	if d := s.stateDelay(); d > 0 {
		st.state.creating(d)
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
	if err := checkStream(body); err != nil {
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
		s.markDeleting(st.meta.Name, st.meta.Created)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("cannot delete stream %s: %w", st.meta.Name, err)
	}
	s.giveShards(len(st.shards.Shards))
	if st.policy.Swap(nil) != nil {
		s.policies.Add(-1)
	}
	st.meta.ShardLevelMetrics = nil
	st.syncMetrics(s.metrics)
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

var provisioned = map[string]string{"StreamMode": "PROVISIONED"}

func (s *Server) describeStream(body []byte) (any, error) {
	var in struct {
		streamRef
		Limit                 *integer
		ExclusiveStartShardId *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ref := presence(body)
	var c checker
	c.num("limit", in.Limit, false, 1, 10000)
	c.name("exclusiveStartShardId", in.ExclusiveStartShardId, false)
	c.stream(ref)
	if err := c.errStream(ref); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return s.describeDeleting(in.name(), err, false)
	}
	defer unlock()
	shards, more := st.shardsOut(startShard(in.ExclusiveStartShardId), orDefault(in.Limit, 100), nil)
	return map[string]any{"StreamDescription": st.describeEncryption(map[string]any{
		"StreamName":              st.meta.Name,
		"StreamARN":               s.arn(st.meta.Name),
		"StreamStatus":            st.state.get(),
		"StreamModeDetails":       st.state.mode(),
		"Shards":                  shards,
		"HasMoreShards":           more,
		"RetentionPeriodHours":    st.meta.RetentionHours,
		"StreamCreationTimestamp": epochSeconds(st.meta.Created),
		"EnhancedMonitoring":      st.enhancedMonitoring(),
		"EncryptionType":          "NONE",
	})}, nil
}

func (s *Server) describeStreamSummary(body []byte) (any, error) {
	var in streamRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkStream(body); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return s.describeDeleting(in.name(), err, true)
	}
	defer unlock()
	return map[string]any{"StreamDescriptionSummary": st.describeEncryption(map[string]any{
		"StreamName":              st.meta.Name,
		"StreamARN":               s.arn(st.meta.Name),
		"StreamStatus":            st.state.get(),
		"StreamModeDetails":       st.state.mode(),
		"RetentionPeriodHours":    st.meta.RetentionHours,
		"StreamCreationTimestamp": epochSeconds(st.meta.Created),
		"EnhancedMonitoring":      st.enhancedMonitoring(),
		"EncryptionType":          "NONE",
		"OpenShardCount":          len(st.shards.Open()),
		"ConsumerCount":           len(st.meta.Consumers),
	})}, nil
}

func (s *Server) listStreams(body []byte) (any, error) {
	var in struct {
		Limit                    *integer
		ExclusiveStartStreamName *string
		NextToken                *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	c.num("limit", in.Limit, false, 1, 10000)
	c.name("exclusiveStartStreamName", in.ExclusiveStartStreamName, false)
	c.str("nextToken", deref(in.NextToken), in.NextToken != nil, false, nil, 1, 1048576)
	if err := c.err(); err != nil {
		return nil, err
	}
	limit := orDefault(in.Limit, 100)
	after := deref(in.ExclusiveStartStreamName)
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgBadNextToken)
		}
		after = string(b)
	}
	s.mu.Lock()
	type summary struct {
		name    string
		created int64
		st      *stream // nil: being deleted
	}
	var all []summary
	for name, st := range s.streams {
		if name > after {
			all = append(all, summary{name, st.meta.Created, st})
		}
	}
	for name := range s.scale.deleting {
		if d, ok := s.deletingLocked(name); ok && name > after {
			all = append(all, summary{name, d.created, nil})
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	more := len(all) > limit
	if more {
		all = all[:limit]
	}
	names := make([]string, 0, len(all))
	summaries := make([]map[string]any, 0, len(all))
	for _, a := range all {
		names = append(names, a.name)
		status, mode := statusDeleting, provisioned
		if a.st != nil {
			status, mode = a.st.state.get(), a.st.state.mode()
		}
		summaries = append(summaries, map[string]any{"StreamName": a.name, "StreamARN": s.arn(a.name),
			"StreamStatus": status, "StreamModeDetails": mode, "StreamCreationTimestamp": epochSeconds(a.created)})
	}
	out := map[string]any{"StreamNames": names, "HasMoreStreams": more, "StreamSummaries": summaries}
	if more {
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))
	}
	return out, nil
}

// shardFilterTypes are ListShards' ShardFilter types, in AWS's order.
var shardFilterTypes = []string{"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP"}

func (s *Server) listShards(body []byte) (any, error) {
	var in struct {
		streamRef
		NextToken             *string
		ExclusiveStartShardId *string
		MaxResults            *integer
		ShardFilter           *struct {
			Type    *string
			ShardId *string
		}
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ref := presence(body)
	var c checker
	c.name("exclusiveStartShardId", in.ExclusiveStartShardId, false)
	c.num("maxResults", in.MaxResults, false, 1, 10000)
	c.str("nextToken", deref(in.NextToken), in.NextToken != nil, false, nil, 1, 1048576)
	c.stream(ref)
	if f := in.ShardFilter; f != nil {
		c.enum("shardFilter.type", f.Type, true, shardFilterTypes...)
		c.name("shardFilter.shardId", f.ShardId, false)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	name, after := in.name(), startShard(in.ExclusiveStartShardId)
	switch {
	case in.NextToken != nil && ref.StreamName != nil:
		return nil, apiErr(store.ErrInvalidArgument, store.MsgNextTokenAndName)
	case in.NextToken == nil && name == "":
		return nil, apiErr(store.ErrInvalidArgument, store.MsgNextTokenOrStream)
	case in.NextToken != nil:
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		var ok bool
		name, after, ok = strings.Cut(string(b), "\x00")
		if err != nil || !ok {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgBadNextToken)
		}
	}
	var keep func(*store.Shard) bool
	if f := in.ShardFilter; f != nil {
		switch *f.Type {
		case "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON":
			// Shards are never expired here, so every shard is still readable.
		case "AT_LATEST":
			keep = func(sh *store.Shard) bool { return !sh.Closed }
		case "AFTER_SHARD_ID":
			if f.ShardId == nil {
				return nil, apiErr(store.ErrInvalidArgument, store.MsgShardFilterID, *f.Type)
			}
			after = max(after, startShard(f.ShardId))
		default:
			return nil, apiErr(store.ErrInvalidArgument, store.MsgShardFilterType, *f.Type)
		}
	}
	st, unlock, err := s.locked(name, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := st.state.listable(name); err != nil {
		return nil, err
	}
	shards, more := st.shardsOut(after, orDefault(in.MaxResults, 1000), keep)
	out := map[string]any{"Shards": shards}
	if more {
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(name + "\x00" + shards[len(shards)-1].ShardId))
	}
	return out, nil
}

func (s *Server) changeRetention(body []byte, increase bool) (any, error) {
	var in struct {
		streamRef
		RetentionPeriodHours *integer
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ref := presence(body)
	var c checker
	c.num("retentionPeriodHours", in.RetentionPeriodHours, true, 1, MaxRetentionHours)
	c.stream(ref)
	if err := c.errStream(ref); err != nil {
		return nil, err
	}
	h := int(*in.RetentionPeriodHours)
	if h < MinRetentionHours {
		return nil, apiErr(store.ErrInvalidArgument, store.MsgRetentionTooShort, h)
	}
	st, unlock, err := s.locked(in.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if increase && h < st.meta.RetentionHours {
		return nil, apiErr(store.ErrInvalidArgument, store.MsgRetentionShorter, h, st.meta.Name, st.meta.RetentionHours)
	}
	if !increase && h > st.meta.RetentionHours {
		return nil, apiErr(store.ErrInvalidArgument, store.MsgRetentionLonger, h, st.meta.Name, st.meta.RetentionHours)
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
		return validationErr(strconv.Itoa(*v), field, fmt.Sprintf(store.MsgValueBetween, 1, most))
	}
	return nil
}
