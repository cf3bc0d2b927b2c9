package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// Backoff between retries of records PutRecords refused (throttling, an
// internal failure) or of calls that failed in transit; produce gives up
// after producerAttempts tries in a row that write nothing.
const (
	producerMinBackoff = 50 * time.Millisecond
	producerMaxBackoff = 2 * time.Second
	producerAttempts   = 12
	maxPartitionKey    = 256
)

func runStreamProduce(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stream produce", flag.ContinueOnError)
	var sf storeFlags
	keyField := fs.String("key-field", "", "every line is a JSON object whose field F is its partition key (default: round-robin keys, any text)")
	cmd := command{Use: "stream produce STREAM [flags] < LINES",
		About: "Writes each line of standard input to STREAM as one record (without the newline; empty lines are skipped),\n" +
			"with PutRecords calls of up to 500 records and 5 MiB, retrying refused records with backoff.\n" +
			"A line may hold at most 1 MiB. A summary goes to standard error. A record counts as produced once the\n" +
			"store acknowledges it, after an fsync; a batch whose answer was lost is sent again (at least once).", MaxArgs: 1}
	return withStore(fs, &sf, cmd, args, 1, nil, func(conn *storeConn, pos []string) error {
		p := &producer{c: conn.Client, stream: pos[0], keyField: *keyField, start: time.Now(), where: conn.where}
		err := p.run(ctx, os.Stdin)
		if p.lanes == nil { // the stream's shards could not be listed: nothing was read
			return err
		}
		el := time.Since(p.start)
		n := p.records.Load()
		again := ""
		if r := p.resent.Load(); r > 0 {
			again = fmt.Sprintf("; %d of them sent again after the store's answer was lost, so some may be stored twice", r)
		}
		fmt.Fprintf(os.Stderr, "sluice stream: produced %d records (%d bytes) to %s in %v (%.0f records/s)%s\n",
			n, p.bytes.Load(), p.stream, el.Round(time.Millisecond), float64(n)/max(el.Seconds(), 1e-3), again)
		if err != nil && n > 0 {
			// The acknowledged records are stored; the lanes' batches are
			// not a prefix of the input, so say what is known.
			return fmt.Errorf("%w (the %d records produced are stored; a line not acknowledged may or may not be)",
				conn.explain(context.Background(), p.stream, false, err), n)
		}
		return err
	})
}

// producer writes lines to a stream in PutRecords batches. Records go to
// lanes by the open shard their partition key maps to, and each lane sends
// one PutRecords at a time, so the lanes' requests overlap (the store
// acknowledges a request only once it is fsync'd) while each key's records
// stay in order.
type producer struct {
	c        *client.Client
	stream   string
	keyField string
	start    time.Time

	ranges  []store.HashRange // of the lanes
	lanes   []*lane
	rr      uint64
	records atomic.Int64 // written
	bytes   atomic.Int64
	// resent counts records sent again after a call whose answer was lost
	// (the connection broke after the request went out): the store may
	// have written them the first time too.
	resent atomic.Int64
	where  string      // the store, for messages
	down   atomic.Bool // calls fail in transit: reported once until one succeeds
}

// lane is the records bound for one shard: gathered into batch by the
// reading loop, sent by the lane's goroutine.
type lane struct {
	batch []client.PutRecordsEntry
	size  int
	send  chan []client.PutRecordsEntry
}

// flushAfter is how long a partly filled batch waits for more input.
const flushAfter = 20 * time.Millisecond

