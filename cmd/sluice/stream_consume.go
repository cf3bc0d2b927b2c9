package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/jsontext"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/lineage"
)

// consumeLongPoll is how long a following reader's GetRecords waits for a
// record; consumePoll is the pause after an empty answer that came back
// early (a server without long polls).
const (
	consumeLongPoll = 5 * time.Second
	consumePoll     = 200 * time.Millisecond
	consumeRetry    = time.Second // between calls while the store does not answer
)

func runStreamConsume(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stream consume", flag.ContinueOnError)
	var sf storeFlags
	from := fs.String("from", "trim-horizon", "where to start: trim-horizon (the oldest record kept), latest (records put from now on),\n"+
		"or at-timestamp T (records that arrived at T or later; T is RFC 3339, e.g. 2026-12-05T10:00:00Z, or epoch milliseconds)")
	format := fs.String("format", "raw", "raw: each record's data as it is, one a line; json: a JSON object a line with stream, shard,\n"+
		"sequenceNumber, partitionKey, arrival (RFC 3339, ms) and data (the data itself when it is JSON, else a string;\n"+
		"data that is not UTF-8 comes as dataBase64 instead)")
	atEnd := fs.Bool("e", false, "exit when every shard has been read to its end (default: follow new records until Ctrl-C)")
	var count int64
	fs.Int64Var(&count, "n", 0, "exit after this many records (0: no limit)")
	fs.Int64Var(&count, "count", 0, "the same as -n")
	cmd := command{Use: "stream consume STREAM [flags]",
		About: "Prints the records of every shard of STREAM to standard output. Shards are read in their lineage's order:\n" +
			"a shard made by a split or merge only after its parents have been read to their end, so the records of\n" +
			"each partition key come out in the order they were written.", MaxArgs: 2}
	var startup string
	var ts time.Time
	check := func(pos []string) error {
		if len(pos) == 2 && strings.EqualFold(*from, "at-timestamp") {
			if _, err := parseTime(pos[0]); err == nil { // consume --from at-timestamp T STREAM
				pos[0], pos[1] = pos[1], pos[0]
			}
		}
		var err error
		if startup, ts, err = parseFrom(*from, pos[1:]); err != nil {
			return err
		}
		if *format != "raw" && *format != "json" {
			hint := suggest.Hint(*format, []string{"raw", "json"})
			return usagef("--format %q: want raw or json%s", *format, hint)
		}
		if count < 0 {
			return fmt.Errorf("-n %d: want 0 (no limit) or more", count)
		}
		return nil
	}
	return withStore(fs, &sf, cmd, args, 1, check, func(conn *storeConn, pos []string) error {
		cs := &consumer{c: conn.Client, stream: pos[0], startup: startup, ts: ts, atEnd: *atEnd,
			json: *format == "json", left: count, out: bufio.NewWriterSize(os.Stdout, 64<<10)}
		err := cs.run(ctx)
		if ferr := cs.out.Flush(); err == nil {
			err = ferr
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, errStop) {
			return nil
		}
		return err
	})
}

// parseFrom reads --from (and, for at-timestamp, the argument after the
// stream): the iterator type and, for AT_TIMESTAMP, the time.
func parseFrom(from string, rest []string) (string, time.Time, error) {
	const want = "want trim-horizon, latest or at-timestamp T (T: RFC 3339 such as 2026-12-05T10:00:00Z, or epoch milliseconds)"
	mode, t, hasT := strings.Cut(from, "=")
	if !hasT && len(rest) > 0 {
		t, hasT = rest[0], true
	}
	switch strings.ToLower(mode) {
	case "trim-horizon", "latest":
		if len(rest) > 0 {
			return "", time.Time{}, usagef("unexpected argument %q (only --from at-timestamp takes a time)", rest[0])
		}
		if mode == "latest" {
			return client.Latest, time.Time{}, nil
		}
		return client.TrimHorizon, time.Time{}, nil
	case "at-timestamp":
		if !hasT {
			return "", time.Time{}, usagef("--from at-timestamp needs a time after the stream name: %s", want)
		}
		ts, err := parseTime(t)
		if err != nil {
			return "", time.Time{}, usagef("--from at-timestamp %q: %v", t, err)
		}
		return client.AtTimestamp, ts, nil
	}
	if ts, err := parseTime(from); err == nil && len(rest) == 0 { // a bare time
		return client.AtTimestamp, ts, nil
	}
	hint := suggest.Hint(strings.ToLower(mode), []string{"trim-horizon", "latest", "at-timestamp"})
	return "", time.Time{}, usagef("--from %q: %s%s", from, want, hint)
}

