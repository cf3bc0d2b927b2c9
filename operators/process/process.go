// Package process is the keyed process operator: the Go-API building block
// for custom keyed logic, like Flink's KeyedProcessFunction. A Func sees
// each row with keyed state (package runtime/state) scoped to the row's
// key, and may register event-time and processing-time timers per key;
// when a timer fires, the Func runs again with the timer's key's state.
//
// The operator sits behind a Keyed edge whose key columns are the
// operator's keyCols, so every row of a key reaches the same subtask.
package process

import (
	"fmt"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// Func is the user logic of a keyed process operator. Each subtask has its
// own Func (made by New's newFunc) called from one goroutine only.
type Func interface {
	// ProcessRow is called for each row (physical row index r of batch b)
	// with state scoped to the row's key. b is borrowed for the call.
	ProcessRow(ctx *Ctx, b *runtime.Batch, r int, out *Emitter) error
	// OnTimer fires event-time timers (when the watermark reaches ts) or
	// processing-time timers (when the wall clock does), with state scoped
	// to the timer's key.
	OnTimer(ctx *Ctx, ts int64, eventTime bool, out *Emitter) error
}

// Opener is implemented by a Func that prepares itself once per subtask
// before the first row, typically registering its states on ctx.State().
// There is no current key during Open.
type Opener interface {
	Open(ctx *Ctx) error
}

// purgeBudget is how many keys of TTL state are checked for expired
// entries on each watermark and processing-time timer round.
const purgeBudget = 1024

// New returns a constructor of keyed process operator subtasks, for
// runtime.Graph.AddOperator. Rows arrive with schema in; the Func emits rows
// of schema out. keyCols are the key columns of in (those of the keyed edge
// feeding the operator). Each subtask gets its own state backend with opts;
// with opts.TTLTime == state.EventTime and no opts.Clock, TTL runs on the
// watermark (see Ctx.State).
func New(in, out *runtime.Schema, keyCols []int, newFunc func() Func, opts state.Options) func() runtime.Operator {
	keyCols = append([]int(nil), keyCols...)
	return func() runtime.Operator {
		return &operator{in: in, out: out, keyCols: keyCols, fn: newFunc(), opts: opts, ttlNow: runtime.MinWatermark, wm: runtime.MinWatermark}
	}
}

type operator struct {
	in, out *runtime.Schema
	keyCols []int
	fn      Func
	opts    state.Options

	rctx    *runtime.Context
	backend *state.Backend
	ctx     Ctx
	em      Emitter
	keyBuf  []byte
	hashes  []uint64

	event, proc timerService
	ttlNow      int64 // TTL clock for event-time TTL
	wm          int64 // last watermark, kept across a restore
}

// watermark returns the operator's current watermark: the runtime's, or
// the one restored from a snapshot until a later one arrives.
func (o *operator) watermark() int64 { return max(o.wm, o.rctx.CurrentWatermark()) }

func (o *operator) OutputSchema() *runtime.Schema { return o.out }

func (o *operator) Open(rctx *runtime.Context) error {
	for _, c := range o.keyCols {
		if c < 0 || c >= o.in.Len() {
			return fmt.Errorf("process: key column %d out of range for input %v", c, o.in)
		}
	}
	if o.fn == nil {
		return fmt.Errorf("process: newFunc returned nil")
	}
	opts := o.opts
	if opts.TTLTime == state.EventTime && opts.Clock == nil {
		opts.Clock = func() int64 { return o.ttlNow }
	}
	b, err := state.NewBackend(opts)
	if err != nil {
		return err
	}
	o.rctx, o.backend = rctx, b
	o.ctx = Ctx{op: o}
	o.em = Emitter{b: runtime.NewBatch(o.out)}
	if op, ok := o.fn.(Opener); ok {
		if err := op.Open(&o.ctx); err != nil {
			return fmt.Errorf("process: open: %w", err)
		}
	}
	return nil
}

func (o *operator) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	o.em.out = out
	n := b.Len()
	if len(o.keyCols) > 0 {
		o.hashes = runtime.HashColumns(b, o.keyCols, o.hashes)
	}
	o.ttlNow = o.watermark()
	for i := 0; i < n; i++ {
		r := b.Row(i)
		o.keyBuf = state.EncodeKey(b, r, o.keyCols, o.keyBuf[:0])
		kg := -1
		if len(o.keyCols) > 0 {
			kg = runtime.KeyGroup(o.hashes[i])
		}
		o.backend.SetCurrentKeyBytes(o.keyBuf, kg)
		if err := o.fn.ProcessRow(&o.ctx, b, r, &o.em); err != nil {
			return fmt.Errorf("process: row with key (%s): %w", state.KeyString(string(o.keyBuf)), err)
		}
	}
	return o.endRound()
}

// ProcessWatermark fires the event-time timers the watermark has reached,
// in timestamp order; the final watermark fires all that remain.
func (o *operator) ProcessWatermark(wm int64, out runtime.Output) error {
	o.em.out = out
	o.wm = max(o.wm, wm)
	for {
		t, ok := o.event.next(wm)
		if !ok {
			break
		}
		// A timer sees TTL state as of its own time.
		o.ttlNow = max(o.ttlNow, t.ts)
		if err := o.fire(t, true); err != nil {
			return err
		}
	}
	o.ttlNow = wm
	if wm != runtime.MaxWatermark {
		o.backend.Purge(o.backend.Now(), purgeBudget)
	}
	return o.endRound()
}

