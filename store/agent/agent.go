// Package agent is the engine of `sluice agent`: it tails text files (and
// follows their rotation), turns each new complete line into a record and
// sends the records to a stream with PutRecords in batches, retrying failed
// records with backoff until they are written — like the Kinesis agent.
//
// Delivery is at least once: a record is sent again only when a PutRecords
// call failed (per record or as a whole), so duplicates only follow failures.
// Without failures, the lines of one file reach the stream in the order of
// the file (when their partition keys land on one shard).
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// retryLogInterval is the least time between two reports of one repeated
// PutRecords failure.
const retryLogInterval = 10 * time.Second

// checkTimeout bounds the check, at the start, that the stream exists.
const checkTimeout = 10 * time.Second

// Limits of one PutRecords call and one record, as Kinesis's.
const (
	MaxBatchRecords = 500
	MaxBatchBytes   = 5 << 20
	MaxRecordBytes  = 1 << 20
	maxKeyLen       = 256
)

// Config configures an agent.
type Config struct {
	Client *client.Client
	Stream string
	Files  []string
	// Started, when set, is called once Run has found the stream (or could
	// not check it and starts anyway), before the first line is read: a
	// missing stream ends Run without it.
	Started func()
	// PartitionKeyField names the JSON field whose value is the partition
	// key of a line; empty (or a line without it) means a round-robin key.
	PartitionKeyField string
	// FromStart sends the lines already in the files; otherwise tailing
	// starts at their current end.
	FromStart bool
	// FlushInterval is the longest a read line waits before it is sent
	// (default 100ms).
	FlushInterval time.Duration
	// PollInterval is how often files are checked for new data and rotation
	// (default 50ms).
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries (defaults
	// 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// Progress receives a progress line every ProgressInterval (default 5s)
	// and when the agent stops; nil means none.
	Progress         io.Writer
	ProgressInterval time.Duration
	// ShutdownTimeout bounds how long, after the context is done, the agent
	// keeps trying to send what it read (default 30s).
	ShutdownTimeout time.Duration
	// Producers make lines of their own (host metrics, …), sent like the
	// files' lines: each runs until ctx is done, calling emit per line;
	// emit returns false when the agent is giving up.
	Producers []func(ctx context.Context, emit func(line []byte) bool)
}

// Stats are the agent's counters.
type Stats struct {
	LinesRead   atomic.Int64 // complete lines read from the files
	RecordsSent atomic.Int64 // records the stream acknowledged
	Retried     atomic.Int64 // records sent again after a failure
	Failed      atomic.Int64 // records given up on (too large, rejected, or unsent at shutdown)
}

func (s *Stats) String() string {
	return fmt.Sprintf("%d lines read, %d records sent, %d retried, %d failed",
		s.LinesRead.Load(), s.RecordsSent.Load(), s.Retried.Load(), s.Failed.Load())
}

// Agent tails files into a stream.
type Agent struct {
	cfg   Config
	Stats Stats
	rr    uint64 // round-robin partition key counter

	opened func(path string) // test hook: a tailer opened path

	// The last failure of PutRecords reported, and when (used by send's
	// goroutine only): a failure that repeats is reported at most every
	// retryLogInterval.
	lastRetry   string
	lastRetryAt time.Time
}

// ErrStreamNotFound is the error of Run when the stream does not exist (the
// store answered ResourceNotFoundException), tested with errors.Is.
var ErrStreamNotFound = errors.New("the stream does not exist")

// ErrRefused is the error of Run when the store refuses the agent's
// requests for their credentials (no signature, an unknown access key, a
// wrong secret key or clock), which retrying would not cure; tested with
// errors.Is.
var ErrRefused = errors.New("the store refuses the credentials")

// New returns an agent with cfg's defaults filled in.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.Stream == "" || len(cfg.Files)+len(cfg.Producers) == 0 {
		return nil, errors.New("agent: a client, a stream and at least one file (or producer) are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.FlushInterval, 100*time.Millisecond)
	def(&cfg.PollInterval, 50*time.Millisecond)
	def(&cfg.MinBackoff, 100*time.Millisecond)
	def(&cfg.MaxBackoff, 5*time.Second)
	def(&cfg.ProgressInterval, 5*time.Second)
	def(&cfg.ShutdownTimeout, 30*time.Second)
	return &Agent{cfg: cfg}, nil
}

// Run tails the files until ctx is done, then sends what it has read
// (for at most ShutdownTimeout) and returns. It returns nil after a clean
// stop.
//
// Run first checks that the stream exists and returns an error wrapping
// ErrStreamNotFound at once when it does not (ErrRefused when the store
// refuses the credentials); when the store cannot be reached,
// it says so and starts anyway (records are retried until it answers).
func (a *Agent) Run(ctx context.Context) error {
	checkCtx, cancelCheck := context.WithTimeout(ctx, checkTimeout)
	_, err := a.cfg.Client.ListShards(checkCtx, a.cfg.Stream)
	cancelCheck()
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) && se.Code == store.ErrResourceNotFound {
			return fmt.Errorf("stream %q: %w", a.cfg.Stream, ErrStreamNotFound)
		}
		if client.Refused(err) {
			return fmt.Errorf("%w (%v)", ErrRefused, err)
		}
		if ctx.Err() != nil {
			return nil
		}
		a.logf("cannot check stream %s: %v (starting anyway; records are retried until the store answers)", a.cfg.Stream, err)
	}
	if a.cfg.Started != nil {
		a.cfg.Started()
	}
	// sendCtx outlives ctx by ShutdownTimeout so that read lines get sent.
	sendCtx, cancelSend := context.WithCancel(context.Background())
	defer cancelSend()
	stopTimer := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(a.cfg.ShutdownTimeout, cancelSend)
		context.AfterFunc(sendCtx, func() { t.Stop() })
	})
	defer stopTimer()

	lines := make(chan []byte, 2*MaxBatchRecords)
	var wg sync.WaitGroup
	for _, path := range a.cfg.Files {
		t := &tailer{path: path, fromStart: a.cfg.FromStart, poll: a.cfg.PollInterval, opened: a.opened, warn: a.logf}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.run(ctx, sendCtx, func(line []byte) bool {
				a.Stats.LinesRead.Add(1)
				select {
				case lines <- line:
					return true
				case <-sendCtx.Done():
					a.Stats.Failed.Add(1)
					return false
				}
			})
		}()
	}
	for _, produce := range a.cfg.Producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			produce(ctx, func(line []byte) bool {
				a.Stats.LinesRead.Add(1)
				select {
				case lines <- line:
					return true
				case <-sendCtx.Done():
					a.Stats.Failed.Add(1)
					return false
				}
			})
		}()
	}
	go func() { wg.Wait(); close(lines) }()

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if a.cfg.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			tk := time.NewTicker(a.cfg.ProgressInterval)
			defer tk.Stop()
			for {
				select {
				case <-tk.C:
					fmt.Fprintf(a.cfg.Progress, "sluice agent: %s\n", &a.Stats)
				case <-progressDone:
					return
				}
			}
		}()
	}
	a.send(sendCtx, lines)
	close(progressDone)
	progressWG.Wait()
	if a.cfg.Progress != nil {
		fmt.Fprintf(a.cfg.Progress, "sluice agent: stopped: %s\n", &a.Stats)
	}
	return nil
}

