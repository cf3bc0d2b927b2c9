// Package decodepool decodes the records of an ordered source — a Kafka
// partition, a store shard — on a pool of workers while the source keeps
// one reader per partition and emits in the order it read.
//
// A reader hands the pool chunks of raw records (a fetch's hand-over of up
// to a batch, a GetRecords answer: hundreds to thousands of records, never
// one per channel operation) with Submit. Each chunk is decoded by one of
// the pool's workers into a result of its own (its batch of rows, the
// reasons of its bad records), and the subtask takes the results with Next
// strictly in the order the chunks were submitted. What happens at
// emission — reporting bad records, advancing the checkpointed position,
// recycling buffers — stays in the subtask's goroutine, so a checkpoint
// barrier sees exactly the records of the batches emitted before it,
// whatever the workers have decoded ahead.
//
// Next does not sit idle while the chunk it waits for is being decoded:
// it decodes a chunk no worker has taken yet itself, so a pool whose
// workers are slow to be scheduled (a busy machine) does no worse than
// decoding in the subtask.
//
// At most a bounded number of chunks are in flight (submitted and not yet
// taken by Next): Submit blocks beyond it, which is the readers'
// backpressure. Close stops the workers and waits for them; a reader
// blocked in Submit returns when its context ends or the pool closes.
package decodepool

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	sluicert "github.com/sluicehq/sluice/runtime"
)

// Key is the option that sets a source's decode workers.
const Key = "scan.decode.parallelism"

// MaxWorkers bounds the option.
const MaxWorkers = 256

// Option is the spec of 'scan.decode.parallelism': the workers decoding a
// source subtask's records. 1 decodes in the subtask's goroutine, as a
// source without a pool does.
var Option = connectors.Option{Key: Key, Type: connectors.Int, Min: "1", Max: strconv.Itoa(MaxWorkers), Use: connectors.SourceOnly,
	DefaultDoc: "the number of cores (`GOMAXPROCS`)",
	Doc: "workers decoding each subtask's records; a partition keeps one reader and its rows their order " +
		"(`1`: decode in the subtask's goroutine)"}

// Workers is the number of workers option value n asks for: n itself, or
// GOMAXPROCS when n is 0 (the option is absent).
func Workers(n int64) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return int(min(n, MaxWorkers))
}

// Pool decodes chunks of type C into results of type R on its workers and
// hands the results back in the order the chunks were submitted. Submit
// may be called from any number of goroutines (the order is that of their
// calls); Next only from one, the subtask's.
type Pool[C, R any] struct {
	decode func(worker int, c C) R
	n      int             // workers; Next decodes as worker n
	order  chan *job[C, R] // submitted chunks, in order: its capacity bounds those in flight
	work   chan *job[C, R] // chunks for the workers
	free   chan *job[C, R] // jobs to reuse
	stop   chan struct{}
	head   *job[C, R] // taken from order, its result not yet taken (Next's goroutine only)

	// An optional bound on the weight (bytes) of the chunks in flight
	// (LimitWeight): used, under mu, and freed, closed when weight is
	// given back.
	weight    func(C) int64
	maxWeight int64
	mu        sync.Mutex
	used      int64
	freed     chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

// job is one chunk on its way through the pool.
type job[C, R any] struct {
	in   C
	out  R
	w    int64         // weight, with LimitWeight
	done chan struct{} // the worker signals the result (buffered: it never waits)
}

// New starts workers goroutines decoding with decode, which a worker
// calls with its number (0 to workers-1, for state of its own such as a
// decoder; Next's goroutine decodes as number workers, so decode needs
// workers+1 states) and must not keep c's memory past emission unless it
// owns it. inflight bounds the chunks submitted and not yet taken by Next
// (at least workers). spawn starts each worker's goroutine (a source
// passes one that runs it with runtime.Context.Go, so that a panic fails
// the job naming the subtask); nil starts plain goroutines. The caller
// must Close the pool.
func New[C, R any](workers, inflight int, decode func(worker int, c C) R, spawn func(run func())) *Pool[C, R] {
	workers = max(workers, 1)
	inflight = max(inflight, workers)
	p := &Pool[C, R]{
		decode: decode,
		n:      workers,
		order:  make(chan *job[C, R], inflight),
		// Every job in work has been through order and has not been
		// decoded: at most inflight of them, plus the one Next holds.
		work: make(chan *job[C, R], inflight+1),
		free: make(chan *job[C, R], inflight+1),
		stop: make(chan struct{}),
	}
	if spawn == nil {
		spawn = func(run func()) { go run() }
	}
	p.wg.Add(workers)
	for w := range workers {
		spawn(func() { p.run(w) })
	}
	return p
}

func (p *Pool[C, R]) run(w int) {
	defer p.wg.Done()
	for {
		select {
		case j := <-p.work:
			p.run1(w, j)
		case <-p.stop:
			return
		}
	}
}

// run1 decodes j as worker w and signals its result.
func (p *Pool[C, R]) run1(w int, j *job[C, R]) {
	j.out = p.decode(w, j.in)
	j.done <- struct{}{}
}

// LimitWeight bounds, besides their number, the total weight of the
// chunks in flight to max (a chunk heavier than max alone is let through
// when nothing else is in flight); weight is a chunk's, e.g. its bytes. A
// reader of big fetches can then hand over a whole fetch, and fetch the
// next one while the workers decode it, with memory still bounded. Call it
// before the first Submit.
func (p *Pool[C, R]) LimitWeight(max int64, weight func(C) int64) {
	p.maxWeight, p.weight, p.freed = max, weight, make(chan struct{})
}

// acquire waits until w more weight fits; false when ctx ends or the pool
// closes first.
func (p *Pool[C, R]) acquire(ctx context.Context, w int64) bool {
	for {
		p.mu.Lock()
		if p.used == 0 || p.used+w <= p.maxWeight {
			p.used += w
			p.mu.Unlock()
			return true
		}
		freed := p.freed
		p.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		case <-p.stop:
			return false
		}
	}
}

