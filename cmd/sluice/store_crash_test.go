package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	byteorder "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kstore "github.com/sluicehq/sluice/store"
)

// The kill -9 test writes records of this layout, so that every record read
// back can be checked on its own, whether or not it was acknowledged:
//
//	magic "SLC1" | writer uint16 | counter uint64 | length uint32 | filler | crc32c uint32
//
// The CRC covers everything before it; integers are big endian.
const (
	crashMagic      = "SLC1"
	crashHeadBytes  = 4 + 2 + 8 + 4
	crashMinPayload = crashHeadBytes + 4
	crashMaxPayload = 20 << 10
	crashWriters    = 4
	crashShards     = 4
	crashStream     = "crash"
)

var crashCRC = crc32.MakeTable(crc32.Castagnoli)

// crashPayload returns a record of size bytes from writer w with counter n,
// its filler drawn from rng.
func crashPayload(rng *rand.Rand, w int, n uint64, size int) []byte {
	b := make([]byte, size)
	copy(b, crashMagic)
	byteorder.BigEndian.PutUint16(b[4:], uint16(w))
	byteorder.BigEndian.PutUint64(b[6:], n)
	byteorder.BigEndian.PutUint32(b[14:], uint32(size))
	body := b[crashHeadBytes : size-4]
	for len(body) >= 8 {
		byteorder.LittleEndian.PutUint64(body, rng.Uint64())
		body = body[8:]
	}
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	byteorder.BigEndian.PutUint32(b[size-4:], crc32.Checksum(b[:size-4], crashCRC))
	return b
}

// parseCrashPayload checks a record read back and returns its writer and
// counter; an error means the record is corrupt.
func parseCrashPayload(b []byte) (w int, n uint64, err error) {
	if len(b) < crashMinPayload || string(b[:4]) != crashMagic {
		return 0, 0, fmt.Errorf("%d bytes without the record header", len(b))
	}
	if size := byteorder.BigEndian.Uint32(b[14:]); int(size) != len(b) {
		return 0, 0, fmt.Errorf("%d bytes, header says %d", len(b), size)
	}
	if got, want := crc32.Checksum(b[:len(b)-4], crashCRC), byteorder.BigEndian.Uint32(b[len(b)-4:]); got != want {
		return 0, 0, fmt.Errorf("checksum %08x, header says %08x", got, want)
	}
	return int(byteorder.BigEndian.Uint16(b[4:])), byteorder.BigEndian.Uint64(b[6:]), nil
}

// crashCall makes one Kinesis API call with client and decodes a 200 answer
// into out. An answer other than 200 is a *crashStatusError; anything else
// (refused, reset, timed out, truncated) means the server gave no answer.
func crashCall(ctx context.Context, client *http.Client, url, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &crashStatusError{op: op, status: resp.StatusCode, body: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %s: %v", errCrashBadAnswer, op, err)
		}
	}
	return nil
}

// errCrashBadAnswer is a 200 answer that is not the JSON it should be.
var errCrashBadAnswer = errors.New("malformed answer")

type crashStatusError struct {
	op     string
	status int
	body   string
}

func (e *crashStatusError) Error() string { return fmt.Sprintf("%s: %d %s", e.op, e.status, e.body) }

type crashEntry struct {
	Data            []byte
	PartitionKey    string
	ExplicitHashKey string `json:",omitempty"`
}

// crashSent is what a writer sent as its record number n.
type crashSent struct {
	key   string   // partition key
	group string   // records of one group keep their order: key and explicit hash key
	sum   [32]byte // SHA-256 of the data
}

// crashAck is a record the store acknowledged, in acknowledgement order.
type crashAck struct {
	n     uint64
	shard string
	seq   uint64
}

// crashWriter puts records until its context ends; sent and acked are its
// own until run returns.
type crashWriter struct {
	id     int
	rng    *rand.Rand
	client *http.Client
	url    *atomic.Pointer[string]
	hashes []string // explicit hash keys to pick from
	acks   *atomic.Int64

	sent               []crashSent // by counter
	acked              []crashAck
	calls, failedCalls int
	failedRecords      int // PutRecords entries answered with an ErrorCode
	statusErrs         int // answers other than 200 (the server was up)
}

func (w *crashWriter) entry() crashEntry {
	n := uint64(len(w.sent))
	// Sizes spread evenly over powers of two, so small and large records mix.
	size := int(10 * math.Exp2(w.rng.Float64()*11))
	size = min(max(size, crashMinPayload), crashMaxPayload)
	e := crashEntry{Data: crashPayload(w.rng, w.id, n, size), PartitionKey: "key-" + strconv.Itoa(w.rng.IntN(64))}
	group := e.PartitionKey
	if w.rng.IntN(8) == 0 {
		e.ExplicitHashKey = w.hashes[w.rng.IntN(len(w.hashes))]
		group += "@" + e.ExplicitHashKey
	}
	w.sent = append(w.sent, crashSent{key: e.PartitionKey, group: group, sum: sha256.Sum256(e.Data)})
	return e
}

