package server

import (
	"encoding/base64"
	"errors"
	"math"
	"sort"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/iterator"
	slog "github.com/sluicehq/sluice/store/log"
)

// maxGetRecordsBytes bounds one GetRecords response, as Kinesis (10 MiB).
const maxGetRecordsBytes = 10 << 20

// putEntry is one record of a PutRecord or PutRecords request.
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
	data := getBuf(putDataCap(len(body)))
	defer putBuf(data)
	in, ok := parsePutRecord(body, data)
	if !ok {
		in = putRecordIn{}
		if err := decode(body, &in); err != nil {
			return nil, err
		}
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
	if err := st.state.writable(st.meta.Name); err != nil {
		return nil, err
	}
	if err := s.keyUsable(st); err != nil {
		return nil, err
	}
	sh := st.shards.Route(h)
	num := st.seqNum(sh)
	num.Seq, err = st.logs[sh.ID].Append([][]byte{in.Data}, [][]byte{keyBytes(in.PartitionKey)})
	if err != nil {
		return nil, inShard(sh.ID, err)
	}
	st.state.count(sh.ID, 1, len(in.Data))
	st.shardMetrics(sh.ID).wrote(1, len(in.Data)+len(in.PartitionKey))
	b := getBuf(128)
	b = append(b, `{"EncryptionType":"`...)
	b = append(b, st.encryptionType()...)
	b = append(b, `","SequenceNumber":"`...)
	b = num.AppendTo(b)
	b = append(b, `","ShardId":`...)
	b = appendJSONString(b, sh.ID)
	return jsonBody(append(b, "}\n"...)), nil
}

// keyBytes views a partition key as the header bytes Append takes. Append
// only reads its headers, and does not keep them once it returns.
func keyBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// putResult is the outcome of one record of a PutRecords call: its sequence
// number (in shard), or failed.
type putResult struct {
	num    store.SequenceNumber
	shard  string
	failed bool
}

