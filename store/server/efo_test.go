package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/fxamacker/cbor/v2"

	"github.com/sluicehq/sluice/store/eventstream"
)

// protoRecorder is an SDK HTTP client that remembers the protocol of the
// answers it got.
type protoRecorder struct {
	c      *http.Client
	mu     sync.Mutex
	protos map[string]bool
}

func (p *protoRecorder) Do(r *http.Request) (*http.Response, error) {
	resp, err := p.c.Do(r)
	if err == nil {
		p.mu.Lock()
		p.protos[resp.Proto] = true
		p.mu.Unlock()
	}
	return resp, err
}

// efoServer is a store served by its real HTTPServer (limits.go), over TLS
// with HTTP/2 or over plain HTTP/1.1, and an SDK client of it.
type efoServer struct {
	s     *Server
	url   string
	kc    *kinesis.Client
	proto *protoRecorder
	dir   string
	hs    *http.Server
}

func startEFOServer(t *testing.T, dir string, opts Options, tls bool) *efoServer {
	t.Helper()
	s, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, lln := s.HTTPServer(ln)
	ts := httptest.NewUnstartedServer(nil)
	ts.Listener.Close()
	ts.Listener, ts.Config = lln, hs
	if tls {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		ts.Close()
		s.Close()
	})
	rec := &protoRecorder{c: ts.Client(), protos: map[string]bool{}}
	kc := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL),
		HTTPClient:   rec,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", Source: "test"}, nil
		}),
		Retryer: aws.NopRetryer{},
	})
	return &efoServer{s: s, url: ts.URL, kc: kc, proto: rec, dir: dir, hs: hs}
}

func (e *efoServer) createStream(t *testing.T, name string, shards int32) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	return e.waitActive(t, name)
}

// waitActive waits until the stream is ACTIVE (after CREATING or UPDATING)
// and returns its ARN.
func (e *efoServer) waitActive(t *testing.T, name string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		d, err := e.kc.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if d.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return aws.ToString(d.StreamDescriptionSummary.StreamARN)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s still %s", name, d.StreamDescriptionSummary.StreamStatus)
		}
	}
}

// activeConsumer registers a consumer and waits until it is ACTIVE.
func (e *efoServer) activeConsumer(t *testing.T, streamARN, name string) string {
	t.Helper()
	ctx := context.Background()
	reg, err := e.kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String(name)})
	if err != nil {
		t.Fatalf("RegisterStreamConsumer: %v", err)
	}
	arn := aws.ToString(reg.Consumer.ConsumerARN)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d, err := e.kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeStreamConsumer: %v", err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return arn
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s still %s", arn, d.ConsumerDescription.ConsumerStatus)
		}
	}
}

// putRec is a record as PutRecord acknowledged it.
type putRec struct {
	shard, seq string
	data       []byte
	key        string
}

func (e *efoServer) put(t *testing.T, stream string, rng *rand.Rand, n int) []putRec {
	t.Helper()
	var out []putRec
	for range n {
		data := make([]byte, 1+rng.IntN(300))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		key := fmt.Sprint("k", rng.Uint64())
		pr, err := e.kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String(key), Data: data})
		if err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
		out = append(out, putRec{shard: aws.ToString(pr.ShardId), seq: aws.ToString(pr.SequenceNumber), data: data, key: key})
	}
	return out
}

// ownDecoder returns a client like kc with an event-stream decoder of its
// own: the AWS SDK for Go v2 (kinesis v1.56.13, smithy-go v1.28.9) shares
// one between all the event streams of a client, a data race when two are
// open at once (or one still closing while the next starts). The HTTP
// client, and so the connections, stay shared.
func ownDecoder(kc *kinesis.Client) *kinesis.Client { return kinesis.New(kc.Options()) }

// subscribeResult is what one subscription delivered.
type subscribeResult struct {
	records      []types.Record
	continuation string
	children     []types.ChildShard
	events       int
	err          error
}

// subscribe reads one subscription until it ends, or until stop says so
// after an event.
func subscribe(ctx context.Context, kc *kinesis.Client, consumer, shard string, pos types.StartingPosition, stop func(int) bool) (subscribeResult, error) {
	out, err := ownDecoder(kc).SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumer), ShardId: aws.String(shard), StartingPosition: &pos})
	if err != nil {
		return subscribeResult{}, err
	}
	es := out.GetStream()
	defer es.Close()
	var res subscribeResult
	for ev := range es.Events() {
		e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			return res, fmt.Errorf("unexpected event %T", ev)
		}
		res.events++
		res.records = append(res.records, e.Value.Records...)
		if e.Value.MillisBehindLatest == nil {
			return res, fmt.Errorf("event without MillisBehindLatest")
		}
		if c := e.Value.ContinuationSequenceNumber; c != nil {
			res.continuation = *c
		}
		if len(e.Value.ChildShards) > 0 {
			if e.Value.ContinuationSequenceNumber != nil {
				return res, fmt.Errorf("ChildShards with a ContinuationSequenceNumber")
			}
			res.children = e.Value.ChildShards
		}
		if stop != nil && stop(len(res.records)) {
			return res, nil
		}
	}
	res.err = es.Err()
	return res, nil
}