// run reads in line by line until its end, ctx is done or a line is bad,
// and returns once what it read is written (or could not be). Lines before
// a bad one are written. Lines are read by a goroutine of their own, so
// that Ctrl-C ends a produce waiting on a terminal; what was read by then
// is still written.
func (p *producer) run(ctx context.Context, in io.Reader) error {
	shards, err := p.c.ListShards(ctx, p.stream)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		lo, err1 := store.ParseHashKey(sh.HashKeyRange.StartingHashKey)
		hi, err2 := store.ParseHashKey(sh.HashKeyRange.EndingHashKey)
		if sh.Open() && err1 == nil && err2 == nil {
			p.ranges = append(p.ranges, store.HashRange{Start: lo, End: hi})
		}
	}
	if len(p.ranges) == 0 {
		p.ranges = store.EvenRanges(1)
	}
	// The lanes' context: not Ctrl-C's, so that what was read is written;
	// cancelled by the first lane that fails.
	sendCtx, fail := context.WithCancelCause(context.WithoutCancel(ctx))
	defer fail(nil)
	var wg sync.WaitGroup
	for range p.ranges {
		l := &lane{send: make(chan []client.PutRecordsEntry, 2)}
		p.lanes = append(p.lanes, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range l.send {
				if sendCtx.Err() == nil {
					if err := p.put(sendCtx, b); err != nil {
						fail(err)
					}
				}
			}
		}()
	}
	lines := make(chan inputLine, 256)
	go readLines(in, lines)
	err = p.feed(ctx, sendCtx, lines)
	for _, l := range p.lanes {
		if len(l.batch) > 0 && sendCtx.Err() == nil {
			l.send <- l.batch
		}
		close(l.send)
	}
	wg.Wait()
	if cause := context.Cause(sendCtx); cause != nil {
		return cause
	}
	return err
}

// feed puts the lines into the lanes until the input ends (nil), a line is
// bad, ctx is done or a lane fails.
func (p *producer) feed(ctx, sendCtx context.Context, lines <-chan inputLine) error {
	idle := time.NewTimer(flushAfter)
	defer idle.Stop()
	for {
		var l inputLine
		select {
		case l = <-lines:
		default: // the input stalls: send what has gathered after a while
			idle.Reset(flushAfter)
			select {
			case l = <-lines:
			case <-idle.C:
				for _, ln := range p.lanes {
					if err := p.flush(sendCtx, ln); err != nil {
						return err
					}
				}
				select {
				case l = <-lines:
				case <-ctx.Done():
					return ctx.Err()
				case <-sendCtx.Done():
					return nil
				}
			case <-ctx.Done():
				return ctx.Err()
			case <-sendCtx.Done():
				return nil
			}
		}
		if l.err != nil && !errors.Is(l.err, io.EOF) {
			return fmt.Errorf("stdin line %d: %w", l.n, l.err)
		}
		if len(l.data) > 0 {
			key, err := p.key(l.data)
			if err != nil {
				return fmt.Errorf("stdin line %d: %w", l.n, err)
			}
			ln := p.lanes[p.laneOf(key)]
			if len(ln.batch) == store.MaxPutRecords || ln.size+len(l.data)+len(key) > store.MaxPutRecordsBytes {
				if err := p.flush(sendCtx, ln); err != nil {
					return err
				}
			}
			ln.batch = append(ln.batch, client.PutRecordsEntry{Data: l.data, PartitionKey: key})
			ln.size += len(l.data) + len(key)
		}
		if errors.Is(l.err, io.EOF) {
			return nil
		}
	}
}

// laneOf is the lane of the shard key maps to.
func (p *producer) laneOf(key string) int {
	h := store.HashKeyOf(key)
	for i, r := range p.ranges {
		if r.Contains(h) {
			return i
		}
	}
	return 0
}

// flush hands a lane's batch to its sender (nil when a lane has failed:
// run reports that).
func (p *producer) flush(sendCtx context.Context, ln *lane) error {
	if len(ln.batch) == 0 {
		return nil
	}
	select {
	case ln.send <- ln.batch:
	case <-sendCtx.Done():
		return nil
	}
	ln.batch, ln.size = nil, 0
	return nil
}

// inputLine is line n of the input (err: io.EOF with the last one).
type inputLine struct {
	n    int
	data []byte
	err  error
}

