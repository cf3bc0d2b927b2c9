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
	"os"
	"strconv"
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
			"A line may hold at most 1 MiB. A summary goes to standard error.", MaxArgs: 1}
	return withStore(fs, &sf, cmd, args, 1, func(conn *storeConn, pos []string) error {
		p := &producer{c: conn.Client, stream: pos[0], keyField: *keyField, start: time.Now()}
		err := p.run(ctx, os.Stdin)
		el := time.Since(p.start)
		fmt.Fprintf(os.Stderr, "sluice stream: produced %d records (%d bytes) to %s in %v (%.0f records/s)\n",
			p.records, p.bytes, p.stream, el.Round(time.Millisecond), float64(p.records)/max(el.Seconds(), 1e-3))
		return err
	})
}

// producer writes lines to a stream in PutRecords batches.
type producer struct {
	c        *client.Client
	stream   string
	keyField string
	start    time.Time

	batch   []client.PutRecordsEntry
	size    int
	rr      uint64
	records int64 // written
	bytes   int64
}

// run reads in line by line until its end, ctx is done or a line is bad;
// lines before a bad one are written. Lines are read by a goroutine of
// their own, so that Ctrl-C ends a produce waiting on a terminal.
func (p *producer) run(ctx context.Context, in io.Reader) error {
	lines := make(chan inputLine, 256)
	go readLines(in, lines)
	for {
		var l inputLine
		select {
		case l = <-lines:
		case <-ctx.Done():
			return errors.Join(p.flush(context.WithoutCancel(ctx)), ctx.Err())
		}
		if l.err != nil && !errors.Is(l.err, io.EOF) {
			return errors.Join(p.flush(ctx), fmt.Errorf("stdin line %d: %w", l.n, l.err))
		}
		if len(l.data) > 0 {
			key, kerr := p.key(l.data)
			if kerr != nil {
				return errors.Join(p.flush(ctx), fmt.Errorf("stdin line %d: %w", l.n, kerr))
			}
			if len(p.batch) == store.MaxPutRecords || p.size+len(l.data)+len(key) > store.MaxPutRecordsBytes {
				if err := p.flush(ctx); err != nil {
					return err
				}
			}
			p.batch = append(p.batch, client.PutRecordsEntry{Data: l.data, PartitionKey: key})
			p.size += len(l.data) + len(key)
		}
		if errors.Is(l.err, io.EOF) {
			return p.flush(ctx)
		}
	}
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

// flush writes the batch, retrying records refused for a transient reason
// and calls that failed in transit.
func (p *producer) flush(ctx context.Context) error {
	batch := p.batch
	p.batch, p.size = p.batch[:0:0], 0
	backoff, fruitless := producerMinBackoff, 0
	for len(batch) > 0 {
		out, err := p.c.PutRecords(ctx, p.stream, batch)
		if err == nil && len(out.Records) != len(batch) {
			err = fmt.Errorf("PutRecords answered %d results for %d records", len(out.Records), len(batch))
		}
		var se *store.Error
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
				p.records++
				p.bytes += int64(len(batch[i].Data))
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