// readEFO reads want records from shard on, following ChildShards (a child
// once all its parents are read) and resubscribing from the last
// ContinuationSequenceNumber when a subscription ends. It returns the
// records by shard and the number of subscriptions.
func readEFO(t *testing.T, kc *kinesis.Client, consumer, shard string, want int) (map[string][]types.Record, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := map[string][]types.Record{}
	total, subs := 0, 0
	queue := []string{shard}
	done := map[string]bool{}
	pending := map[string]int{} // child → parents not done yet
	for len(queue) > 0 && total < want {
		sh := queue[0]
		queue = queue[1:]
		pos := types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}
		for total < want {
			subs++
			res, err := subscribe(ctx, kc, consumer, sh, pos, func(n int) bool { return total+n >= want })
			if err != nil {
				t.Fatalf("SubscribeToShard %s: %v", sh, err)
			}
			if res.err != nil {
				t.Fatalf("subscription %d of %s ended after %d events, %d records with %v", subs, sh, res.events, len(res.records), res.err)
			}
			got[sh] = append(got[sh], res.records...)
			total += len(res.records)
			if res.children != nil {
				done[sh] = true
				for _, c := range res.children {
					id := aws.ToString(c.ShardId)
					if _, ok := pending[id]; !ok {
						pending[id] = len(c.ParentShards)
					}
					pending[id]--
					if pending[id] == 0 {
						queue = append(queue, id)
					}
				}
				break
			}
			if res.continuation == "" {
				t.Fatalf("subscription of %s ended without a ContinuationSequenceNumber", sh)
			}
			pos = types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(res.continuation)}
		}
	}
	return got, subs
}

// checkExactlyOnce compares what readEFO got with what was put: every
// record once, in order within its shard, byte for byte.
func checkExactlyOnce(t *testing.T, put []putRec, got map[string][]types.Record) {
	t.Helper()
	want := map[string][]putRec{}
	for _, p := range put {
		want[p.shard] = append(want[p.shard], p)
	}
	n := 0
	for sh, recs := range got {
		n += len(recs)
		w := want[sh]
		if len(recs) != len(w) {
			t.Fatalf("shard %s: got %d records, want %d", sh, len(recs), len(w))
		}
		for i, r := range recs {
			if aws.ToString(r.SequenceNumber) != w[i].seq || string(r.Data) != string(w[i].data) || aws.ToString(r.PartitionKey) != w[i].key {
				t.Fatalf("shard %s record %d: got %s %q, want %s %q", sh, i, aws.ToString(r.SequenceNumber), aws.ToString(r.PartitionKey), w[i].seq, w[i].key)
			}
			if r.ApproximateArrivalTimestamp == nil || r.EncryptionType != types.EncryptionTypeNone {
				t.Fatalf("shard %s record %d: %+v", sh, i, r)
			}
		}
	}
	if n != len(put) {
		t.Fatalf("got %d records, want %d", n, len(put))
	}
}

// TestSubscribeToShardFollowsSplitAndMergeWithSDKOverHTTP2 reads a stream
// through a split and a merge with the AWS SDK's SubscribeToShard over TLS
// and HTTP/2, signed with SigV4, while records are put: every record once,
// in order, exact.
func TestSubscribeToShardFollowsSplitAndMergeWithSDKOverHTTP2(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{Credentials: map[string]string{"AKID": "secret"}, Region: "us-east-1",
		FanOut: FanOutOptions{ConsumerDelay: 20 * time.Millisecond}}, true) // SigV4 checked on every call
	ctx := context.Background()
	streamARN := e.createStream(t, "efo", 1)
	consumer := e.activeConsumer(t, streamARN, "reader")
	rng := rand.New(rand.NewPCG(1, 7))

	const perPhase = 40
	var put []putRec
	done := make(chan struct{})
	go func() { // the writer: records, split, records, merge, records
		defer close(done)
		put = append(put, e.put(t, "efo", rng, perPhase)...)
		if _, err := e.kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("efo"), ShardToSplit: aws.String("shardId-000000000000"),
			NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
			t.Errorf("SplitShard: %v", err)
			return
		}
		put = append(put, e.put(t, "efo", rng, perPhase)...)
		e.waitActive(t, "efo") // UPDATING after the split
		if _, err := e.kc.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("efo"), ShardToMerge: aws.String("shardId-000000000001"),
			AdjacentShardToMerge: aws.String("shardId-000000000002")}); err != nil {
			t.Errorf("MergeShards: %v", err)
			return
		}
		put = append(put, e.put(t, "efo", rng, perPhase)...)
	}()
	got, _ := readEFO(t, e.kc, consumer, "shardId-000000000000", 3*perPhase)
	<-done
	checkExactlyOnce(t, put, got)
	if len(got) != 4 {
		t.Fatalf("read shards %v, want the parent, both children and the merged shard", slices.Sorted(mapKeys(got)))
	}
	if !e.proto.protos["HTTP/2.0"] || len(e.proto.protos) != 1 {
		t.Fatalf("protocols %v, want HTTP/2.0 only", e.proto.protos)
	}
}