// send batches lines into PutRecords calls until lines is closed.
func (a *Agent) send(ctx context.Context, lines <-chan []byte) {
	var batch []client.PutRecordsEntry
	size := 0
	tk := time.NewTicker(a.cfg.FlushInterval)
	defer tk.Stop()
	flush := func() {
		if len(batch) > 0 {
			a.put(ctx, batch)
			batch, size = nil, 0
		}
	}
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				flush()
				return
			}
			e := a.entry(line)
			n := len(e.Data) + len(e.PartitionKey)
			if len(e.Data) > MaxRecordBytes {
				a.Stats.Failed.Add(1)
				if a.cfg.Progress != nil {
					fmt.Fprintf(a.cfg.Progress, "sluice agent: skipping a line of %d bytes (records are at most %d)\n", len(e.Data), MaxRecordBytes)
				}
				continue
			}
			if len(batch) == MaxBatchRecords || size+n > MaxBatchBytes {
				flush()
			}
			batch = append(batch, e)
			size += n
			if len(batch) == MaxBatchRecords {
				flush()
			}
		case <-tk.C:
			flush()
		}
	}
}

// entry makes the record of one line.
func (a *Agent) entry(line []byte) client.PutRecordsEntry {
	key := ""
	if f := a.cfg.PartitionKeyField; f != "" {
		var m map[string]json.RawMessage
		if json.Unmarshal(line, &m) == nil {
			if raw, ok := m[f]; ok {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					key = s
				} else if string(raw) != "null" {
					key = string(raw)
				}
			}
		}
	}
	if key == "" {
		a.rr++
		key = strconv.FormatUint(a.rr, 10)
	}
	if len(key) > maxKeyLen {
		key = key[:maxKeyLen]
	}
	return client.PutRecordsEntry{Data: line, PartitionKey: key}
}

