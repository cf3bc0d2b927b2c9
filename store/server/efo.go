package server

// Enhanced fan-out: stream consumers (RegisterStreamConsumer,
// DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer) and
// SubscribeToShard, which pushes a shard's records to a consumer as they
// commit, framed as AWS event-stream messages (store/eventstream).
//
// Consumers live in stream.json (streamMeta.Consumers). A consumer is
// CREATING for FanOutOptions.ConsumerDelay after it is registered, then
// ACTIVE; a deregistered one is DELETING for as long (kept in memory only),
// then gone. Subscriptions are kept in Server.fanOut, by consumer ARN and
// shard. Lock order: stream.mu before fanOutState.mu.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/eventstream"
	slog "github.com/sluicehq/sluice/store/log"
)

// Fan-out limits, as Kinesis.
const (
	// MaxConsumersPerStream is the most consumers a stream may have registered.
	MaxConsumersPerStream = 20
	// maxCreatingConsumers is the most consumers of a stream CREATING at once.
	maxCreatingConsumers = 5
	// maxEventRecords and maxEventBytes bound one SubscribeToShardEvent.
	maxEventRecords = 10000
	maxEventBytes   = 1 << 20
	// http1Pause delays the answer to a SubscribeToShard over HTTP/1 (see
	// serveSubscription).
	http1Pause = 20 * time.Millisecond
)

// Defaults of FanOutOptions.
const (
	DefaultConsumerDelay         = 500 * time.Millisecond
	DefaultSubscriptionLifetime  = 5 * time.Minute // as Kinesis
	DefaultSubscriptionHeartbeat = 5 * time.Second
	DefaultTakeoverAfter         = 5 * time.Second // as Kinesis
)

// FanOutOptions time consumers and subscriptions; zero fields take the
// defaults above.
type FanOutOptions struct {
	// ConsumerDelay is how long a registered consumer stays CREATING and a
	// deregistered one DELETING; negative: no delay.
	ConsumerDelay time.Duration
	// SubscriptionLifetime ends a SubscribeToShard, after which the client
	// subscribes again from the last ContinuationSequenceNumber.
	SubscriptionLifetime time.Duration
	// Heartbeat is the longest a subscription goes without an event: with
	// no records for that long it sends one without records, so that the
	// client sees MillisBehindLatest and knows the subscription is alive.
	Heartbeat time.Duration
	// TakeoverAfter: a subscription of a consumer and shard that has one
	// open since less than this is refused with ResourceInUseException;
	// one open since longer is taken over (the old one ends with that
	// exception), as Kinesis. Unlike Kinesis, one that has ended is no
	// obstacle, however recent.
	TakeoverAfter time.Duration
}

func (o FanOutOptions) withDefaults() FanOutOptions {
	if o.ConsumerDelay == 0 {
		o.ConsumerDelay = DefaultConsumerDelay
	}
	o.ConsumerDelay = max(o.ConsumerDelay, 0)
	if o.SubscriptionLifetime <= 0 {
		o.SubscriptionLifetime = DefaultSubscriptionLifetime
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultSubscriptionHeartbeat
	}
	if o.TakeoverAfter <= 0 {
		o.TakeoverAfter = DefaultTakeoverAfter
	}
	return o
}

// consumerMeta is one registered consumer as stream.json keeps it.
type consumerMeta struct {
	Name    string            `json:"name"`
	Created int64             `json:"created"` // Unix milliseconds
	Tags    map[string]string `json:"tags,omitempty"`
}

// fanOutState is the server's memory of deregistered consumers (DELETING)
// and open subscriptions. Its zero value is ready.
type fanOutState struct {
	mu       sync.Mutex
	deleting map[string]deletingConsumer // by consumer ARN
	subs     map[string]*subscription    // by consumer ARN + "\x00" + shard id
}

type deletingConsumer struct {
	stream string
	meta   consumerMeta
	until  time.Time
}

// subscription is one open SubscribeToShard.
type subscription struct {
	key      string
	start    time.Time
	takeover chan struct{} // closed when a newer subscription takes over
}