func mapKeys[M ~map[K]V, K comparable, V any](m M) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSubscribeToShardRenewsWithoutLossOrDuplicatesOverHTTP1 shortens the
// subscription lifetime: the SDK sees each subscription end cleanly, and
// resubscribing AFTER_SEQUENCE_NUMBER the ContinuationSequenceNumber loses
// and repeats nothing, over plain HTTP/1.1.
func TestSubscribeToShardRenewsWithoutLossOrDuplicatesOverHTTP1(t *testing.T) {
	renewal(t, false)
}

// TestSubscribeToShardRenewsWithoutLossOrDuplicatesOverH2C is the same
// over HTTP/2 without TLS (h2c, with prior knowledge).
func TestSubscribeToShardRenewsWithoutLossOrDuplicatesOverH2C(t *testing.T) {
	renewal(t, true)
}

func renewal(t *testing.T, h2c bool) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1, SubscriptionLifetime: 150 * time.Millisecond,
		Heartbeat: 30 * time.Millisecond}}, false)
	want := "HTTP/1.1"
	if h2c {
		e.proto.c = &http.Client{Transport: h2cTransport()}
		want = "HTTP/2.0"
	}
	streamARN := e.createStream(t, "renew", 1)
	consumer := e.activeConsumer(t, streamARN, "reader")
	rng := rand.New(rand.NewPCG(2, 9))
	var put []putRec
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			put = append(put, e.put(t, "renew", rng, 10)...)
			time.Sleep(60 * time.Millisecond)
		}
	}()
	got, subs := readEFO(t, e.kc, consumer, "shardId-000000000000", 100)
	<-done
	checkExactlyOnce(t, put, got)
	if subs < 3 {
		t.Fatalf("%d subscriptions, want several renewals within the run", subs)
	}
	if !e.proto.protos[want] || len(e.proto.protos) != 1 {
		t.Fatalf("protocols %v, want %s only", e.proto.protos, want)
	}
}

// TestSubscribeToShardSendsEmptyEventsAsHeartbeats: with no records, the
// client still gets events, with MillisBehindLatest 0 and a continuation.
func TestSubscribeToShardSendsEmptyEventsAsHeartbeats(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1, Heartbeat: 20 * time.Millisecond}}, false)
	consumer := e.activeConsumer(t, e.createStream(t, "quiet", 1), "c")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := ownDecoder(e.kc).SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumer), ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	if err != nil {
		t.Fatal(err)
	}
	defer out.GetStream().Close()
	start := time.Now()
	for i := 0; i < 4; i++ {
		ev, ok := (<-out.GetStream().Events()).(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			t.Fatalf("event %d: the stream ended: %v", i, out.GetStream().Err())
		}
		if len(ev.Value.Records) != 0 || aws.ToInt64(ev.Value.MillisBehindLatest) != 0 || ev.Value.ContinuationSequenceNumber == nil {
			t.Fatalf("event %d: %+v", i, ev.Value)
		}
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > 2*time.Second {
		t.Fatalf("4 heartbeats took %v, want about 60 ms", el)
	}
}