// release gives back weight w.
func (p *Pool[C, R]) release(w int64) {
	p.mu.Lock()
	p.used -= w
	close(p.freed)
	p.freed = make(chan struct{})
	p.mu.Unlock()
}

// Submit hands chunk c to the workers, waiting while the pool has as many
// chunks (or as much weight) in flight as it may. It reports false,
// without submitting, when ctx ends or the pool is closed first.
func (p *Pool[C, R]) Submit(ctx context.Context, c C) bool {
	var w int64
	if p.weight != nil {
		w = p.weight(c)
		if !p.acquire(ctx, w) {
			return false
		}
	}
	var j *job[C, R]
	select {
	case j = <-p.free:
	default:
		j = &job[C, R]{done: make(chan struct{}, 1)}
	}
	j.in, j.w = c, w
	select {
	case p.order <- j:
	case <-ctx.Done():
		if w > 0 {
			p.release(w)
		}
		return false
	case <-p.stop:
		if w > 0 {
			p.release(w)
		}
		return false
	}
	// Never waits: work has room for every job in order and the head.
	p.work <- j
	return true
}

// Next returns the result of the oldest chunk not yet taken, waiting up to
// wait for it on t, a stopped timer the caller owns (as
// connectors.Receive), and decoding chunks no worker has taken meanwhile.
// ok is false when it was not ready in time (it is still the next one);
// err is ctx's when ctx ended first. The time waited, but not the time
// decoding, counts as the subtask's idle time.
func (p *Pool[C, R]) Next(ctx context.Context, t *time.Timer, wait time.Duration) (r R, ok bool, err error) {
	if r, ok := p.ready(); ok {
		return r, true, nil
	}
	t.Reset(wait)
	start := time.Now()
	var busy time.Duration
	defer func() { sluicert.Waited(ctx, time.Since(start)-busy) }()
	for {
		if p.head == nil {
			select {
			case p.head = <-p.order:
			case <-t.C:
				return r, false, nil
			case <-ctx.Done():
				t.Stop()
				return r, false, ctx.Err()
			}
		}
		select {
		case <-p.head.done:
			t.Stop()
			return p.take(), true, nil
		default:
		}
		select {
		case <-p.head.done:
			t.Stop()
			return p.take(), true, nil
		case j := <-p.work:
			// No worker has taken it: decode it rather than wait.
			h := time.Now()
			p.run1(p.n, j)
			busy += time.Since(h)
		case <-t.C:
			return r, false, nil
		case <-ctx.Done():
			t.Stop()
			return r, false, ctx.Err()
		}
	}
}

// ready returns the next result if it is there now.
func (p *Pool[C, R]) ready() (r R, ok bool) {
	if p.head == nil {
		select {
		case p.head = <-p.order:
		default:
			return r, false
		}
	}
	select {
	case <-p.head.done:
		return p.take(), true
	default:
		return r, false
	}
}

// take returns the head's result and recycles its job.
func (p *Pool[C, R]) take() R {
	j := p.head
	p.head = nil
	r := j.out
	if j.w > 0 {
		p.release(j.w)
	}
	var zc C
	var zr R
	j.in, j.out = zc, zr
	select {
	case p.free <- j:
	default:
	}
	return r
}

// Queued is the number of chunks submitted that Next has not yet taken
// (decoded or not), apart from one Next is waiting for.
func (p *Pool[C, R]) Queued() int { return len(p.order) }

// Close stops the workers and waits for them (a worker finishes the chunk
// it is decoding). Chunks not yet taken are dropped. Submit and Next must
// not be called afterwards; Close may be called more than once.
func (p *Pool[C, R]) Close() {
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
}