// consumerARN is the ARN of consumer c of the stream called stream, as
// Kinesis forms it: the stream's ARN, /consumer/, the name, and the
// creation time in seconds.
func (s *Server) consumerARN(stream string, c consumerMeta) string {
	return s.arn(stream) + "/consumer/" + c.Name + ":" + strconv.FormatInt(c.Created/1000, 10)
}

var consumerARNRE = regexp.MustCompile(`^(arn):aws.*:kinesis:.*:\d{12}:.*stream/[a-zA-Z0-9_.-]+/consumer/[a-zA-Z0-9_.-]+:[0-9]+$`)

func checkConsumerName(name string) error {
	switch {
	case name == "":
		return nullErr("consumerName")
	case len(name) > 128:
		return validationErr(name, "consumerName", fmt.Sprintf(store.MsgMaxLength, 128))
	case !namePattern.match(name):
		return validationErr(name, "consumerName", fmt.Sprintf(store.MsgPattern, namePattern.text))
	}
	return nil
}

func checkStreamARN(arn string) error {
	switch {
	case arn == "":
		return nullErr("streamARN")
	case len(arn) > 2048:
		return validationErr(arn, "streamARN", fmt.Sprintf(store.MsgMaxLength, 2048))
	case !arnPattern.match(arn):
		return validationErr(arn, "streamARN", fmt.Sprintf(store.MsgPattern, arnPattern.text))
	}
	return nil
}

// consumerRef is a consumer named by its ARN.
type consumerRef struct {
	stream  string
	name    string
	created int64 // Unix seconds
}

func parseConsumerARN(arn string) (consumerRef, error) {
	switch {
	case arn == "":
		return consumerRef{}, nullErr("consumerARN")
	case len(arn) > 2048:
		return consumerRef{}, validationErr(arn, "consumerARN", fmt.Sprintf(store.MsgMaxLength, 2048))
	case !consumerARNRE.MatchString(arn):
		return consumerRef{}, validationErr(arn, "consumerARN",
			fmt.Sprintf(store.MsgPattern, `^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`))
	}
	i := strings.LastIndex(arn, "/consumer/")
	streamPart, rest := arn[:i], arn[i+len("/consumer/"):]
	j := strings.LastIndexByte(rest, ':')
	created, err := strconv.ParseInt(rest[j+1:], 10, 64)
	if err != nil { // digits only, so only too many of them
		created = -1
	}
	return consumerRef{stream: streamPart[strings.LastIndex(streamPart, "/")+1:], name: rest[:j], created: created}, nil
}

func consumerNotFound(name, stream string) error {
	return apiErr(store.ErrResourceNotFound, store.MsgConsumerNotFound, name, stream, store.AccountID)
}

// consumer returns the registered consumer called name. Callers hold st.mu.
func (st *stream) consumer(name string) (consumerMeta, bool) {
	for _, c := range st.meta.Consumers {
		if c.Name == name {
			return c, true
		}
	}
	return consumerMeta{}, false
}

// consumerStatus is c's ConsumerStatus at now (CREATING or ACTIVE).
func (s *Server) consumerStatus(c consumerMeta, now time.Time) string {
	if now.Before(time.UnixMilli(c.Created).Add(s.opts.FanOut.withDefaults().ConsumerDelay)) {
		return "CREATING"
	}
	return "ACTIVE"
}

// deletingOf returns the consumers of stream still DELETING at now, and
// forgets those done.
func (f *fanOutState) deletingOf(stream string, now time.Time) []deletingConsumer {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []deletingConsumer
	for arn, d := range f.deleting {
		switch {
		case !now.Before(d.until):
			delete(f.deleting, arn)
		case d.stream == stream:
			out = append(out, d)
		}
	}
	return out
}

type consumerOut struct {
	ConsumerName              string
	ConsumerARN               string
	ConsumerStatus            string
	ConsumerCreationTimestamp float64
	StreamARN                 string `json:",omitempty"`
}