// parseTime reads RFC 3339 or epoch milliseconds.
func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return time.Time{}, errors.New("epoch milliseconds cannot be negative")
		}
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not RFC 3339 (such as 2026-12-05T10:00:00Z) nor epoch milliseconds")
	}
	return t, nil
}

// consumer reads a stream's shards in lineage order and prints their
// records.
type consumer struct {
	c       *client.Client
	stream  string
	startup string    // iterator type of the shards listed at the start
	ts      time.Time // for AtTimestamp
	atEnd   bool
	json    bool
	left    int64 // records still to print (0: no limit)
	out     *bufio.Writer
	buf     []byte
	away    atomic.Bool // following, the store stopped answering: reported once until it answers
}

// shardEvent is what a shard's reader hands the consumer: records, or the
// shard's end (closed and read through, with its children), or — with -e
// — that it has caught up with an open shard.
type shardEvent struct {
	shard    string
	records  []client.Record
	closed   bool
	children []client.ChildShard
	caughtUp bool
	err      error
}

func (cs *consumer) run(ctx context.Context) error {
	var readers sync.WaitGroup
	defer readers.Wait() // after cancel: the in-process store closes after its readers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shards, err := cs.c.ListShards(ctx, cs.stream)
	if err != nil {
		return err
	}
	g := lineage.New(shards)
	if cs.startup == client.Latest {
		for _, sh := range shards {
			if !sh.Open() { // what it holds is older than the start
				g.Shard(sh.ShardId).Ended = true
			}
		}
	}
	events := make(chan shardEvent, 4)
	// Iterators of the first shards are taken before anything is read, so
	// that --from latest starts now.
	ready := g.Take()
	its := make([]string, len(ready))
	for i, n := range ready {
		if its[i], err = cs.iterator(ctx, n.ID, cs.startup, ""); err != nil {
			return err
		}
	}
	for i, n := range ready {
		readers.Go(func() { cs.read(ctx, n.ID, its[i], cs.startup, events) })
	}
	active := len(ready)
	from := strings.ToLower(strings.ReplaceAll(cs.startup, "_", "-"))
	if cs.startup == client.AtTimestamp {
		from += " " + cs.ts.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(os.Stderr, "sluice stream: reading %d shard(s) of %s from %s\n", active, cs.stream, from)
	for active > 0 {
		var ev shardEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			return ctx.Err()
		}
		if ev.err != nil {
			return ev.err
		}
		if err := cs.print(ev); err != nil {
			return err
		}
		if ev.closed {
			active--
			childStartup := client.TrimHorizon
			if cs.startup == client.AtTimestamp {
				childStartup = client.AtTimestamp
			}
			for _, n := range g.End(ev.shard, ev.children) {
				active++
				readers.Go(func() { cs.read(ctx, n.ID, "", childStartup, events) })
			}
		}
		if ev.caughtUp {
			active--
		}
	}
	return nil
}

// iterator returns an iterator of shard: after sequence number after, or
// else from startup.
func (cs *consumer) iterator(ctx context.Context, shard, startup, after string) (string, error) {
	in := client.GetShardIteratorInput{StreamName: cs.stream, ShardId: shard, ShardIteratorType: startup}
	if after != "" {
		in.ShardIteratorType, in.StartingSequenceNumber = client.AfterSequenceNumber, after
	}
	if in.ShardIteratorType == client.AtTimestamp {
		in.Timestamp = &cs.ts
	}
	it, err := cs.c.GetShardIterator(ctx, in)
	if err != nil {
		return "", fmt.Errorf("shard %s: %w", shard, err)
	}
	return it, nil
}