// readLines sends in's lines to out until its end or an error.
func readLines(in io.Reader, out chan<- inputLine) {
	r := bufio.NewReaderSize(in, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(r, store.MaxRecordBytes)
		if errors.Is(err, errLongLine) {
			err = fmt.Errorf("longer than %d bytes (1 MiB), the most a record holds", store.MaxRecordBytes)
		}
		out <- inputLine{n, bytes.Clone(line), err}
		if err != nil {
			return
		}
	}
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its "\n" or "\r\n" (io.EOF with
// the last one), or errLongLine when it is longer than most.
func readLine(r *bufio.Reader, most int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > most+2 { // +2: the line's own "\r\n"
			return nil, errLongLine
		}
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > most {
			return nil, errLongLine
		}
		return line, err
	}
}

// key is a line's partition key: its --key-field, or the next round-robin
// key.
func (p *producer) key(line []byte) (string, error) {
	if p.keyField == "" {
		p.rr++
		return strconv.FormatUint(p.rr, 10), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return "", fmt.Errorf("not a JSON object (%v); with --key-field every line must be one", err)
	}
	raw, ok := obj[p.keyField]
	if !ok || string(raw) == "null" {
		return "", fmt.Errorf("no field %q (the partition key, --key-field) in %.80s", p.keyField, line)
	}
	key := string(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		key = s
	}
	if key == "" || utf8.RuneCountInString(key) > maxPartitionKey {
		return "", fmt.Errorf("field %q: a partition key has 1 to %d characters, not %d", p.keyField, maxPartitionKey, utf8.RuneCountInString(key))
	}
	return key, nil
}

// put writes a batch, retrying records refused for a transient reason
// and calls that failed in transit.
func (p *producer) put(ctx context.Context, batch []client.PutRecordsEntry) error {
	backoff, fruitless := producerMinBackoff, 0
	lost := false // the answer to the last call was lost
	for len(batch) > 0 {
		if lost {
			p.resent.Add(int64(len(batch)))
		}
		out, err := p.c.PutRecords(ctx, p.stream, batch)
		lost = false
		var se *store.Error
		if err != nil && !errors.As(err, &se) && ctx.Err() == nil {
			var ne *net.OpError
			lost = !errors.As(err, &ne) || ne.Op != "dial" // a refused dial sent nothing
			if p.down.CompareAndSwap(false, true) {
				fmt.Fprintf(os.Stderr, "sluice stream: no answer from the store at %s (%v): retrying\n", p.where, shortErr(err))
			}
		} else if err == nil && p.down.CompareAndSwap(true, false) {
			fmt.Fprintf(os.Stderr, "sluice stream: the store at %s answers again\n", p.where)
		}
		if err == nil && len(out.Records) != len(batch) {
			err = fmt.Errorf("PutRecords answered %d results for %d records", len(out.Records), len(batch))
		}
		if errors.As(err, &se) && se.Code != "ProvisionedThroughputExceededException" && se.Code != "InternalFailure" &&
			se.Code != store.ErrLimitExceeded && se.Code != "ServiceUnavailable" {
			return err
		}
		if err == nil {
			var failed []client.PutRecordsEntry
			for i, r := range out.Records {
				if r.ErrorCode != "" {
					failed = append(failed, batch[i])
					continue
				}
				p.records.Add(1)
				p.bytes.Add(int64(len(batch[i].Data)))
			}
			if len(failed) < len(batch) {
				backoff, fruitless = producerMinBackoff, 0
			}
			batch = failed
			if len(batch) == 0 {
				return nil
			}
			err = fmt.Errorf("%s: %s", out.Records[0].ErrorCode, out.Records[0].ErrorMessage)
			for _, r := range out.Records {
				if r.ErrorCode != "" {
					err = fmt.Errorf("%s: %s", r.ErrorCode, r.ErrorMessage)
					break
				}
			}
		}
		if fruitless++; fruitless >= producerAttempts {
			return fmt.Errorf("%d records not written after %d tries: %w", len(batch), fruitless, err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("%d records not written: %w", len(batch), ctx.Err())
		}
		backoff = min(2*backoff, producerMaxBackoff)
	}
	return nil
}