// put sends batch until every record is written, ctx is done, or the
// stream rejects the request as invalid.
func (a *Agent) put(ctx context.Context, batch []client.PutRecordsEntry) {
	backoff := a.cfg.MinBackoff
	for len(batch) > 0 {
		out, err := a.cfg.Client.PutRecords(ctx, a.cfg.Stream, batch)
		if err == nil && len(out.Records) != len(batch) {
			err = fmt.Errorf("PutRecords answered %d results for %d records", len(out.Records), len(batch))
		}
		if err != nil {
			var se *store.Error
			if errors.As(err, &se) && (se.Code == store.ErrInvalidArgument || se.Code == store.ErrValidation) {
				a.Stats.Failed.Add(int64(len(batch)))
				a.logf("giving up on %d records: %v", len(batch), err)
				return
			}
			// A call cut short by the stop is not a failure to report: the
			// stop says what is left unsent.
			if msg := opError("PutRecords", err); ctx.Err() == nil && (msg != a.lastRetry || time.Since(a.lastRetryAt) >= retryLogInterval) {
				a.lastRetry, a.lastRetryAt = msg, time.Now()
				a.logf("%s (retrying %d records; repeats are reported every %v)", msg, len(batch), retryLogInterval)
			}
		} else {
			var failed []client.PutRecordsEntry
			for i, r := range out.Records {
				if r.ErrorCode != "" {
					failed = append(failed, batch[i])
				}
			}
			a.Stats.RecordsSent.Add(int64(len(batch) - len(failed)))
			if len(failed) < len(batch) {
				backoff = a.cfg.MinBackoff
			}
			batch = failed
			if len(batch) == 0 {
				return
			}
		}
		a.Stats.Retried.Add(int64(len(batch)))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			a.Stats.Retried.Add(-int64(len(batch)))
			a.Stats.Failed.Add(int64(len(batch)))
			a.logf("stopped with %d records unsent", len(batch))
			return
		}
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
}

func (a *Agent) logf(format string, args ...any) {
	if a.cfg.Progress != nil {
		fmt.Fprintf(a.cfg.Progress, "sluice agent: "+format+"\n", args...)
	}
}

// opError names the operation of a client's error once: the client's own
// errors already start with it ("PutRecords: Post …"), the store's answers
// do not ("ResourceNotFoundException: …").
func opError(op string, err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, op+": ") {
		return msg
	}
	return op + ": " + err.Error()
}