// apiError checks that err is an API error of the given code and message.
func apiError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: error %v, want %s", what, err, code)
	}
	if ae.ErrorCode() != code || ae.ErrorMessage() != msg {
		t.Fatalf("%s: %s: %q\nwant %s: %q", what, ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

// TestStreamConsumerLifecycleWithSDK registers, describes, lists and
// deregisters consumers, with AWS's statuses, ARNs and errors, and keeps
// them across a restart.
func TestStreamConsumerLifecycleWithSDK(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_750_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	opts := Options{Now: clock, FanOut: FanOutOptions{ConsumerDelay: time.Second}}
	e := startEFOServer(t, dir, opts, false)
	ctx := context.Background()
	kc := e.kc
	streamARN := e.createStream(t, "life", 2)

	reg, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("app-1"),
		Tags: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	c := reg.Consumer
	wantARN := streamARN + "/consumer/app-1:1750000000"
	if aws.ToString(c.ConsumerARN) != wantARN || c.ConsumerStatus != types.ConsumerStatusCreating || !c.ConsumerCreationTimestamp.Equal(now) {
		t.Fatalf("registered %+v, want %s CREATING", c, wantARN)
	}
	_, err = kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: c.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	apiError(t, "SubscribeToShard of a CREATING consumer", err, "ResourceInUseException",
		"Consumer app-1 with creation timestamp 1750000000 under stream: life , account 000000000000 is not in ACTIVE status.")
	_, err = kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("app-1")})
	apiError(t, "duplicate", err, "ResourceInUseException", "Consumer app-1 under stream life already exists for account 000000000000.")
	_, err = kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("bad name")})
	apiError(t, "bad name", err, "ValidationException",
		"1 validation error detected: Value 'bad name' at 'consumerName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	many := map[string]string{}
	for i := range MaxTags + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	_, err = kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("t"), Tags: many})
	apiError(t, "51 tags", err, "InvalidArgumentException",
		"Failed to add tags to consumer t under account 000000000000 because a given consumer cannot have more than 50 tags associated with it.")
	_, err = kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN + "x"), ConsumerName: aws.String("a")})
	apiError(t, "unknown stream", err, "ResourceNotFoundException", "Stream lifex under account 000000000000 not found.")

	advance(time.Second)
	d, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("app-1")})
	if err != nil || d.ConsumerDescription.ConsumerStatus != types.ConsumerStatusActive || aws.ToString(d.ConsumerDescription.ConsumerARN) != wantARN ||
		aws.ToString(d.ConsumerDescription.StreamARN) != streamARN {
		t.Fatalf("DescribeStreamConsumer: %+v %v", d, err)
	}
	_, err = kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(streamARN + "/consumer/app-1:1750000001")})
	apiError(t, "describe by a wrong creation time", err, "ResourceNotFoundException", "Consumer app-1 under stream life under account 000000000000 not found.")
	_, err = kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/life")})
	apiError(t, "describe by a stream ARN", err, "ValidationException",
		`1 validation error detected: Value 'arn:aws:kinesis:us-east-1:000000000000:stream/life' at 'consumerARN' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`)

	// Paging through ListStreamConsumers, names in order.
	for i := 2; i <= 5; i++ {
		if _, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String(fmt.Sprint("app-", i))}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := kinesis.NewListStreamConsumersPaginator(kc, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(streamARN), MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range page.Consumers {
			names = append(names, aws.ToString(c.ConsumerName)+":"+string(c.ConsumerStatus))
		}
	}
	if fmt.Sprint(names) != "[app-1:ACTIVE app-2:CREATING app-3:CREATING app-4:CREATING app-5:CREATING]" || pages != 3 {
		t.Fatalf("listed %v in %d pages", names, pages)
	}
	if _, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("app-6")}); err != nil {
		t.Fatalf("a fifth CREATING: %v", err)
	}
	_, err = kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("app-7")})
	apiError(t, "a sixth CREATING", err, "LimitExceededException", "Stream life under account 000000000000 already has 5 consumers in CREATING status, the limit.")
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("life")})
	if err != nil || aws.ToInt32(sum.StreamDescriptionSummary.ConsumerCount) != 6 {
		t.Fatalf("DescribeStreamSummary: %+v %v", sum, err)
	}

	// Deregistered: DELETING for the delay, then gone.
	if _, err := kc.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(wantARN)}); err != nil {
		t.Fatal(err)
	}
	d, err = kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(wantARN)})
	if err != nil || d.ConsumerDescription.ConsumerStatus != types.ConsumerStatusDeleting {
		t.Fatalf("after deregistering: %+v %v", d, err)
	}
	_, err = kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String("app-1")})
	apiError(t, "re-register while DELETING", err, "ResourceInUseException", "Consumer app-1 under stream life already exists for account 000000000000.")
	advance(time.Second)
	_, err = kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(wantARN)})
	apiError(t, "after DELETING", err, "ResourceNotFoundException", "Consumer app-1 under stream life under account 000000000000 not found.")
	_, err = kc.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{StreamARN: aws.String(streamARN)})
	apiError(t, "deregister without a name", err, "InvalidArgumentException", "Either ConsumerARN or both ConsumerName and StreamARN must be provided.")

	_, err = kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("life")})
	apiError(t, "DeleteStream with consumers", err, "ResourceInUseException", "DeleteStream can't delete "+streamARN+
		" because there are consumers associated with this data stream. To delete life anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are associated with it.")

	// A restart keeps the consumers, with their creation times.
	e.s.Close()
	s2, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ts := httptest.NewServer(s2)
	defer ts.Close()
	kc2 := sdkClient(ts.URL, "", "")
	l, err := kc2.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(streamARN)})
	if err != nil || len(l.Consumers) != 5 || aws.ToString(l.Consumers[0].ConsumerARN) != streamARN+"/consumer/app-2:1750000001" {
		t.Fatalf("after a restart: %+v %v", l, err)
	}
	if _, err := kc2.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("life"), EnforceConsumerDeletion: aws.Bool(true)}); err != nil {
		t.Fatalf("DeleteStream EnforceConsumerDeletion: %v", err)
	}
}