func (w *crashWriter) run(ctx context.Context, t *testing.T) {
	for ctx.Err() == nil {
		url := *w.url.Load()
		first := uint64(len(w.sent))
		var err error
		w.calls++
		if w.rng.IntN(4) == 0 {
			e := w.entry()
			var out struct {
				ShardId        string
				SequenceNumber string
			}
			in := struct {
				StreamName string
				crashEntry
			}{crashStream, e}
			err = crashCall(ctx, w.client, url, "PutRecord", in, &out)
			if err == nil {
				w.ack(t, first, out.ShardId, out.SequenceNumber)
			}
		} else {
			batch := make([]crashEntry, 1+w.rng.IntN(50))
			for i := range batch {
				batch[i] = w.entry()
			}
			var out struct {
				Records []struct{ ShardId, SequenceNumber, ErrorCode string }
			}
			err = crashCall(ctx, w.client, url, "PutRecords", map[string]any{"StreamName": crashStream, "Records": batch}, &out)
			if err == nil && len(out.Records) != len(batch) {
				t.Errorf("writer %d: PutRecords of %d records answered %d results", w.id, len(batch), len(out.Records))
				return
			}
			for i, r := range out.Records {
				if r.ErrorCode != "" {
					w.failedRecords++
					continue
				}
				w.ack(t, first+uint64(i), r.ShardId, r.SequenceNumber)
			}
		}
		if err == nil {
			continue
		}
		w.failedCalls++
		if errors.Is(err, errCrashBadAnswer) {
			t.Errorf("writer %d: %v", w.id, err)
			return
		}
		var se *crashStatusError
		if errors.As(err, &se) {
			w.statusErrs++
			if se.status < 500 {
				t.Errorf("writer %d: %v", w.id, err) // a request the store should have taken
				return
			}
		}
		// The server is down or restarting: back off a little; the records
		// of the failed call are dropped, new ones are sent next.
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(2+w.rng.IntN(8)) * time.Millisecond):
		}
	}
}

// crashSeq is the shard log sequence number inside an API sequence number,
// which must be one of shard.
func crashSeq(seq, shard string) (uint64, error) {
	n, err := kstore.ParseSequenceNumber(seq)
	if err != nil {
		return 0, err
	}
	if idx, err := kstore.ShardIndex(shard); err != nil || idx != n.Shard {
		return 0, fmt.Errorf("sequence number %s is not one of shard %q", seq, shard)
	}
	return n.Seq, nil
}

func (w *crashWriter) ack(t *testing.T, n uint64, shard, seq string) {
	s, err := crashSeq(seq, shard)
	if err != nil {
		t.Errorf("writer %d: record %d acknowledged with shard %q and sequence number %q", w.id, n, shard, seq)
		return
	}
	w.acked = append(w.acked, crashAck{n: n, shard: shard, seq: s})
	w.acks.Add(1)
}

type crashShard struct {
	ShardId, ParentShardId string
	HashKeyRange           struct{ StartingHashKey, EndingHashKey string }
	SequenceNumberRange    struct{ StartingSequenceNumber, EndingSequenceNumber string }
}

func crashListShards(t *testing.T, client *http.Client, url string) []crashShard {
	t.Helper()
	var out struct {
		Shards    []crashShard
		NextToken string
	}
	if err := crashCall(context.Background(), client, url, "ListShards", map[string]any{"StreamName": crashStream, "MaxResults": 10000}, &out); err != nil {
		t.Fatal(err)
	}
	if out.NextToken != "" {
		t.Fatalf("ListShards: more than %d shards", len(out.Shards))
	}
	return out.Shards
}