func (s *Server) registerStreamConsumer(body []byte) (any, error) {
	var in struct {
		StreamARN    string
		ConsumerName string
		Tags         map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkConsumerName(in.ConsumerName); err != nil {
		return nil, err
	}
	if err := checkStreamARN(in.StreamARN); err != nil {
		return nil, err
	}
	if err := checkNewTags(in.Tags, "consumer", in.ConsumerName); err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(streamRef{StreamARN: in.StreamARN}.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := s.opts.Now()
	deleting := s.fanOut.deletingOf(st.meta.Name, now)
	_, exists := st.consumer(in.ConsumerName)
	for _, d := range deleting {
		exists = exists || d.meta.Name == in.ConsumerName
	}
	if exists {
		return nil, apiErr(store.ErrResourceInUse, store.MsgConsumerExists, in.ConsumerName, st.meta.Name, store.AccountID)
	}
	if len(st.meta.Consumers) >= MaxConsumersPerStream {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgConsumerLimit, st.meta.Name, store.AccountID, MaxConsumersPerStream)
	}
	creating := 0
	for _, c := range st.meta.Consumers {
		if s.consumerStatus(c, now) == "CREATING" {
			creating++
		}
	}
	if creating >= maxCreatingConsumers {
		return nil, apiErr(store.ErrLimitExceeded, store.MsgConsumerCreatingLimit, st.meta.Name, store.AccountID, maxCreatingConsumers)
	}
	c := consumerMeta{Name: in.ConsumerName, Created: now.UnixMilli(), Tags: in.Tags}
	st.meta.Consumers = append(st.meta.Consumers, c)
	if err := st.save(); err != nil {
		st.meta.Consumers = st.meta.Consumers[:len(st.meta.Consumers)-1]
		return nil, err
	}
	return map[string]any{"Consumer": consumerOut{ConsumerName: c.Name, ConsumerARN: s.consumerARN(st.meta.Name, c),
		ConsumerStatus: s.consumerStatus(c, now), ConsumerCreationTimestamp: epochSeconds(c.Created)}}, nil
}

// consumerQuery names a consumer by ConsumerARN, or by StreamARN and ConsumerName.
type consumerQuery struct {
	ConsumerARN  string
	StreamARN    string
	ConsumerName string
}

// resolve returns the stream and consumer name q names, and the creation
// time in seconds the ARN requires (-1: any).
func (q consumerQuery) resolve() (stream, name string, created int64, err error) {
	if q.ConsumerARN != "" {
		ref, err := parseConsumerARN(q.ConsumerARN)
		if err != nil {
			return "", "", 0, err
		}
		return ref.stream, ref.name, ref.created, nil
	}
	if q.StreamARN == "" || q.ConsumerName == "" {
		return "", "", 0, apiErr(store.ErrInvalidArgument, store.MsgNoConsumer)
	}
	if err := errors.Join(checkStreamARN(q.StreamARN), checkConsumerName(q.ConsumerName)); err != nil {
		return "", "", 0, err
	}
	return streamRef{StreamARN: q.StreamARN}.name(), q.ConsumerName, -1, nil
}

// lockedConsumer decodes and resolves a request naming a consumer and
// locks its stream (for writing when write): the consumer's name and its
// creation in Unix seconds (-1: not given).
func (s *Server) lockedConsumer(body []byte, write bool) (st *stream, unlock func(), cname string, created int64, err error) {
	var in consumerQuery
	if err := decode(body, &in); err != nil {
		return nil, nil, "", 0, err
	}
	name, cname, created, err := in.resolve()
	if err != nil {
		return nil, nil, "", 0, err
	}
	st, unlock, err = s.locked(name, write)
	if err != nil {
		return nil, nil, "", 0, err
	}
	return st, unlock, cname, created, nil
}

func (s *Server) describeStreamConsumer(body []byte) (any, error) {
	st, unlock, cname, created, err := s.lockedConsumer(body, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := s.opts.Now()
	c, ok := st.consumer(cname)
	status := ""
	if ok {
		status = s.consumerStatus(c, now)
	} else {
		for _, d := range s.fanOut.deletingOf(st.meta.Name, now) {
			if d.meta.Name == cname {
				c, ok, status = d.meta, true, "DELETING"
			}
		}
	}
	if !ok || created >= 0 && c.Created/1000 != created {
		return nil, consumerNotFound(cname, st.meta.Name)
	}
	return map[string]any{"ConsumerDescription": consumerOut{ConsumerName: c.Name, ConsumerARN: s.consumerARN(st.meta.Name, c),
		ConsumerStatus: status, ConsumerCreationTimestamp: epochSeconds(c.Created), StreamARN: s.arn(st.meta.Name)}}, nil
}

func (s *Server) listStreamConsumers(body []byte) (any, error) {
	var in struct {
		StreamARN               string
		MaxResults              int
		NextToken               string
		StreamCreationTimestamp *float64
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkStreamARN(in.StreamARN); err != nil {
		return nil, err
	}
	if err := pageSize(&in.MaxResults, "maxResults", 100, 10000); err != nil {
		return nil, err
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || len(b) == 0 {
			return nil, apiErr(store.ErrInvalidArgument, store.MsgBadNextToken)
		}
		after = string(b)
	}
	name := streamRef{StreamARN: in.StreamARN}.name()
	st, unlock, err := s.locked(name, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if ts := in.StreamCreationTimestamp; ts != nil && int64(*ts) != st.meta.Created/1000 {
		return nil, apiErr(store.ErrResourceNotFound, store.MsgStreamNotFound, name, store.AccountID)
	}
	now := s.opts.Now()
	all := make([]consumerOut, 0, len(st.meta.Consumers))
	for _, c := range st.meta.Consumers {
		all = append(all, consumerOut{ConsumerName: c.Name, ConsumerARN: s.consumerARN(st.meta.Name, c),
			ConsumerStatus: s.consumerStatus(c, now), ConsumerCreationTimestamp: epochSeconds(c.Created)})
	}
	for _, d := range s.fanOut.deletingOf(st.meta.Name, now) {
		all = append(all, consumerOut{ConsumerName: d.meta.Name, ConsumerARN: s.consumerARN(st.meta.Name, d.meta),
			ConsumerStatus: "DELETING", ConsumerCreationTimestamp: epochSeconds(d.meta.Created)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ConsumerName < all[j].ConsumerName })
	i := sort.Search(len(all), func(i int) bool { return all[i].ConsumerName > after })
	page := all[i:]
	out := map[string]any{}
	if len(page) > in.MaxResults {
		page = page[:in.MaxResults]
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].ConsumerName))
	}
	out["Consumers"] = page
	return out, nil
}

func (s *Server) deregisterStreamConsumer(body []byte) (any, error) {
	st, unlock, cname, created, err := s.lockedConsumer(body, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := s.opts.Now()
	k := -1
	for i, c := range st.meta.Consumers {
		if c.Name == cname && (created < 0 || c.Created/1000 == created) {
			k = i
		}
	}
	if k < 0 {
		for _, d := range s.fanOut.deletingOf(st.meta.Name, now) {
			if d.meta.Name == cname && (created < 0 || d.meta.Created/1000 == created) {
				return struct{}{}, nil // being deleted already
			}
		}
		return nil, consumerNotFound(cname, st.meta.Name)
	}
	c := st.meta.Consumers[k]
	old := st.meta.Consumers
	st.meta.Consumers = append(append([]consumerMeta(nil), old[:k]...), old[k+1:]...)
	if err := st.save(); err != nil {
		st.meta.Consumers = old
		return nil, err
	}
	if d := s.opts.FanOut.withDefaults().ConsumerDelay; d > 0 {
		s.fanOut.mu.Lock()
		if s.fanOut.deleting == nil {
			s.fanOut.deleting = map[string]deletingConsumer{}
		}
		s.fanOut.deleting[s.consumerARN(st.meta.Name, c)] = deletingConsumer{stream: st.meta.Name, meta: c, until: now.Add(d)}
		s.fanOut.mu.Unlock()
	}
	st.notify() // the consumer's subscriptions end
	return struct{}{}, nil
}

// checkConsumersDeletable refuses DeleteStream of a stream with consumers
// unless enforce is set. Callers hold st.mu.
func (s *Server) checkConsumersDeletable(st *stream, enforce bool) error {
	if len(st.meta.Consumers) == 0 || enforce {
		return nil
	}
	arn := s.arn(st.meta.Name)
	return apiErr(store.ErrResourceInUse, store.MsgStreamHasConsumers, arn, st.meta.Name)
}

// answerLater is what an operation returns to answer the request itself,
// after ServeHTTP has handed back what it held for the request body. c's
// body must not be used by then.
type answerLater func(w http.ResponseWriter, r *http.Request)

// encodeEvent encodes the payload of an event-stream message answering c:
// JSON, or CBOR for a CBOR request (as its answer would be, blobs as byte
// strings and timestamps as tag 1).
func (c *call) encodeEvent(v any) ([]byte, error) {
	js, err := json.Marshal(v)
	if err != nil || !c.cbor() {
		return js, err
	}
	return jsonToCBOR(nil, js)
}

// eventContentType is the :content-type of the events answering c.
func (c *call) eventContentType() string {
	if c.cbor() {
		return CBORContentType
	}
	return "application/x-amz-json-1.1"
}

// cbor reports whether c came in CBOR.
func (c *call) cbor() bool { return isCBOR(&http.Request{Header: c.header}) }

// subPos is where a subscription reads: a shard of a stream generation, the
// consumer it reads for, and the next log sequence number.
type subPos struct {
	stream   string
	gen      uint64
	shard    string
	consumer consumerMeta
	seq      uint64
}

func (s *Server) subscribeToShard(c *call) (any, error) {
	var in struct {
		ConsumerARN      string
		ShardId          string
		StartingPosition *struct {
			Type           string
			SequenceNumber string
			Timestamp      *float64
		}
	}
	if err := decode(c.body, &in); err != nil {
		return nil, err
	}
	ref, err := parseConsumerARN(in.ConsumerARN)
	if err != nil {
		return nil, err
	}
	if in.ShardId == "" {
		return nil, nullErr("shardId")
	}
	if in.StartingPosition == nil {
		return nil, nullErr("startingPosition")
	}
	sp := in.StartingPosition
	st, unlock, err := s.locked(ref.stream, false)
	if err != nil {
		return nil, err
	}
	cm, ok := st.consumer(ref.name)
	if !ok || cm.Created/1000 != ref.created {
		unlock()
		return nil, consumerNotFound(ref.name, ref.stream)
	}
	if s.consumerStatus(cm, s.opts.Now()) != "ACTIVE" {
		unlock()
		return nil, apiErr(store.ErrResourceInUse, store.MsgConsumerNotActive, cm.Name, cm.Created/1000, st.meta.Name, store.AccountID)
	}
	sh, err := st.shards.Get(in.ShardId)
	if err != nil {
		unlock()
		return nil, err
	}
	seq, err := s.startingSeq(st, sh, sp.Type, sp.SequenceNumber, sp.Timestamp)
	p := subPos{stream: st.meta.Name, gen: st.meta.Generation, shard: sh.ID, consumer: cm, seq: seq}
	arn := s.consumerARN(st.meta.Name, cm)
	unlock()
	if err != nil {
		return nil, err
	}
	sub, err := s.fanOut.begin(arn, p.shard, p.stream, cm.Name, s.opts.FanOut.withDefaults().TakeoverAfter)
	if err != nil {
		return nil, err
	}
	return answerLater(func(w http.ResponseWriter, r *http.Request) {
		defer s.fanOut.end(sub)
		s.serveSubscription(w, r, c, sub, p)
	}), nil
}

// startingSeq is the log sequence number a StartingPosition names on shard
// sh, with GetShardIterator's checks. Callers hold st.mu.
func (s *Server) startingSeq(st *stream, sh *store.Shard, typ, seqNum string, ts *float64) (uint64, error) {
	l := st.logs[sh.ID]
	end := l.NextSeq()
	switch typ {
	case "TRIM_HORIZON", "LATEST":
		if seqNum != "" {
			return 0, apiErr(store.ErrInvalidArgument, store.MsgIteratorSequence, typ, "also a")
		}
		if typ == "LATEST" {
			return end, nil
		}
		return l.FirstSeq(), nil
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if seqNum == "" {
			return 0, apiErr(store.ErrInvalidArgument, store.MsgIteratorSequence, typ, "no")
		}
		seq, err := st.parseStartingSeq(seqNum, sh)
		if err != nil {
			return 0, err
		}
		after := typ == "AFTER_SEQUENCE_NUMBER"
		if seq > end || after && seq == end {
			return 0, apiErr(store.ErrInvalidArgument, store.MsgSubscribeSequence, seqNum, sh.ID, st.meta.Name, store.AccountID)
		}
		if after {
			seq++
		}
		return max(seq, l.FirstSeq()), nil
	case "AT_TIMESTAMP":
		if ts == nil {
			return 0, apiErr(store.ErrInvalidArgument, store.MsgSubscribeNoTimestamp)
		}
		switch {
		case math.IsNaN(*ts):
			return 0, apiErr(store.ErrInvalidArgument, store.MsgSubscribeTimestampNaN)
		case *ts*1000 > float64(s.opts.Now().UnixMilli()): // in the future: refused, as GetShardIterator
			ms := *ts * 1000
			return 0, apiErr(store.ErrInvalidArgument, store.MsgFutureTimestamp, strconv.FormatFloat(ms, 'f', -1, 64), s.opts.Now().UnixMilli())
		case *ts <= 0:
			return l.FirstSeq(), nil
		}
		return l.SeekTimestamp(int64(math.Round(*ts * 1000)))
	}
	return 0, validationErr(typ, "startingPosition.type",
		fmt.Sprintf(store.MsgEnum, "AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP"))
}

// begin opens a subscription of consumer arn to shard, or refuses it while
// another opened less than gap ago is open; an older one is taken over.
func (f *fanOutState) begin(arn, shard, stream, consumer string, gap time.Duration) (*subscription, error) {
	key := arn + "\x00" + shard
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.subs[key]; old != nil {
		if now.Sub(old.start) < gap {
			return nil, apiErr(store.ErrResourceInUse, store.MsgSubscriptionActive, store.AccountID, stream, shard, consumer)
		}
		close(old.takeover)
	}
	if f.subs == nil {
		f.subs = map[string]*subscription{}
	}
	sub := &subscription{key: key, start: now, takeover: make(chan struct{})}
	f.subs[key] = sub
	return sub, nil
}

// end forgets sub, unless a newer subscription has taken its place.
func (f *fanOutState) end(sub *subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs[sub.key] == sub {
		delete(f.subs, sub.key)
	}
}

// eventRecord is a record as a SubscribeToShardEvent carries it.
type eventRecord struct {
	SequenceNumber              string
	ApproximateArrivalTimestamp float64
	Data                        []byte
	PartitionKey                string
	EncryptionType              string `json:",omitempty"`
}

// shardEvent is the payload of a SubscribeToShardEvent.
type shardEvent struct {
	Records                    []eventRecord
	ContinuationSequenceNumber string       `json:",omitempty"`
	MillisBehindLatest         int64        `json:"MillisBehindLatest"`
	ChildShards                []childShard `json:",omitempty"`
}

// nextEvent reads the event at p and moves p past it. With no records it
// also returns the changes to wait for; end says the shard is closed and
// read to its end (the event then names the children).
func (s *Server) nextEvent(p *subPos) (ev shardEvent, w *waiter, end bool, err error) {
	st, unlock, err := s.locked(p.stream, false)
	if err != nil {
		return ev, nil, false, err
	}
	defer unlock()
	if st.meta.Generation != p.gen {
		return ev, nil, false, apiErr(store.ErrResourceNotFound, store.MsgStreamNotFound, p.stream, store.AccountID)
	}
	if c, ok := st.consumer(p.consumer.Name); !ok || c.Created != p.consumer.Created {
		return ev, nil, false, consumerNotFound(p.consumer.Name, p.stream)
	}
	sh, err := st.shards.Get(p.shard)
	if err != nil {
		return ev, nil, false, err
	}
	l := st.logs[sh.ID]
	w = &waiter{log: l.Changed(), stream: st.changed()} // before reading, so no commit is missed
	recs, next, err := l.Read(p.seq, maxEventRecords, maxEventBytes)
	if errors.Is(err, slog.ErrTrimmed) { // expired: continue at the trim horizon
		recs, next, err = l.Read(l.FirstSeq(), maxEventRecords, maxEventBytes)
	}
	if err != nil {
		return ev, nil, false, inShardNum(sh.ID, st.seqNum(sh), err)
	}
	latest := l.NextSeq()
	end = sh.Closed && next >= latest
	num := st.seqNum(sh)
	ev.Records = make([]eventRecord, len(recs))
	for i, r := range recs {
		num.Seq = r.Seq
		ev.Records[i] = eventRecord{SequenceNumber: num.String(), ApproximateArrivalTimestamp: epochSeconds(r.Timestamp),
			Data: r.Data, PartitionKey: string(r.Header), EncryptionType: recordEncryption(r)}
	}
	if len(recs) > 0 && next < latest {
		ev.MillisBehindLatest = max(s.opts.Now().UnixMilli()-recs[len(recs)-1].Timestamp, 0)
	}
	if end {
		for _, c := range st.shards.Children(sh.ID) {
			parents := []string{c.Parent}
			if c.AdjacentParent != "" {
				parents = append(parents, c.AdjacentParent)
			}
			ev.ChildShards = append(ev.ChildShards, childShard{ShardId: c.ID, ParentShards: parents,
				HashKeyRange: hashKeyRange{c.Range.Start.String(), c.Range.End.String()}})
		}
	} else {
		// The last record delivered (or the one before the start): resume
		// AFTER_SEQUENCE_NUMBER it.
		num.Seq = next - 1
		ev.ContinuationSequenceNumber = num.String()
	}
	p.seq = next
	return ev, w, end, nil
}

// eventWriter writes event-stream messages to a response, each under a
// write deadline so that a client that stops reading is cut off.
type eventWriter struct {
	s  *Server
	c  *call
	w  http.ResponseWriter
	r  *http.Request
	rc *http.ResponseController
}

// send writes one message and flushes it; false when the client is gone.
func (e *eventWriter) send(m *eventstream.Message) bool {
	b, err := eventstream.AppendMessage(getBuf(len(m.Payload)+256), m)
	if err != nil { // an event over 16 MiB: cannot happen with maxEventBytes
		e.s.warn.Printf("cannot encode an event for %s: %v", e.r.RemoteAddr, err)
		return false
	}
	defer putBuf(b)
	lim := e.s.opts.Limits
	// A deadline as writePaced's, lifted once the event is written: over
	// HTTP/2 a deadline that passes ends the stream even between writes.
	// (In-process answers have no socket and no deadline.)
	deadline := false
	if lim.MinBodyRate > 0 {
		d := max(lim.BodyGrace, 0) + time.Duration(float64(len(b))/float64(lim.MinBodyRate)*float64(time.Second))
		deadline = e.rc.SetWriteDeadline(time.Now().Add(d)) == nil
	}
	_, err = e.w.Write(b)
	if err == nil {
		err = e.rc.Flush()
	}
	switch {
	case err == nil:
		if deadline {
			_ = e.rc.SetWriteDeadline(time.Time{})
		}
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		e.s.warn.Printf("ending the subscription of %s: an event of %d bytes not read in time: %v", e.r.RemoteAddr, len(b), err)
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET), errors.Is(err, http.ErrAbortHandler):
	}
	return false
}

func (e *eventWriter) event(typ string, v any) bool {
	payload, err := e.c.encodeEvent(v)
	if err != nil {
		e.s.warn.Printf("cannot encode an event for %s: %v", e.r.RemoteAddr, err)
		return false
	}
	return e.send(&eventstream.Message{Headers: []eventstream.Header{
		{Name: ":event-type", Value: eventstream.StringValue(typ)},
		{Name: ":content-type", Value: eventstream.StringValue(e.c.eventContentType())},
		{Name: ":message-type", Value: eventstream.StringValue("event")},
	}, Payload: payload})
}

// exception ends the stream with err as an exception message.
func (e *eventWriter) exception(err error) {
	var code, msg string
	var ae *store.Error
	if errors.As(err, &ae) {
		code, msg = ae.Code, ae.Message
	} else {
		_, code, msg = e.s.failure(err)
		if code != "ResourceNotFoundException" && code != "ResourceInUseException" {
			code = "InternalFailureException"
		}
	}
	payload, perr := e.c.encodeEvent(map[string]string{"message": msg})
	if perr != nil {
		return
	}
	e.send(&eventstream.Message{Headers: []eventstream.Header{
		{Name: ":exception-type", Value: eventstream.StringValue(code)},
		{Name: ":content-type", Value: eventstream.StringValue(e.c.eventContentType())},
		{Name: ":message-type", Value: eventstream.StringValue("exception")},
	}, Payload: payload})
}

// serveSubscription answers a SubscribeToShard: an initial-response, then
// an event as soon as records commit (and at least every Heartbeat),
// until the shard is closed and read to its end, the subscription's
// lifetime is over, the client goes away, a newer subscription takes over,
// the stream or consumer goes, or the server closes.
func (s *Server) serveSubscription(w http.ResponseWriter, r *http.Request, c *call, sub *subscription, p subPos) {
	opts := s.opts.FanOut.withDefaults()
	e := &eventWriter{s: s, c: c, w: w, r: r, rc: http.NewResponseController(w)}
	if r.ProtoMajor == 1 {
		// Over HTTP/1 the AWS SDK for Go closes its request body as soon
		// as the answer's headers arrive, and net/http, still checking
		// the body for bytes beyond its Content-Length, takes the closed
		// body's io.EOF for a write error and closes the connection under
		// the event stream. The check follows the body's last bytes at
		// once: a moment's pause lets it finish. (HTTP/2 reads bodies
		// otherwise; Kinesis serves SubscribeToShard over HTTP/2 only.)
		select {
		case <-time.After(http1Pause):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", eventstream.ContentType)
	w.WriteHeader(http.StatusOK)
	if !e.event("initial-response", struct{}{}) {
		return
	}
	lifetime := time.NewTimer(opts.SubscriptionLifetime)
	defer lifetime.Stop()
	beat := time.NewTimer(opts.Heartbeat)
	defer beat.Stop()
	due := true // the first event goes out at once
	ctx := r.Context()
	for {
		ev, wait, end, err := s.nextEvent(&p)
		if err != nil {
			select {
			case <-s.stop: // the store is closing: end as at the end of a lifetime
			default:
				e.exception(err)
			}
			return
		}
		if len(ev.Records) > 0 || end || due {
			if !e.event("SubscribeToShardEvent", ev) {
				return
			}
			due = false
			beat.Reset(opts.Heartbeat)
		}
		if end {
			return
		}
		logCh := wait.log
		if len(ev.Records) > 0 {
			logCh = closedChan // perhaps more records already: read on at once
		}
		select {
		case <-logCh:
		case <-wait.stream:
		case <-beat.C:
			due = true
		case <-sub.takeover:
			e.exception(apiErr(store.ErrResourceInUse, store.MsgSubscriptionActive, store.AccountID, p.stream, p.shard, p.consumer.Name))
			return
		case <-lifetime.C:
			return
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
	}
}

// closedChan is always ready.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