// TestRegisterStreamConsumerRefusesTheTwentyFirst: at most 20 consumers.
func TestRegisterStreamConsumerRefusesTheTwentyFirst(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}}, false)
	streamARN := e.createStream(t, "many", 1)
	for i := range 21 {
		_, err := e.kc.RegisterStreamConsumer(context.Background(), &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: aws.String(fmt.Sprint("c", i))})
		if i < 20 && err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			apiError(t, "21st", err, "LimitExceededException", "Stream many under account 000000000000 already has 20 consumers, the limit.")
		}
	}
}

// TestSubscribeToShardErrors: the errors before a subscription starts, as
// JSON errors, and the rule for a second subscription of a consumer and
// shard (refused within TakeoverAfter, taking over after).
func TestSubscribeToShardErrors(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1, TakeoverAfter: 300 * time.Millisecond}}, true)
	ctx := context.Background()
	streamARN := e.createStream(t, "errs", 1)
	consumer := e.activeConsumer(t, streamARN, "c")
	sub := func(arn, shard string, pos types.StartingPosition) (*kinesis.SubscribeToShardOutput, error) {
		return ownDecoder(e.kc).SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn), ShardId: aws.String(shard), StartingPosition: &pos})
	}
	latest := types.StartingPosition{Type: types.ShardIteratorTypeLatest}
	_, err := sub(consumer, "shardId-000000000009", latest)
	apiError(t, "unknown shard", err, "ResourceNotFoundException", "Could not find shard shardId-000000000009.")
	_, err = sub(streamARN+"/consumer/nobody:1", "shardId-000000000000", latest)
	apiError(t, "unknown consumer", err, "ResourceNotFoundException", "Consumer nobody under stream errs under account 000000000000 not found.")
	_, err = sub(consumer, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeAtSequenceNumber})
	apiError(t, "AT_SEQUENCE_NUMBER without a number", err, "InvalidArgumentException",
		"Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.")
	_, err = sub(consumer, "shardId-000000000000", types.StartingPosition{Type: "SOMEWHERE"})
	apiError(t, "bad type", err, "ValidationException", "1 validation error detected: Value 'SOMEWHERE' at 'startingPosition.type' failed to satisfy constraint: "+
		"Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]")

	first, err := sub(consumer, "shardId-000000000000", latest)
	if err != nil {
		t.Fatal(err)
	}
	defer first.GetStream().Close()
	<-first.GetStream().Events()
	_, err = sub(consumer, "shardId-000000000000", latest)
	apiError(t, "second subscription at once", err, "ResourceInUseException", "Another active subscription exists for this consumer: 000000000000:errs:shardId-000000000000:c")
	time.Sleep(350 * time.Millisecond)
	second, err := sub(consumer, "shardId-000000000000", latest)
	if err != nil {
		t.Fatalf("a subscription after TakeoverAfter: %v", err)
	}
	defer second.GetStream().Close()
	for range first.GetStream().Events() {
	}
	var inUse *types.ResourceInUseException
	if err := first.GetStream().Err(); !errors.As(err, &inUse) {
		t.Fatalf("the subscription taken over ended with %v, want ResourceInUseException", err)
	}
}

// TestSubscriptionEndsWhenConsumerOrStreamGoes: deregistering the consumer
// ends its subscriptions with ResourceNotFoundException, and so does
// deleting the stream.
func TestSubscriptionEndsWhenConsumerOrStreamGoes(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}}, true)
	ctx := context.Background()
	streamARN := e.createStream(t, "goes", 2)
	consumer := e.activeConsumer(t, streamARN, "c")
	open := func(shard string) *kinesis.SubscribeToShardOutput {
		out, err := ownDecoder(e.kc).SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumer), ShardId: aws.String(shard),
			StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
		if err != nil {
			t.Fatal(err)
		}
		<-out.GetStream().Events()
		return out
	}
	endsWith := func(out *kinesis.SubscribeToShardOutput, msg string) {
		t.Helper()
		defer out.GetStream().Close()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case _, ok := <-out.GetStream().Events():
				if ok {
					continue
				}
			case <-timeout:
				t.Fatal("the subscription did not end")
			}
			break
		}
		var nf *types.ResourceNotFoundException
		if err := out.GetStream().Err(); !errors.As(err, &nf) || nf.ErrorMessage() != msg {
			t.Fatalf("ended with %v, want ResourceNotFoundException %q", err, msg)
		}
	}
	a := open("shardId-000000000000")
	if _, err := e.kc.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(consumer)}); err != nil {
		t.Fatal(err)
	}
	endsWith(a, "Consumer c under stream goes under account 000000000000 not found.")

	consumer = e.activeConsumer(t, streamARN, "d")
	b := open("shardId-000000000001")
	if _, err := e.kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("goes"), EnforceConsumerDeletion: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	endsWith(b, "Stream goes under account 000000000000 not found.")
}