func (s *Server) putRecords(body []byte) (any, error) {
	data := getBuf(putDataCap(len(body)))
	defer putBuf(data)
	in, ok := parsePutRecords(body, data)
	if !ok {
		in = putRecordsIn{}
		if err := decode(body, &in); err != nil {
			return nil, err
		}
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
	if err := st.state.writable(st.meta.Name); err != nil {
		return nil, err
	}
	if err := s.keyUsable(st); err != nil {
		return nil, err
	}
	results := s.appendByShard(st, in.Records, keys)
	failed := 0
	for _, r := range results {
		if r.failed {
			failed++
		}
	}
	b := getBuf(64 + 64*len(results))
	b = append(b, `{"EncryptionType":"`...)
	b = append(b, st.encryptionType()...)
	b = append(b, `","FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `,"Records":[`...)
	for i, r := range results {
		if i > 0 {
			b = append(b, ',')
		}
		if r.failed {
			b = append(b, `{"ErrorCode":"InternalFailure","ErrorMessage":"Internal service failure."}`...)
			continue
		}
		b = append(b, `{"SequenceNumber":"`...)
		b = r.num.AppendTo(b)
		b = append(b, `","ShardId":`...)
		b = appendJSONString(b, r.shard)
		b = append(b, '}')
	}
	return jsonBody(append(b, "]}\n"...)), nil
}

// appendByShard appends recs, routed by their hash keys, with one
// AppendAsync per shard, all queued before waiting, so group commit can
// batch them; order within a shard is the request's order. Callers hold
// st.mu for reading.
func (s *Server) appendByShard(st *stream, recs []putEntry, keys []store.HashKey) []putResult {
	results := make([]putResult, len(recs))
	// Group the records by shard, shards in order of first appearance:
	// order lists the record indexes shard by shard, ends[k] is where
	// shard k's run ends.
	var shards []*store.Shard
	which := make([]int, len(recs))
	counts := make([]int, 0, 8)
	open := st.shards.Open()
	for i, h := range keys {
		sh := route(open, h)
		if sh == nil {
			sh = st.shards.Route(h)
		}
		k := 0
		for k < len(shards) && shards[k] != sh {
			k++
		}
		if k == len(shards) {
			shards = append(shards, sh)
			counts = append(counts, 0)
		}
		which[i] = k
		counts[k]++
		results[i].shard = sh.ID
	}
	if len(shards) == 0 {
		return results
	}
	ends := make([]int, len(shards))
	for k, sum := 0, 0; k < len(shards); k++ {
		sum += counts[k]
		ends[k] = sum
	}
	order := make([]int, len(recs))
	fill := counts // reused: next free slot of each run
	for k := range fill {
		fill[k] = ends[k] - counts[k]
	}
	for i, k := range which {
		order[fill[k]] = i
		fill[k]++
	}
	bufs := make([][]byte, 2*len(recs))
	data, hdrs := bufs[:len(recs)], bufs[len(recs):]
	for j, i := range order {
		data[j], hdrs[j] = recs[i].Data, keyBytes(recs[i].PartitionKey)
	}

	var pending atomic.Int32
	pending.Store(int32(len(shards)))
	done := make(chan struct{})
	for k, sh := range shards {
		start := 0
		if k > 0 {
			start = ends[k-1]
		}
		idx := order[start:ends[k]]
		num := st.seqNum(sh)
		counters := st.shardMetrics(sh.ID)
		finish := func(first uint64, err error) {
			for j, i := range idx {
				num.Seq = first + uint64(j)
				results[i].num, results[i].failed = num, err != nil
			}
			if counters != nil && err == nil {
				n := 0
				for _, i := range idx {
					n += len(recs[i].Data) + len(recs[i].PartitionKey)
				}
				counters.wrote(len(idx), n)
			}
			if pending.Add(-1) == 0 {
				close(done)
			}
		}
		st.state.countBatch(sh.ID, data[start:ends[k]])
		if err := st.logs[sh.ID].AppendAsync(data[start:ends[k]], hdrs[start:ends[k]], finish); err != nil {
			finish(0, err)
		}
	}
	<-done
	return results
}

// route returns the shard of open (the open shards, ordered by hash range)
// whose range holds h, or nil.
func route(open []*store.Shard, h store.HashKey) *store.Shard {
	i := sort.Search(len(open), func(i int) bool { return open[i].Range.End.Cmp(h) >= 0 })
	if i < len(open) && open[i].Range.Contains(h) {
		return open[i]
	}
	return nil
}

// maxTimestampSeconds is the latest AT_TIMESTAMP that converts to Unix
// milliseconds in an int64; any later one is in the future.
const maxTimestampSeconds = math.MaxInt64 / 1000

// parseStartingSeq checks an AT_ or AFTER_SEQUENCE_NUMBER request's
// sequence number against the shard it is used on and returns its log
// sequence number, with AWS's errors.
func (st *stream) parseStartingSeq(s string, sh *store.Shard) (uint64, error) {
	invalid := func(why string) error {
		return apiErr(store.ErrInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account 000000000000 is invalid%s.",
			s, sh.ID, st.meta.Name, why)
	}
	if s == "" {
		return 0, apiErr(store.ErrInvalidArgument, "StartingSequenceNumber is required for AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER iterators.")
	}
	n, err := store.ParseSequenceNumber(s)
	if err != nil {
		return 0, invalid(": " + err.Error())
	}
	want := st.seqNum(sh)
	if n.Shard != want.Shard {
		return 0, apiErr(store.ErrInvalidArgument, "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s",
			store.ShardID(n.Shard), sh.ID)
	}
	if n.Generation != want.Generation {
		return 0, invalid(" because it did not come from this stream")
	}
	return n.Seq, nil
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
	case "TRIM_HORIZON", "LATEST":
		if in.StartingSequenceNumber != "" {
			return nil, apiErr(store.ErrInvalidArgument, "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "+
				"(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and also a StartingSequenceNumber.", in.ShardIteratorType)
		}
		seq = end
		if in.ShardIteratorType == "TRIM_HORIZON" {
			seq = l.FirstSeq()
		}
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if seq, err = st.parseStartingSeq(in.StartingSequenceNumber, sh); err != nil {
			return nil, err
		}
		// A number the shard has not handed out yet is not from this
		// stream; checked before adding one, which cannot overflow then.
		after := in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER"
		if seq > end || after && seq == end {
			return nil, apiErr(store.ErrInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account 000000000000 is invalid because it did not come from this stream.",
				in.StartingSequenceNumber, sh.ID, st.meta.Name)
		}
		if after {
			seq++
		}
		seq = max(seq, l.FirstSeq())
	case "AT_TIMESTAMP":
		if in.Timestamp == nil {
			return nil, apiErr(store.ErrInvalidArgument, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP.")
		}
		ts := *in.Timestamp
		switch {
		case math.IsNaN(ts):
			return nil, apiErr(store.ErrInvalidArgument, "Timestamp for iterator of type AT_TIMESTAMP is not a number.")
		case ts >= maxTimestampSeconds: // in the future (also +Inf): the tip, as Kinesis
			seq = end
		case ts <= 0: // before every record (also -Inf): the trim horizon
			seq = l.FirstSeq()
		default:
			if seq, err = l.SeekTimestamp(int64(math.Round(ts * 1000))); err != nil {
				return nil, err
			}
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

type childShard struct {
	ShardId      string
	ParentShards []string
	HashKeyRange hashKeyRange
}

func (s *Server) getRecords(c *call) (any, error) {
	wait, err := longPollWait(c.header)
	if err != nil {
		return nil, err
	}
	var in struct {
		ShardIterator string
		Limit         int
	}
	if err := decode(c.body, &in); err != nil {
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
	if wait <= 0 {
		out, _, err := s.readShard(pos, in.Limit, false)
		return out, err
	}
	return s.longPoll(c.ctx, pos, in.Limit, wait)
}

// readShard answers a GetRecords call at pos. With mayWait set, when pos is
// at the end of an open shard it answers nothing and instead returns the
// changes to wait for before asking again.
func (s *Server) readShard(pos iterator.Position, limit int, mayWait bool) (jsonBody, *waiter, error) {
	st, unlock, err := s.locked(pos.Stream, false)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if st.meta.Generation != pos.Generation {
		return nil, nil, apiErr(store.ErrResourceNotFound, "Stream %s was deleted and re-created; the shard iterator belongs to the deleted stream.", pos.Stream)
	}
	sh, err := st.shards.Get(pos.Shard)
	if err != nil {
		return nil, nil, err
	}
	l := st.logs[sh.ID]
	if mayWait && !sh.Closed {
		// Take the channels before looking at the log's end, so a commit
		// right after the look still wakes the waiter.
		w := &waiter{log: l.Changed(), stream: st.changed()}
		if pos.Seq >= l.NextSeq() {
			return nil, w, nil
		}
	}
	recs, next, err := l.Read(pos.Seq, limit, maxGetRecordsBytes)
	if errors.Is(err, slog.ErrTrimmed) { // the iterator's records expired: continue at the trim horizon
		recs, next, err = l.Read(l.FirstSeq(), limit, maxGetRecordsBytes)
	}
	if err != nil {
		return nil, nil, inShardNum(sh.ID, st.seqNum(sh), err)
	}
	if err := s.recordsUsable(recs); err != nil {
		return nil, nil, err
	}
	// Keys in the order encoding/json writes a map's: sorted.
	size := 256
	for _, r := range recs {
		size += 128 + base64.StdEncoding.EncodedLen(len(r.Data)) + len(r.Header)
	}
	b := getBuf(size)
	b = append(b, '{')
	latest := l.NextSeq()
	closedEnd := sh.Closed && next >= latest
	if closedEnd {
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
		b = append(b, `"ChildShards":`...)
		if b, err = appendJSON(b, children); err != nil {
			putBuf(b)
			return nil, nil, err
		}
		b = append(b, ',')
	}
	var behind int64
	if len(recs) > 0 && next < latest {
		behind = max(s.opts.Now().UnixMilli()-recs[len(recs)-1].Timestamp, 0)
	}
	b = append(b, `"MillisBehindLatest":`...)
	b = strconv.AppendInt(b, behind, 10)
	if c := st.shardMetrics(sh.ID); c != nil {
		n := 0
		for _, r := range recs {
			n += len(r.Data)
		}
		c.read(len(recs), n, behind)
	}
	if !closedEnd {
		it, err := s.codec.Encode(iterator.Position{Stream: pos.Stream, Shard: pos.Shard, Generation: pos.Generation, Seq: next})
		if err != nil {
			putBuf(b)
			return nil, nil, err
		}
		b = append(b, `,"NextShardIterator":`...)
		b = appendJSONString(b, it)
	}
	b = append(b, `,"Records":[`...)
	num := st.seqNum(sh)
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"SequenceNumber":"`...)
		num.Seq = r.Seq
		b = num.AppendTo(b)
		b = append(b, `","ApproximateArrivalTimestamp":`...)
		b = appendJSONFloat(b, epochSeconds(r.Timestamp))
		b = append(b, `,"Data":`...)
		b = appendJSONBytes(b, r.Data)
		b = append(b, `,"PartitionKey":`...)
		b = appendJSONString(b, r.Header)
		b = append(b, `,"EncryptionType":"`...)
		b = append(b, recordEncryption(r)...)
		b = append(b, `"}`...)
	}
	return jsonBody(append(b, "]}\n"...)), nil, nil
}