// OnProcessingTime fires the processing-time timers that are due.
func (o *operator) OnProcessingTime(at int64, out runtime.Output) error {
	o.em.out = out
	limit := max(at, o.rctx.Now())
	for {
		t, ok := o.proc.next(limit)
		if !ok {
			break
		}
		if err := o.fire(t, false); err != nil {
			return err
		}
	}
	o.backend.Purge(o.backend.Now(), purgeBudget)
	return o.endRound()
}

func (o *operator) fire(t timer, eventTime bool) error {
	o.backend.SetCurrentKeyBytes([]byte(t.key), int(t.kg))
	if err := o.fn.OnTimer(&o.ctx, t.ts, eventTime, &o.em); err != nil {
		kind := "processing-time"
		if eventTime {
			kind = "event-time"
		}
		return fmt.Errorf("process: %s timer %d of key (%s): %w", kind, t.ts, state.KeyString(t.key), err)
	}
	return nil
}

// endRound sends what the round emitted and publishes the key count.
func (o *operator) endRound() error {
	o.rctx.Metrics.SetStateKeys(o.backend.Keys())
	return o.em.flush()
}

// Finish runs after the final watermark has fired every event-time timer.
// Processing-time timers still pending are dropped, as Flink does at the
// end of a bounded input.
func (o *operator) Finish(out runtime.Output) error {
	o.em.out = out
	return o.em.flush()
}

func (o *operator) Close() error {
	if o.em.b != nil {
		o.em.b.Release()
		o.em.b = nil
	}
	return nil
}

// Ctx is what a Func gets with each call: the keyed state backend, whose
// current key is the row's or the timer's, and the timer service. It
// belongs to the operator and is valid during the call only.
type Ctx struct {
	op *operator
}

// State returns the subtask's keyed state backend, its current key set to
// the row's or timer's key. Register states on it in Open (Opener);
// registering again by name returns the same state.
//
// TTL runs on the wall clock unless the operator was built with
// state.Options{TTLTime: state.EventTime}: then on the watermark, except
// that an event-time timer sees state as of its own timestamp. State
// written before the first watermark is stamped with the first watermark.
func (c *Ctx) State() *state.Backend { return c.op.backend }

// CurrentKey returns the current key, encoded (see state.EncodeKey).
func (c *Ctx) CurrentKey() string { return c.op.backend.CurrentKey() }

// Key returns the current key's column values, for emitting the key from
// OnTimer. It allocates; in ProcessRow, read the key columns of the row.
func (c *Ctx) Key() []runtime.Value {
	vals, err := state.DecodeKey(c.op.backend.CurrentKey())
	if err != nil {
		// Keys are made by EncodeKey: this cannot happen.
		panic(fmt.Sprintf("process: undecodable key: %v", err))
	}
	return vals
}

// RegisterEventTimer asks for OnTimer(ts, eventTime=true) with the current
// key once the watermark reaches ts. Registering the same (key, ts) twice
// makes one timer. A timer at or behind the current watermark fires with
// the next watermark, or in the current round when registered from
// OnTimer (so a timer that always re-registers itself there never ends).
func (c *Ctx) RegisterEventTimer(ts int64) {
	b := c.op.backend
	c.op.event.add(ts, b.CurrentKey(), b.CurrentKeyGroup())
}

// RegisterProcessingTimer asks for OnTimer(ts, eventTime=false) with the
// current key once the wall clock reaches ts (milliseconds since the
// epoch). Timers pending when the input ends do not fire.
func (c *Ctx) RegisterProcessingTimer(ts int64) {
	b := c.op.backend
	if c.op.proc.add(ts, b.CurrentKey(), b.CurrentKeyGroup()) {
		c.op.rctx.RegisterProcessingTimer(ts)
	}
}

// DeleteTimer deletes the current key's timer at ts of the given time
// domain, if registered.
func (c *Ctx) DeleteTimer(ts int64, eventTime bool) {
	if eventTime {
		c.op.event.remove(ts, c.op.backend.CurrentKey())
	} else {
		c.op.proc.remove(ts, c.op.backend.CurrentKey())
	}
}

// CurrentWatermark returns the operator's current watermark
// (runtime.MinWatermark before the first).
func (c *Ctx) CurrentWatermark() int64 { return c.op.watermark() }

// CurrentProcessingTime returns the wall clock in milliseconds.
func (c *Ctx) CurrentProcessingTime() int64 { return c.op.rctx.Now() }

// Timers returns the number of registered event-time and processing-time
// timers of the subtask.
func (c *Ctx) Timers() (event, processing int) { return c.op.event.len(), c.op.proc.len() }

// Runtime returns the subtask's runtime context (subtask index, metrics,
// side outputs).
func (c *Ctx) Runtime() *runtime.Context { return c.op.rctx }