// TestSubscribeToShardInProcessStreams: through Server.Transport (the
// embedded store's path) a subscription streams too: records put after it
// started arrive while it is open, and closing it ends the handler.
func TestSubscribeToShardInProcessStreams(t *testing.T) {
	s, err := New(t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://store"), HTTPClient: &http.Client{Transport: s.Transport()},
		Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{}})
	e := &efoServer{s: s, kc: kc}
	consumer := e.activeConsumer(t, e.createStream(t, "local", 1), "c")
	ctx := context.Background()
	out, err := kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumer), ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	if err != nil {
		t.Fatal(err)
	}
	<-out.GetStream().Events() // the first, empty event
	put := e.put(t, "local", rand.New(rand.NewPCG(5, 5)), 3)
	var got []types.Record
	for len(got) < 3 {
		ev, ok := (<-out.GetStream().Events()).(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			t.Fatalf("stream ended: %v", out.GetStream().Err())
		}
		got = append(got, ev.Value.Records...)
	}
	checkExactlyOnce(t, put, map[string][]types.Record{"shardId-000000000000": got})
	out.GetStream().Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.fanOut.mu.Lock()
		n := len(s.fanOut.subs)
		s.fanOut.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription's handler did not end after the client closed it")
		}
	}
}

// TestSubscriptionOfAClientThatStopsReadingEnds: events are written under
// a write deadline, so a subscriber that stops reading (here with a tiny
// receive window) has its subscription ended instead of pinning it and
// its buffers.
func TestSubscriptionOfAClientThatStopsReadingEnds(t *testing.T) {
	var logs lines
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}, Logf: logs.logf,
		Limits: Limits{BodyGrace: 200 * time.Millisecond, MinBodyRate: 4 << 20}}, false)
	consumer := e.activeConsumer(t, e.createStream(t, "stuck", 1), "c")
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"ConsumerARN":"` + consumer + `","ShardId":"shardId-000000000000","StartingPosition":{"Type":"TRIM_HORIZON"}}`
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.SubscribeToShard\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	big := make([]byte, 1<<20)
	for i := range 24 { // 24 MiB, more than the sockets hold
		big[0] = byte(i)
		if _, err := e.kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("stuck"), PartitionKey: aws.String("k"), Data: big}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		e.s.fanOut.mu.Lock()
		n := len(e.s.fanOut.subs)
		e.s.fanOut.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription of a client that does not read is still open")
		}
	}
	if logged := logs.all(); len(logged) != 1 || !strings.Contains(logged[0], "not read in time") {
		t.Fatalf("logged %q, want the subscription's end", logged)
	}
}

// FuzzFanOutRequest sends arbitrary bodies to the fan-out operations of a
// store with a stream and a consumer: the server never panics, answers
// errors as JSON and subscriptions as event streams of whole messages.
func FuzzFanOutRequest(f *testing.F) {
	arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
	consumer := arn + "/consumer/c:1750000000"
	seeds := []struct{ op, body string }{
		{"RegisterStreamConsumer", `{"StreamARN":"` + arn + `","ConsumerName":"d"}`},
		{"RegisterStreamConsumer", `{"StreamARN":"` + arn + `","ConsumerName":"` + strings.Repeat("x", 129) + `"}`},
		{"DescribeStreamConsumer", `{"ConsumerARN":"` + consumer + `"}`},
		{"DescribeStreamConsumer", `{"ConsumerARN":"arn:aws:kinesis:x:000000000000:stream/s/consumer/c:99999999999999999999999"}`},
		{"ListStreamConsumers", `{"StreamARN":"` + arn + `","MaxResults":1,"NextToken":"Yw"}`},
		{"ListStreamConsumers", `{"StreamARN":"` + arn + `","StreamCreationTimestamp":1e300}`},
		{"DeregisterStreamConsumer", `{"StreamARN":"` + arn + `","ConsumerName":"zz"}`},
		{"SubscribeToShard", `{"ConsumerARN":"` + consumer + `","ShardId":"shardId-000000000000","StartingPosition":{"Type":"TRIM_HORIZON"}}`},
		{"SubscribeToShard", `{"ConsumerARN":"` + consumer + `","ShardId":"shardId-000000000000","StartingPosition":{"Type":"AT_TIMESTAMP","Timestamp":-1e300}}`},
		{"SubscribeToShard", `{"ConsumerARN":"` + consumer + `","ShardId":"shardId-000000000000","StartingPosition":{"Type":"AFTER_SEQUENCE_NUMBER","SequenceNumber":"18446744073709551615"}}`},
		{"SubscribeToShard", `{"ConsumerARN":"` + consumer + `","ShardId":"shardId-000000000000"}`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.body)
	}
	now := time.Unix(1_750_000_000, 0)
	s, err := New(f.TempDir(), Options{Now: func() time.Time { return now }, Logf: func(string, ...any) {},
		FanOut: FanOutOptions{ConsumerDelay: -1, SubscriptionLifetime: 20 * time.Millisecond, TakeoverAfter: time.Nanosecond}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	for _, c := range []struct{ op, body string }{
		{"CreateStream", `{"StreamName":"s","ShardCount":1}`},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"aGk="}`},
		{"RegisterStreamConsumer", `{"StreamARN":"` + arn + `","ConsumerName":"c"}`},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+c.op)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			f.Fatalf("%s: %d %s", c.op, rec.Code, rec.Body)
		}
	}
	f.Fuzz(func(t *testing.T, op, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %q: internal error %s", op, body, rec.Body)
		}
		if rec.Header().Get("Content-Type") != eventstream.ContentType {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %q: response is not JSON: %q", op, body, rec.Body)
			}
			return
		}
		d := eventstream.NewDecoder(rec.Body)
		for n := 0; ; n++ {
			m, err := d.Decode()
			if err == io.EOF && n >= 2 { // the initial response and an event at least
				return
			}
			if err != nil {
				t.Fatalf("%s %q: message %d: %v", op, body, n, err)
			}
			if m.HeaderString(":message-type") != "event" || !json.Valid(m.Payload) {
				t.Fatalf("%s %q: message %d: %+v", op, body, n, m)
			}
		}
	})
}

