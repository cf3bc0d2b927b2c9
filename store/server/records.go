package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
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
	Data            jsonBlob
	PartitionKey    string
	ExplicitHashKey string
}

// route returns the hash key that picks e's shard; e is validated.
func (e *putEntry) route() (store.HashKey, error) {
	if e.ExplicitHashKey != "" {
		h, err := store.ParseHashKey(e.ExplicitHashKey)
		if err != nil {
			return store.HashKey{}, apiErr(store.ErrInvalidArgument, store.MsgExplicitHashKey, e.ExplicitHashKey)
		}
		return h, nil
	}
	return store.HashKeyOf(e.PartitionKey), nil
}

// putEntryJSON is one record as encoding/json decodes it: nil for a field
// absent or null.
type putEntryJSON struct {
	Data            jsonBlob
	PartitionKey    *string
	ExplicitHashKey *string
}

func (e *putEntryJSON) entry() putEntry {
	return putEntry{Data: e.Data, PartitionKey: deref(e.PartitionKey), ExplicitHashKey: deref(e.ExplicitHashKey)}
}

// fastEntry is a record of a fast parse as sent: the fast parsers refuse
// empty strings, so an empty one was absent.
func fastEntry(e *putEntry) putEntryJSON {
	out := putEntryJSON{Data: e.Data}
	if e.PartitionKey != "" {
		out.PartitionKey = &e.PartitionKey
	}
	if e.ExplicitHashKey != "" {
		out.ExplicitHashKey = &e.ExplicitHashKey
	}
	return out
}

// fastRef is the stream reference of a fast parse as sent.
func fastRef(r *streamRef) refPresence {
	var out refPresence
	if r.StreamName != "" {
		out.StreamName = &r.StreamName
	}
	if r.StreamARN != "" {
		out.StreamARN = &r.StreamARN
	}
	return out
}

// entry checks one record as AWS does.
func (c *checker) entry(e putEntryJSON) {
	c.str("partitionKey", deref(e.PartitionKey), e.PartitionKey != nil, true, nil, 1, store.MaxPartitionKeyChars)
	c.str("explicitHashKey", deref(e.ExplicitHashKey), e.ExplicitHashKey != nil, false, &hashKeyPattern, 0, 0)
	c.blob("data", e.Data, e.Data != nil, store.MaxRecordBytes)
}

