package server

import (
	"errors"
	"math"
	"strconv"
	"sync"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/iterator"
	slog "github.com/sluicehq/sluice/store/log"
)

// maxGetRecordsBytes bounds one GetRecords response, as Kinesis (10 MiB).
const maxGetRecordsBytes = 10 << 20

type putEntry struct {
	Data            []byte
	PartitionKey    string
	ExplicitHashKey string
}

// route validates e and returns the hash key that picks its shard.
func (e *putEntry) route() (store.HashKey, error) {
	if err := store.ValidatePartitionKey(e.PartitionKey); err != nil {
		return store.HashKey{}, err
	}
	if err := store.ValidateRecordData(e.Data); err != nil {
		return store.HashKey{}, err
	}
	if e.ExplicitHashKey != "" {
		h, err := store.ParseHashKey(e.ExplicitHashKey)
		if err != nil {
			return store.HashKey{}, apiErr(store.ErrInvalidArgument, "Invalid ExplicitHashKey %q: %v", e.ExplicitHashKey, err)
		}
		return h, nil
	}
	return store.HashKeyOf(e.PartitionKey), nil
}

func (s *Server) putRecord(body []byte) (any, error) {
	var in struct {
		streamRef
		putEntry
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	h, err := in.route()
	if err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sh := st.shards.Route(h)
	seq, err := st.logs[sh.ID].Append([][]byte{in.Data}, [][]byte{[]byte(in.PartitionKey)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"ShardId": sh.ID, "SequenceNumber": strconv.FormatUint(seq, 10), "EncryptionType": "NONE"}, nil
}

type putResult struct {
	SequenceNumber string `json:",omitempty"`
	ShardId        string `json:",omitempty"`
	ErrorCode      string `json:",omitempty"`
	ErrorMessage   string `json:",omitempty"`
}

func (s *Server) putRecords(body []byte) (any, error) {
	var in struct {
		streamRef
		Records []putEntry
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size := 0
	for _, r := range in.Records {
		size += len(r.Data) + len(r.PartitionKey)
	}
	if err := store.ValidatePutRecords(len(in.Records), size); err != nil {
		return nil, err
	}
	keys := make([]store.HashKey, len(in.Records))
	for i := range in.Records {
		h, err := in.Records[i].route()
		if err != nil {
			return nil, err
		}
		keys[i] = h
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// One Append per shard, all shards concurrently, so group commit can
	// batch them; order within a shard is the request's order.
	byShard := map[string][]int{}
	for i, h := range keys {
		id := st.shards.Route(h).ID
		byShard[id] = append(byShard[id], i)
	}
	results := make([]putResult, len(in.Records))
	var wg sync.WaitGroup
	for id, idx := range byShard {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([][]byte, len(idx))
			hdrs := make([][]byte, len(idx))
			for j, i := range idx {
				data[j], hdrs[j] = in.Records[i].Data, []byte(in.Records[i].PartitionKey)
			}
			first, err := st.logs[id].Append(data, hdrs)
			for j, i := range idx {
				if err != nil {
					results[i] = putResult{ErrorCode: "InternalFailure", ErrorMessage: "Internal service failure."}
				} else {
					results[i] = putResult{SequenceNumber: strconv.FormatUint(first+uint64(j), 10), ShardId: id}
				}
			}
		}()
	}
	wg.Wait()
	failed := 0
	for _, r := range results {
		if r.ErrorCode != "" {
			failed++
		}
	}
	return map[string]any{"FailedRecordCount": failed, "Records": results, "EncryptionType": "NONE"}, nil
}

func parseSeq(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, apiErr(store.ErrInvalidArgument, "StartingSequenceNumber %q is not a valid sequence number.", s)
	}
	return n, nil
}

func (s *Server) getShardIterator(body []byte) (any, error) {
	var in struct {
		streamRef
		ShardId                string
		ShardIteratorType      string
		StartingSequenceNumber string
		Timestamp              *float64
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sh, err := st.shards.Get(in.ShardId)
	if err != nil {
		return nil, err
	}
	l := st.logs[sh.ID]
	end := l.NextSeq()
	var seq uint64
	switch in.ShardIteratorType {
	case "TRIM_HORIZON":
		seq = l.FirstSeq()
	case "LATEST":
		seq = end
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if seq, err = parseSeq(in.StartingSequenceNumber); err != nil {
			return nil, err
		}
		if in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER" {
			seq++
		}
		if seq > end {
			return nil, apiErr(store.ErrInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s is invalid because it did not come from this stream.",
				in.StartingSequenceNumber, sh.ID, st.meta.Name)
		}
		seq = max(seq, l.FirstSeq())
	case "AT_TIMESTAMP":
		if in.Timestamp == nil {
			return nil, apiErr(store.ErrInvalidArgument, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP.")
		}
		ms := int64(math.Round(*in.Timestamp * 1000))
		if seq, err = l.SeekTimestamp(ms); err != nil {
			return nil, err
		}
	default:
		return nil, apiErr(store.ErrValidation, "1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]", in.ShardIteratorType)
	}
	it, err := s.codec.Encode(iterator.Position{Stream: st.meta.Name, Shard: sh.ID, Generation: st.meta.Generation, Seq: seq})
	if err != nil {
		return nil, err
	}
	return map[string]any{"ShardIterator": it}, nil
}

type recordOut struct {
	SequenceNumber              string
	ApproximateArrivalTimestamp float64
	Data                        []byte
	PartitionKey                string
	EncryptionType              string
}

type childShard struct {
	ShardId      string
	ParentShards []string
	HashKeyRange hashKeyRange
}

func (s *Server) getRecords(body []byte) (any, error) {
	var in struct {
		ShardIterator string
		Limit         int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Limit == 0 {
		in.Limit = store.MaxGetRecordsLimit
	}
	if in.Limit < 1 || in.Limit > store.MaxGetRecordsLimit {
		return nil, apiErr(store.ErrValidation, "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000 and greater than or equal to 1", in.Limit)
	}
	pos, err := s.codec.Decode(in.ShardIterator)
	switch {
	case errors.Is(err, iterator.ErrExpired):
		return nil, apiErr(store.ErrExpiredIterator, "%v", err)
	case err != nil:
		return nil, apiErr(store.ErrInvalidArgument, "Invalid ShardIterator.")
	}
	st, unlock, err := s.locked(pos.Stream, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if st.meta.Generation != pos.Generation {
		return nil, apiErr(store.ErrResourceNotFound, "Stream %s was deleted and re-created; the shard iterator belongs to the deleted stream.", pos.Stream)
	}
	sh, err := st.shards.Get(pos.Shard)
	if err != nil {
		return nil, err
	}
	l := st.logs[sh.ID]
	recs, next, err := l.Read(pos.Seq, in.Limit, maxGetRecordsBytes)
	if errors.Is(err, slog.ErrTrimmed) { // the iterator's records expired: continue at the trim horizon
		recs, next, err = l.Read(l.FirstSeq(), in.Limit, maxGetRecordsBytes)
	}
	if err != nil {
		return nil, err
	}
	out := make([]recordOut, len(recs))
	for i, r := range recs {
		out[i] = recordOut{SequenceNumber: strconv.FormatUint(r.Seq, 10), ApproximateArrivalTimestamp: epochSeconds(r.Timestamp),
			Data: r.Data, PartitionKey: string(r.Header), EncryptionType: "NONE"}
	}
	resp := map[string]any{"Records": out, "MillisBehindLatest": 0}
	latest := l.NextSeq()
	if len(recs) > 0 && next < latest {
		behind := s.opts.Now().UnixMilli() - recs[len(recs)-1].Timestamp
		resp["MillisBehindLatest"] = max(behind, 0)
	}
	if sh.Closed && next >= latest {
		// A closed shard read to its end: no next iterator; the reader moves on to the children.
		var children []childShard
		for _, c := range st.shards.Children(sh.ID) {
			parents := []string{c.Parent}
			if c.AdjacentParent != "" {
				parents = append(parents, c.AdjacentParent)
			}
			children = append(children, childShard{ShardId: c.ID, ParentShards: parents,
				HashKeyRange: hashKeyRange{c.Range.Start.String(), c.Range.End.String()}})
		}
		resp["ChildShards"] = children
		return resp, nil
	}
	it, err := s.codec.Encode(iterator.Position{Stream: pos.Stream, Shard: pos.Shard, Generation: pos.Generation, Seq: next})
	if err != nil {
		return nil, err
	}
	resp["NextShardIterator"] = it
	return resp, nil
}
