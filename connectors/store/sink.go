package store

import (
	"context"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// sink is a subtask of a store sink. It writes each batch it receives with
// PutRecords before returning, retrying failed records, so it holds no rows
// between calls.
type sink struct {
	runtime.Base
	cfg  *config
	ctx  *runtime.Context
	stop *stopper

	prefix  string // of round-robin keys: the subtask
	rr      uint64 // next round-robin key
	buf     []byte // the JSON of the pending records, back to back
	ends    []int  // end offset in buf of each pending record
	keys    []string
	size    int // data and keys of the pending records
	entries []client.PutRecordsEntry
}

func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.stop = newStopper(ctx)
	s.prefix = strconv.Itoa(ctx.Subtask) + "-"
	return nil
}

// ProcessBatch encodes the present rows and writes them in requests of at
// most MaxPutRecords records and MaxPutRecordsBytes.
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	for i := 0; i < b.Len(); i++ {
		start := len(s.buf)
		s.buf = format.AppendJSON(s.buf, b, i)
		n := len(s.buf) - start
		if n > kstore.MaxRecordBytes {
			return s.cfg.errorf("a row encodes to %d bytes of JSON, over the store's record limit of %d", n, kstore.MaxRecordBytes)
		}
		key := s.key(b, i)
		if len(s.ends) == kstore.MaxPutRecords || s.size+n+len(key) > kstore.MaxPutRecordsBytes {
			// Send what came before this record, then keep the record.
			rec := append([]byte(nil), s.buf[start:]...)
			s.buf = s.buf[:start]
			if err := s.flush(); err != nil {
				return err
			}
			s.buf = append(s.buf, rec...)
		}
		s.ends = append(s.ends, len(s.buf))
		s.keys = append(s.keys, key)
		s.size += n + len(key)
	}
	return s.flush()
}

// key returns the partition key of row i: the partition-key column's text,
// or a round-robin key.
func (s *sink) key(b *runtime.Batch, i int) string {
	if s.cfg.keyCol >= 0 {
		v := &b.Cols[s.cfg.keyCol]
		if r := b.Row(i); !v.IsNull(r) {
			k := v.Value(r).String()
			if len(k) > kstore.MaxPartitionKeyChars {
				k = truncate(k, kstore.MaxPartitionKeyChars)
			}
			if k != "" {
				return k
			}
		}
	}
	s.rr++
	return s.prefix + strconv.FormatUint(s.rr, 10)
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// flush writes the pending records, retrying those that fail for a
// transient reason with exponential backoff, and forgets them.
func (s *sink) flush() error {
	if len(s.ends) == 0 {
		return nil
	}
	s.entries = s.entries[:0]
	start := 0
	for i, end := range s.ends {
		s.entries = append(s.entries, client.PutRecordsEntry{Data: s.buf[start:end], PartitionKey: s.keys[i]})
		start = end
	}
	err := s.put(s.entries)
	s.buf, s.ends, s.keys, s.size = s.buf[:0], s.ends[:0], s.keys[:0], 0
	clear(s.entries)
	return err
}

func (s *sink) put(entries []client.PutRecordsEntry) error {
	backoff := minBackoff
	var last error
	// attempt counts the tries since the last one that wrote a record.
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(s.stop.ctx, backoff); err != nil {
				return s.cfg.errorf("stream %s: stopped with %d records not written: %w", s.cfg.stream, len(entries), last)
			}
			backoff = min(2*backoff, maxBackoff)
		}
		out, err := s.cfg.client.PutRecords(s.stop.ctx, s.cfg.stream, entries)
		if err != nil {
			if !retryable(err) {
				return s.cfg.errorf("stream %s: %w", s.cfg.stream, err)
			}
			last = err
			continue
		}
		if out.FailedRecordCount == 0 {
			return nil
		}
		if len(out.Records) != len(entries) {
			return s.cfg.errorf("stream %s: PutRecords answered %d results for %d records", s.cfg.stream, len(out.Records), len(entries))
		}
		failed := entries[:0]
		for i, r := range out.Records {
			if r.ErrorCode == "" {
				continue
			}
			e := &kstore.Error{Code: r.ErrorCode, Message: r.ErrorMessage}
			if !retryable(e) {
				return s.cfg.errorf("stream %s: record with partition key %q: %w", s.cfg.stream, entries[i].PartitionKey, e)
			}
			last = e
			failed = append(failed, entries[i])
		}
		if len(failed) < len(entries) { // progress: start counting again
			attempt, backoff = 0, minBackoff
		}
		entries = failed
		if len(entries) == 0 {
			return nil
		}
	}
	return s.cfg.errorf("stream %s: %d records not written after %d tries in a row that wrote nothing: %w", s.cfg.stream, len(entries), maxAttempts, last)
}

// retryable decides, for the whole connector, whether an API call or a
// record that failed with err is tried again: throttling, internal failures
// and transport errors are; the store's refusals of the request are not.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var e *kstore.Error
	if !errors.As(err, &e) {
		return true // transport: connection refused, reset, timeout
	}
	switch e.Code {
	case kstore.ErrLimitExceeded, "ProvisionedThroughputExceededException", "InternalFailure",
		"ServiceUnavailable", "ThrottlingException", kstore.ErrExpiredIterator:
		return true
	}
	return len(e.Code) > 4 && e.Code[:4] == "HTTP" && e.Code >= "HTTP5"
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the subtask's goroutine and drops idle connections.
func (s *sink) Close() error {
	s.stop.close()
	s.cfg.http.CloseIdleConnections()
	return nil
}