// TestHealthySubscriptionOutlivesServerTimeouts: a subscription quieter
// than the idle timeout and longer than the header, body and idle timeouts
// together runs to the end of its lifetime, over HTTP/1.1 and HTTP/2.
func TestHealthySubscriptionOutlivesServerTimeouts(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", tls), func(t *testing.T) {
			lim := Limits{HeaderTimeout: 50 * time.Millisecond, IdleTimeout: 50 * time.Millisecond, BodyGrace: 50 * time.Millisecond}
			e := startEFOServer(t, t.TempDir(), Options{Limits: lim, FanOut: FanOutOptions{ConsumerDelay: -1,
				SubscriptionLifetime: 600 * time.Millisecond, Heartbeat: 200 * time.Millisecond}}, tls)
			consumer := e.activeConsumer(t, e.createStream(t, "long", 1), "c")
			start := time.Now()
			res, err := subscribe(context.Background(), e.kc, consumer, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest}, nil)
			if err != nil || res.err != nil {
				t.Fatalf("subscription: %v %v", err, res.err)
			}
			if el := time.Since(start); el < 600*time.Millisecond || res.events < 3 {
				t.Fatalf("the subscription ended after %v and %d events, want its lifetime of 600 ms and 3 events or more", el, res.events)
			}
		})
	}
}

// TestShutdownEndsSubscriptions: http.Server.Shutdown of HTTPServer ends
// open subscriptions at once instead of waiting out their lifetime.
func TestShutdownEndsSubscriptions(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}}, true)
	consumer := e.activeConsumer(t, e.createStream(t, "bye", 1), "c")
	out, err := ownDecoder(e.kc).SubscribeToShard(context.Background(), &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(consumer),
		ShardId: aws.String("shardId-000000000000"), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	if err != nil {
		t.Fatal(err)
	}
	defer out.GetStream().Close()
	<-out.GetStream().Events()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.hs.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Shutdown took %v", el)
	}
	for range out.GetStream().Events() {
	}
}

// TestSubscribeToShardStartingPositions: each StartingPosition type starts
// the subscription's first records where GetShardIterator would.
func TestSubscribeToShardStartingPositions(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1, TakeoverAfter: time.Nanosecond}}, false)
	consumer := e.activeConsumer(t, e.createStream(t, "pos", 1), "c")
	put := e.put(t, "pos", rand.New(rand.NewPCG(8, 8)), 5)
	f := func(pos types.StartingPosition, want []putRec) {
		t.Helper()
		res, err := subscribe(context.Background(), e.kc, consumer, "shardId-000000000000", pos, func(n int) bool { return true })
		if err != nil {
			t.Fatalf("%s: %v", pos.Type, err)
		}
		var got []string
		for _, r := range res.records {
			got = append(got, aws.ToString(r.SequenceNumber))
		}
		var seqs []string
		for _, p := range want {
			seqs = append(seqs, p.seq)
		}
		if fmt.Sprint(got) != fmt.Sprint(seqs) {
			t.Fatalf("%s %s: got %v, want %v", pos.Type, aws.ToString(pos.SequenceNumber), got, seqs)
		}
		if last := put[len(put)-1].seq; res.continuation != last { // resuming AFTER it reads on from the end
			t.Fatalf("%s: ContinuationSequenceNumber %s, want the last record's %s", pos.Type, res.continuation, last)
		}
	}
	f(types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}, put)
	f(types.StartingPosition{Type: types.ShardIteratorTypeLatest}, nil)
	f(types.StartingPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(put[2].seq)}, put[2:])
	f(types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(put[2].seq)}, put[3:])
	f(types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(put[4].seq)}, nil)
	f(types.StartingPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(time.Now().Add(-time.Hour))}, put)
	// A timestamp in the future is refused, as GetShardIterator refuses it.
	_, err := subscribe(context.Background(), e.kc, consumer, "shardId-000000000000",
		types.StartingPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(time.Now().Add(time.Hour))}, func(n int) bool { return true })
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidArgumentException" || !strings.HasPrefix(ae.ErrorMessage(), "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis.") {
		t.Fatalf("AT_TIMESTAMP in the future: %v", err)
	}
}