// read reads one shard from iterator it (or, when it is "", from startup)
// until its end, ctx is done, or — with -e — it has caught up, and hands
// what it reads to events.
func (cs *consumer) read(ctx context.Context, shard, it, startup string, events chan<- shardEvent) {
	send := func(ev shardEvent) bool {
		ev.shard = shard
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var err error
	if it == "" {
		if it, err = cs.iterator(ctx, shard, startup, ""); err != nil {
			send(shardEvent{err: err})
			return
		}
	}
	wait := consumeLongPoll
	if cs.atEnd {
		wait = 0
	}
	last := "" // sequence number of the last record read
	for ctx.Err() == nil {
		t0 := time.Now()
		out, err := cs.c.GetRecordsWait(ctx, it, 0, wait)
		var se *store.Error
		if errors.As(err, &se) && se.Code == store.ErrExpiredIterator { // the output was blocked for minutes
			var next string
			if next, err = cs.iterator(ctx, shard, startup, last); err == nil {
				it = next
				continue
			}
		}
		if err != nil && !cs.atEnd && !errors.As(err, &se) && ctx.Err() == nil {
			// Following, the store went away (restarted, say): wait for it
			// and go on where this shard was.
			if cs.away.CompareAndSwap(false, true) {
				fmt.Fprintf(os.Stderr, "sluice stream: the store does not answer (%v): retrying until it does (Ctrl-C stops)\n", shortErr(err))
			}
			select {
			case <-time.After(consumeRetry):
			case <-ctx.Done():
			}
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				send(shardEvent{err: fmt.Errorf("shard %s: %w", shard, err)})
			}
			return
		}
		if cs.away.CompareAndSwap(true, false) {
			fmt.Fprintln(os.Stderr, "sluice stream: the store answers again")
		}
		if n := len(out.Records); n > 0 {
			last = out.Records[n-1].SequenceNumber
		}
		ev := shardEvent{records: out.Records}
		switch {
		case out.NextShardIterator == "":
			ev.closed, ev.children = true, out.ChildShards
		case cs.atEnd && len(out.Records) == 0 && out.MillisBehindLatest == 0:
			ev.caughtUp = true
		}
		if (len(ev.records) > 0 || ev.closed || ev.caughtUp) && !send(ev) {
			return
		}
		if ev.closed || ev.caughtUp {
			return
		}
		it = out.NextShardIterator
		if len(out.Records) == 0 && !cs.atEnd && time.Since(t0) < wait/2 {
			select { // the server did not hold the call
			case <-time.After(consumePoll):
			case <-ctx.Done():
			}
		}
	}
}

// errStop ends a consume early without an error (--count reached).
var errStop = errors.New("stop")

// print writes the records of ev; errStop once --count are written.
func (cs *consumer) print(ev shardEvent) error {
	for _, r := range ev.records {
		cs.buf = cs.buf[:0]
		if cs.json {
			cs.buf = cs.appendJSON(cs.buf, ev.shard, r)
		} else {
			cs.buf = append(cs.buf, r.Data...)
		}
		cs.buf = append(cs.buf, '\n')
		if _, err := cs.out.Write(cs.buf); err != nil {
			return err
		}
		if cs.left > 0 {
			if cs.left--; cs.left == 0 {
				return errStop
			}
		}
	}
	if len(ev.records) > 0 && !cs.atEnd {
		return cs.out.Flush() // following: show records as they come
	}
	return nil
}

// appendJSON appends the JSON line of one record.
func (cs *consumer) appendJSON(b []byte, shard string, r client.Record) []byte {
	b = append(b, `{"stream":`...)
	b = jsontext.AppendString(b, cs.stream)
	b = append(b, `,"shard":`...)
	b = jsontext.AppendString(b, shard)
	b = append(b, `,"sequenceNumber":`...)
	b = jsontext.AppendString(b, r.SequenceNumber)
	b = append(b, `,"partitionKey":`...)
	b = jsontext.AppendString(b, r.PartitionKey)
	b = append(b, `,"arrival":"`...)
	ms := int64(math.Round(r.ApproximateArrivalTimestamp * 1000))
	b = time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, '"')
	switch {
	case json.Valid(r.Data):
		b = append(b, `,"data":`...)
		var c bytes.Buffer
		_ = json.Compact(&c, r.Data) // one line, whatever the record's layout
		b = append(b, c.Bytes()...)
	case utf8.Valid(r.Data):
		b = append(b, `,"data":`...)
		b = jsontext.AppendString(b, string(r.Data))
	default:
		b = append(b, `,"dataBase64":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Data)
		b = append(b, '"')
	}
	return append(b, '}')
}

// shortErr is a call's error without the method and URL the HTTP client
// puts before it.
func shortErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