// lockedForPut locks the stream named for reading, which must take records
// (its state and its encryption key allow writes).
func (s *Server) lockedForPut(name string) (st *stream, unlock func(), err error) {
	st, unlock, err = s.locked(name, false)
	if err != nil {
		return nil, nil, err
	}
	if err := st.state.writable(st.meta.Name); err != nil {
		unlock()
		return nil, nil, err
	}
	if err := s.keyUsable(st); err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

func (s *Server) putRecord(body []byte) (any, error) {
	data := getBuf(putDataCap(len(body)))
	defer putBuf(data)
	in, ok := parsePutRecord(body, data)
	var c checker
	var ref refPresence
	var order *string // SequenceNumberForOrdering
	if ok {
		ref = fastRef(&in.streamRef)
		c.entry(fastEntry(&in.putEntry))
	} else {
		var w struct {
			StreamName, StreamARN, SequenceNumberForOrdering *string
			putEntryJSON
		}
		if err := decode(body, &w); err != nil {
			return nil, err
		}
		order, ref = w.SequenceNumberForOrdering, refPresence{w.StreamName, w.StreamARN}
		c.str("sequenceNumberForOrdering", deref(order), order != nil, false, &seqPattern, 0, 0)
		c.entry(w.putEntryJSON)
		in = putRecordIn{streamRef{deref(w.StreamName), deref(w.StreamARN)}, w.entry()}
	}
	c.stream(ref)
	if err := c.errStream(ref); err != nil {
		return nil, err
	}
	h, err := in.route()
	if err != nil {
		return nil, err
	}
	st, unlock, err := s.lockedForPut(in.name())
	if err != nil {
		return nil, err
	}
	defer unlock()
	if order != nil {
		if n, err := store.ParseSequenceNumber(*order); err != nil || n.Generation != st.meta.Generation {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgSequenceForOrdering, *order, st.meta.Name, store.AccountID)
		}
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

// records checks the Records list of a PutRecords request: present
// (recs not nil), then 1 to 500 entries, then each entry.
func (c *checker) records(n int, present bool, entry func(i int) putEntryJSON) {
	if !present {
		c.null("records")
		return
	}
	if n < 1 || n > store.MaxPutRecords {
		value := "[" + strings.TrimSuffix(strings.Repeat(store.MsgRecordsEntry+", ", n), ", ") + "]"
		if n < 1 {
			c.fail(value, true, "records", fmt.Sprintf(store.MsgMinLength, 1))
		} else {
			c.fail(value, true, "records", fmt.Sprintf(store.MsgMaxLength, store.MaxPutRecords))
		}
	}
	c.list = "records"
	for i := range n {
		c.member = i + 1
		c.entry(entry(i))
	}
	c.member = 0
}

func (s *Server) putRecords(body []byte) (any, error) {
	data := getBuf(putDataCap(len(body)))
	defer putBuf(data)
	in, ok := parsePutRecords(body, data)
	var c checker
	var ref refPresence
	if ok {
		ref = fastRef(&in.streamRef)
		c.records(len(in.Records), in.Records != nil, func(i int) putEntryJSON { return fastEntry(&in.Records[i]) })
	} else {
		var w struct {
			StreamName, StreamARN *string
			Records               []putEntryJSON
		}
		if err := decode(body, &w); err != nil {
			return nil, err
		}
		ref = refPresence{w.StreamName, w.StreamARN}
		c.records(len(w.Records), w.Records != nil, func(i int) putEntryJSON { return w.Records[i] })
		in = putRecordsIn{streamRef: streamRef{deref(w.StreamName), deref(w.StreamARN)}, Records: make([]putEntry, len(w.Records))}
		for i := range w.Records {
			in.Records[i] = w.Records[i].entry()
		}
	}
	c.stream(ref)
	if err := c.errStream(ref); err != nil {
		return nil, err
	}
	size := 0
	for _, r := range in.Records {
		size += len(r.Data) + len(r.PartitionKey)
	}
	if size > store.MaxPutRecordsBytes {
		return nil, apiErr(store.ErrInvalidArgument, store.MsgRecordsSize, size)
	}
	keys := make([]store.HashKey, len(in.Records))
	for i := range in.Records {
		h, err := in.Records[i].route()
		if err != nil {
			return nil, err
		}
		keys[i] = h
	}
	st, unlock, err := s.lockedForPut(in.name())
	if err != nil {
		return nil, err
	}
	defer unlock()
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
			b = append(b, `{"ErrorCode":"InternalFailure","ErrorMessage":"`+store.MsgInternalFailure+`"}`...)
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

// parseStartingSeq checks an AT_ or AFTER_SEQUENCE_NUMBER request's
// sequence number against the shard it is used on and returns its log
// sequence number, with AWS's errors.
func (st *stream) parseStartingSeq(s string, sh *store.Shard) (uint64, error) {
	n, err := store.ParseSequenceNumber(s)
	if err != nil {
		return 0, apiErr(store.ErrInvalidArgument, store.MsgStartingSequence, s, sh.ID, st.meta.Name, store.AccountID)
	}
	want := st.seqNum(sh)
	if n.Shard != want.Shard {
		return 0, apiErr(store.ErrInvalidArgument, store.MsgStartingSequenceShard, store.ShardID(n.Shard), sh.ID)
	}
	if n.Generation != want.Generation {
		return 0, apiErr(store.ErrInvalidArgument, store.MsgStartingSequenceStream, s, sh.ID, st.meta.Name, store.AccountID)
	}
	return n.Seq, nil
}

// iteratorTypes are the ShardIteratorType values, in AWS's order.
var iteratorTypes = []string{"AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"}

func (s *Server) getShardIterator(body []byte) (any, error) {
	var in struct {
		streamRef
		ShardId                *string
		ShardIteratorType      *string
		StartingSequenceNumber *string
		Timestamp              *float64
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ref := presence(body)
	var c checker
	c.name("shardId", in.ShardId, true)
	c.enum("shardIteratorType", in.ShardIteratorType, true, iteratorTypes...)
	c.str("startingSequenceNumber", deref(in.StartingSequenceNumber), in.StartingSequenceNumber != nil, false, &seqPattern, 0, 0)
	c.stream(ref)
	if err := c.errStream(ref); err != nil {
		return nil, err
	}
	name, typ := in.name(), *in.ShardIteratorType
	id, err := resolveShard(*in.ShardId, name)
	if err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(name, false)
	if err != nil {
		return nil, shardNotExist(err, id, name)
	}
	defer unlock()
	sh, err := st.shards.Get(id)
	if err != nil {
		return nil, apiErr(store.ErrResourceNotFound, store.MsgShardNotExist, id, name, store.AccountID)
	}
	l := st.logs[sh.ID]
	end := l.NextSeq()
	var seq uint64
	switch typ {
	case "TRIM_HORIZON", "LATEST":
		if in.StartingSequenceNumber != nil {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgIteratorSequence, typ, "also a")
		}
		seq = end
		if typ == "TRIM_HORIZON" {
			seq = l.FirstSeq()
		}
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if in.StartingSequenceNumber == nil {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgIteratorSequence, typ, "no")
		}
		if seq, err = st.parseStartingSeq(*in.StartingSequenceNumber, sh); err != nil {
			return nil, err
		}
		// A number the shard has not handed out yet is not from this
		// stream; checked before adding one, which cannot overflow then.
		after := typ == "AFTER_SEQUENCE_NUMBER"
		if seq > end || after && seq == end {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgStartingSequenceStream, *in.StartingSequenceNumber, sh.ID, st.meta.Name, store.AccountID)
		}
		if after {
			seq++
		}
		seq = max(seq, l.FirstSeq())
	case "AT_TIMESTAMP":
		if in.Timestamp == nil {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgNoTimestamp)
		}
		ms, now := *in.Timestamp*1000, s.opts.Now().UnixMilli()
		switch {
		case ms > float64(now):
			return nil, apiErr(store.ErrInvalidArgument, store.MsgFutureTimestamp, strconv.FormatFloat(ms, 'f', -1, 64), now)
		case ms <= 0: // before every record: the trim horizon
			seq = l.FirstSeq()
		default:
			if seq, err = l.SeekTimestamp(int64(math.Round(ms))); err != nil {
				return nil, err
			}
		}
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
		ShardIterator *string
		Limit         *integer
		StreamARN     *string
	}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	var v checker
	v.num("limit", in.Limit, false, 1, store.MaxGetRecordsLimit)
	v.str("shardIterator", deref(in.ShardIterator), in.ShardIterator != nil, true, nil, 1, 512)
	v.str("streamARN", deref(in.StreamARN), in.StreamARN != nil, false, &arnPattern, 1, 2048)
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := orDefault(in.Limit, store.MaxGetRecordsLimit)
	pos, err := s.codec.Decode(*in.ShardIterator)
	switch {
	case errors.Is(err, iterator.ErrExpired):
		return nil, apiErr(store.ErrExpiredIterator, "%v", err)
	case err != nil:
		return nil, apiErr(store.ErrInvalidArgument, store.MsgBadIterator)
	}
	if wait <= 0 {
		out, _, err := s.readShard(pos, limit, false)
		return out, err
	}
	return s.longPoll(c.ctx, pos, limit, wait)
}

// readShard answers a GetRecords call at pos. With mayWait set, when pos is
// at the end of an open shard it answers nothing and instead returns the
// changes to wait for before asking again.
func (s *Server) readShard(pos iterator.Position, limit int, mayWait bool) (jsonBody, *waiter, error) {
	st, unlock, err := s.locked(pos.Stream, false)
	if err != nil {
		return nil, nil, shardNotExist(err, pos.Shard, pos.Stream)
	}
	defer unlock()
	if st.meta.Generation != pos.Generation {
		return nil, nil, apiErr(store.ErrResourceNotFound, store.MsgStreamRecreated, pos.Stream)
	}
	sh, err := st.shards.Get(pos.Shard)
	if err != nil {
		return nil, nil, apiErr(store.ErrResourceNotFound, store.MsgShardNotExist, pos.Shard, pos.Stream, store.AccountID)
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