// TestConcurrentSubscriptionsShareOneHTTP2Connection: subscriptions to
// every shard at once (as KCL makes them) get each shard's records, all
// over one HTTP/2 connection.
func TestConcurrentSubscriptionsShareOneHTTP2Connection(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}}, true)
	var conns atomic.Int64
	e.proto.c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	e.proto.c.Transport.(*http.Transport).CloseIdleConnections()
	const shards = 4
	consumer := e.activeConsumer(t, e.createStream(t, "wide", shards), "c")
	put := e.put(t, "wide", rand.New(rand.NewPCG(6, 6)), 60)
	want := map[string]int{}
	for _, p := range put {
		want[p.shard]++
	}
	got := map[string][]types.Record{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for sh := range shards {
		shard := fmt.Sprintf("shardId-%012d", sh)
		wg.Go(func() {
			res, err := subscribe(context.Background(), e.kc, consumer, shard, types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
				func(n int) bool { return n >= want[shard] })
			if err != nil || res.err != nil {
				t.Errorf("%s: %v %v", shard, err, res.err)
				return
			}
			mu.Lock()
			got[shard] = res.records
			mu.Unlock()
		})
	}
	wg.Wait()
	checkExactlyOnce(t, put, got)
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// TestSubscribeToShardOverCBOR: a CBOR request (as the AWS SDK for Java
// sends SubscribeToShard) gets its events in CBOR, with records' Data as
// byte strings and their timestamps as tag 1.
func TestSubscribeToShardOverCBOR(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}}, false)
	consumer := e.activeConsumer(t, e.createStream(t, "java", 1), "kcl")
	put := e.put(t, "java", rand.New(rand.NewPCG(9, 9)), 3)
	body := javaCBOR(t, map[string]any{"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
		"StartingPosition": map[string]any{"Type": "TRIM_HORIZON"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
	req.Header.Set("Content-Type", CBORContentType)
	resp, err := e.proto.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != eventstream.ContentType {
		t.Fatalf("answer %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	d := eventstream.NewDecoder(resp.Body)
	for n := 0; n < 2; n++ {
		m, err := d.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if m.HeaderString(":content-type") != CBORContentType {
			t.Fatalf("message %d: :content-type %q", n, m.HeaderString(":content-type"))
		}
		if n == 0 {
			var empty map[string]any
			if err := cbor.Unmarshal(m.Payload, &empty); err != nil || m.HeaderString(":event-type") != "initial-response" || empty == nil || len(empty) != 0 {
				t.Fatalf("initial response %+v: %v", m, err)
			}
			continue
		}
		var ev struct {
			Records                    []cborRecord
			ContinuationSequenceNumber string
			MillisBehindLatest         int64
		}
		if err := cbor.Unmarshal(m.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if len(ev.Records) != len(put) || ev.ContinuationSequenceNumber != put[len(put)-1].seq {
			t.Fatalf("event %+v", ev)
		}
		for i, r := range ev.Records {
			if string(byteString(t, r.Data)) != string(put[i].data) || r.SequenceNumber != put[i].seq || tagMillis(t, r.ApproximateArrivalTimestamp) <= 0 {
				t.Fatalf("record %d: %+v", i, r)
			}
		}
	}
}

// TestSubscribeToShardShowsRecordsEncryption: records written after
// StartStreamEncryption come decrypted, marked KMS; those before, NONE.
func TestSubscribeToShardShowsRecordsEncryption(t *testing.T) {
	e := startEFOServer(t, t.TempDir(), Options{FanOut: FanOutOptions{ConsumerDelay: -1}}, false)
	consumer := e.activeConsumer(t, e.createStream(t, "enc", 1), "c")
	rng := rand.New(rand.NewPCG(3, 3))
	put := e.put(t, "enc", rng, 2)
	if _, err := e.kc.StartStreamEncryption(context.Background(), &kinesis.StartStreamEncryptionInput{StreamName: aws.String("enc"),
		EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(DefaultKMSAlias)}); err != nil {
		t.Fatal(err)
	}
	e.waitActive(t, "enc")
	put = append(put, e.put(t, "enc", rng, 2)...)
	res, err := subscribe(context.Background(), e.kc, consumer, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
		func(n int) bool { return n >= 4 })
	if err != nil {
		t.Fatal(err)
	}
	var encs []types.EncryptionType
	for i, r := range res.records {
		encs = append(encs, r.EncryptionType)
		if string(r.Data) != string(put[i].data) {
			t.Fatalf("record %d: data differs", i)
		}
	}
	if fmt.Sprint(encs) != "[NONE NONE KMS KMS]" {
		t.Fatalf("EncryptionType %v", encs)
	}
}