// TestStoreKill9RandomMoments is the store's durability proof: writers log
// every record the store acknowledges while the store is killed with SIGKILL
// at random moments and restarted over the same folder, one round resharding
// the stream; afterwards every acknowledged record reads back intact, at the
// shard and sequence number it was acknowledged with, and in order. Records
// in flight at a kill may or may not be there, but are never corrupt.
//
// SLUICE_CRASH_ROUNDS raises the number of rounds (5) for a long run;
// SLUICE_CRASH_SEED repeats the random choices of an earlier run.
func TestStoreKill9RandomMoments(t *testing.T) {
	rounds := 5
	if s := os.Getenv("SLUICE_CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SLUICE_CRASH_ROUNDS=%q: want a positive number", s)
		}
		rounds = n
	}
	seed := rand.Uint64()
	if s := os.Getenv("SLUICE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SLUICE_CRASH_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (SLUICE_CRASH_SEED=%d repeats it), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0))

	// Writers give up on a call after a few seconds, so none hangs on a
	// server that died mid-answer.
	client := &http.Client{Timeout: 5 * time.Second}
	dir := t.TempDir()
	url, cmd := startStore(t, dir)
	if err := crashCall(context.Background(), client, url, "CreateStream", map[string]any{"StreamName": crashStream, "ShardCount": crashShards}, nil); err != nil {
		t.Fatal(err)
	}
	if err := waitActive(url, map[string]any{"StreamName": crashStream}); err != nil {
		t.Fatal(err)
	}
	hashes := make([]string, 8)
	for i := range hashes {
		h := new(big.Int).Lsh(new(big.Int).SetUint64(rng.Uint64()), 64)
		hashes[i] = h.Or(h, new(big.Int).SetUint64(rng.Uint64())).String()
	}

	// The writers' server URL; each restart stores a new string, never
	// writing through the old pointer.
	var cur atomic.Pointer[string]
	cur.Store(new(url))
	var acks atomic.Int64
	writers := make([]*crashWriter, crashWriters)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	defer stop()
	for i := range writers {
		w := &crashWriter{id: i, rng: rand.New(rand.NewPCG(seed, uint64(100+i))), client: client, url: &cur, hashes: hashes, acks: &acks}
		writers[i] = w
		wg.Go(func() { w.run(ctx, t) })
	}

	splitRound := -1
	if rounds >= 3 {
		splitRound = 1 + rng.IntN(rounds-1)
	}
	split := ""
	for round := range rounds {
		before := acks.Load()
		if round > 0 {
			url, cmd = startStore(t, dir)
			cur.Store(new(url))
		}
		// The store takes writes (again, after recovery); the kill comes a
		// random time after the first one.
		for deadline := time.Now().Add(15 * time.Second); acks.Load() == before; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no write acknowledged within 15s of the start", round)
			}
		}
		d := time.Duration(50+rng.IntN(351)) * time.Millisecond
		if round == splitRound {
			// Split shard 1 at its middle hash key while the writers write.
			time.Sleep(d / 2)
			d -= d / 2
			var sh crashShard
			for _, s := range crashListShards(t, client, url) {
				if s.ShardId == "shardId-000000000001" {
					sh = s
				}
			}
			lo, _ := new(big.Int).SetString(sh.HashKeyRange.StartingHashKey, 10)
			hi, _ := new(big.Int).SetString(sh.HashKeyRange.EndingHashKey, 10)
			if lo == nil || hi == nil {
				t.Fatalf("shard 1 has hash key range %+v", sh.HashKeyRange)
			}
			mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
			if err := crashCall(context.Background(), client, url, "SplitShard", map[string]any{"StreamName": crashStream,
				"ShardToSplit": sh.ShardId, "NewStartingHashKey": mid.String()}, nil); err != nil {
				t.Fatal(err)
			}
			split = sh.ShardId
			t.Logf("round %d: split %s at hash key %s", round, split, mid)
		}
		time.Sleep(d)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		t.Logf("round %d: killed after %v, %d records acknowledged so far", round, d, acks.Load())
	}
	stop()

	url, _ = startStore(t, dir)
	client = &http.Client{Timeout: time.Minute}
	shards := crashListShards(t, client, url)
	want := crashShards
	if split != "" {
		want += 2
	}
	if len(shards) != want {
		t.Fatalf("after the kills: %d shards, want %d: %+v", len(shards), want, shards)
	}

	// Read every shard from the trim horizon, in shard id order: ids grow
	// with creation, so parents are read before their children.
	type place struct {
		shard string
		seq   uint64
		index int // position in the reading order
	}
	found := make([]map[uint64]place, crashWriters)
	for i := range found {
		found[i] = map[uint64]place{}
	}
	index, corrupt := 0, 0
	for _, sh := range shards {
		if sh.ParentShardId != "" && sh.ParentShardId != split {
			t.Errorf("shard %s has parent %s; only %q was split", sh.ShardId, sh.ParentShardId, split)
		}
		if closed := sh.SequenceNumberRange.EndingSequenceNumber != ""; closed != (sh.ShardId == split) {
			t.Errorf("shard %s: closed %v, split %q", sh.ShardId, closed, split)
		}
		var it struct{ ShardIterator string }
		if err := crashCall(context.Background(), client, url, "GetShardIterator", map[string]any{"StreamName": crashStream,
			"ShardId": sh.ShardId, "ShardIteratorType": "TRIM_HORIZON"}, &it); err != nil {
			t.Fatal(err)
		}
		var last uint64
		for iter := it.ShardIterator; iter != ""; {
			var r struct {
				Records []struct {
					SequenceNumber string
					Data           []byte
					PartitionKey   string
				}
				NextShardIterator string
			}
			if err := crashCall(context.Background(), client, url, "GetRecords", map[string]any{"ShardIterator": iter, "Limit": 10000}, &r); err != nil {
				t.Fatal(err)
			}
			for _, rec := range r.Records {
				seq, err := crashSeq(rec.SequenceNumber, sh.ShardId)
				if err != nil || seq <= last {
					t.Fatalf("shard %s: sequence number %q after %d", sh.ShardId, rec.SequenceNumber, last)
				}
				last = seq
				index++
				w, n, err := parseCrashPayload(rec.Data)
				if err == nil && (w >= crashWriters || n >= uint64(len(writers[w].sent))) {
					err = fmt.Errorf("writer %d never sent a record %d", w, n)
				}
				if err == nil && writers[w].sent[n].key != rec.PartitionKey {
					err = fmt.Errorf("partition key %q, sent with %q", rec.PartitionKey, writers[w].sent[n].key)
				}
				if err == nil && writers[w].sent[n].sum != sha256.Sum256(rec.Data) {
					err = fmt.Errorf("data of writer %d record %d differs from what was sent", w, n)
				}
				if err != nil {
					if corrupt++; corrupt <= 10 {
						t.Errorf("shard %s sequence number %d: corrupt record: %v", sh.ShardId, seq, err)
					}
					continue
				}
				if p, dup := found[w][n]; dup {
					t.Errorf("writer %d record %d stored twice: %s/%d and %s/%d", w, n, p.shard, p.seq, sh.ShardId, seq)
				}
				found[w][n] = place{shard: sh.ShardId, seq: seq, index: index}
			}
			if len(r.Records) == 0 {
				break // the end of an open shard; a closed one ends without a next iterator
			}
			iter = r.NextShardIterator
		}
	}

	// Every acknowledged record is where it was acknowledged, and the records
	// of a writer keep their acknowledgement order in each shard and in each
	// group of records routed alike.
	acked, missing, extra := 0, 0, 0
	for _, w := range writers {
		extra += len(found[w.id])
		lastSeq := map[string]uint64{}
		lastIndex := map[string]int{}
		for _, a := range w.acked {
			acked++
			p, ok := found[w.id][a.n]
			if ok {
				extra--
			}
			if !ok || p.shard != a.shard || p.seq != a.seq {
				if missing++; missing > 10 {
					continue
				}
				if ok {
					t.Errorf("writer %d record %d acknowledged at %s/%d, read back at %s/%d", w.id, a.n, a.shard, a.seq, p.shard, p.seq)
				} else {
					t.Errorf("writer %d record %d acknowledged at %s/%d, not read back", w.id, a.n, a.shard, a.seq)
				}
				continue
			}
			if a.seq <= lastSeq[a.shard] {
				t.Errorf("writer %d record %d: sequence number %d on %s after %d acknowledged earlier", w.id, a.n, a.seq, a.shard, lastSeq[a.shard])
			}
			lastSeq[a.shard] = a.seq
			g := w.sent[a.n].group
			if p.index <= lastIndex[g] {
				t.Errorf("writer %d record %d of group %s read back before a record acknowledged earlier", w.id, a.n, g)
			}
			lastIndex[g] = p.index
		}
	}
	calls, failedCalls, failedRecords, statusErrs := 0, 0, 0, 0
	for _, w := range writers {
		calls += w.calls
		failedCalls += w.failedCalls
		failedRecords += w.failedRecords
		statusErrs += w.statusErrs
	}
	t.Logf("%d records acknowledged, %d more read back (in flight at a kill), %d missing or misplaced, %d corrupt; "+
		"%d calls, %d without an answer or failed (%d with a server error), %d records refused in PutRecords answers",
		acked, extra, missing, corrupt, calls, failedCalls, statusErrs, failedRecords)
	if acked < 100 {
		t.Errorf("only %d records acknowledged over %d rounds", acked, rounds)
	}

	// The store still takes writes on every open shard.
	for _, sh := range shards {
		if sh.SequenceNumberRange.EndingSequenceNumber != "" {
			continue
		}
		var out struct{ ShardId string }
		if err := crashCall(context.Background(), client, url, "PutRecord", map[string]any{"StreamName": crashStream, "Data": []byte("after"),
			"PartitionKey": "after", "ExplicitHashKey": sh.HashKeyRange.StartingHashKey}, &out); err != nil || out.ShardId != sh.ShardId {
			t.Errorf("PutRecord to %s after the kills: shard %q, %v", sh.ShardId, out.ShardId, err)
		}
	}
}
