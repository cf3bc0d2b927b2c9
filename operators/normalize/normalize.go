// Package normalize turns an upsert stream into a retract-mode changelog,
// as Flink's ChangelogNormalize does for 'upsert-kafka' and other sources
// that send, per key, only the latest row (and deletes without the old
// row): it keeps the last row of every key and emits what changed.
//
// What the planner must guarantee, and what it gets:
//   - Rows arrive partitioned by Spec.KeyCols (runtime.Keyed on those
//     columns: the table's PRIMARY KEY), in the order the source gives a
//     key's changes (one source partition per key, as Kafka keys are).
//   - Input kinds: +I and +U upsert the row of its key; -D (and -U, taken
//     as Flink takes it) deletes the key, whatever the row's other columns
//     hold (an upsert source's delete often has only the key). A delete of
//     a key not held is dropped.
//   - Output, with the input's schema: the first row of a key as +I; a new
//     row for a key as -U of the row held, then +U of the new one; a delete
//     as -D of the row held. A row equal to the one held is dropped
//     (without a TTL; with one it is emitted as -U/+U, as in Flink, since
//     downstream state may have expired). So the output is a retract-mode
//     changelog whose every -U and -D retracts a row emitted before.
//   - No time column or watermarks: the operator ignores them (they pass
//     through).
//
// State: the last row of every key held, bounded by Spec.MaxKeys and
// Spec.TTL ('table.exec.state.ttl': a key not updated for the TTL is
// forgotten: its next row is a +I, a delete of it is dropped), and saved
// by snapshots (runtime.Snapshotter).
package normalize

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// Spec configures a normalization.
type Spec struct {
	In      *runtime.Schema
	KeyCols []int // the upsert key (at least one column); rows arrive keyed by it
	// MaxKeys bounds the keys one subtask may hold (0: no limit); going
	// over fails the job with an error wrapping state.ErrStateLimit.
	MaxKeys int
	// TTL forgets a key not updated for this long (0: never), in
	// processing time as Flink's 'table.exec.state.ttl'. Keys restored
	// from a snapshot start their TTL at the restore.
	TTL time.Duration
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
}

// New checks spec and returns a factory of operators (one per subtask) and
// the output schema, which is the input's.
func New(spec Spec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if spec.In == nil {
		return nil, nil, fmt.Errorf("changelog normalize: no input schema")
	}
	if len(spec.KeyCols) == 0 {
		return nil, nil, fmt.Errorf("changelog normalize: no key columns (the table's PRIMARY KEY)")
	}
	seen := map[int]bool{}
	for _, c := range spec.KeyCols {
		if c < 0 || c >= spec.In.Len() {
			return nil, nil, fmt.Errorf("changelog normalize: key column %d out of range (the input has %d columns)", c, spec.In.Len())
		}
		if seen[c] {
			return nil, nil, fmt.Errorf("changelog normalize: key column %d (%s) given twice", c, spec.In.Fields[c].Name)
		}
		seen[c] = true
	}
	if spec.TTL < 0 || spec.MaxKeys < 0 {
		return nil, nil, fmt.Errorf("changelog normalize: negative state TTL (%v) or key limit (%d)", spec.TTL, spec.MaxKeys)
	}
	return func() runtime.Operator { return &op{spec: spec} }, spec.In, nil
}

type op struct {
	runtime.Base
	spec   Spec
	ctx    *runtime.Context
	table  *agg.Table     // key → slot
	rows   *runtime.Batch // physical row g: the row of slot g
	has    []bool         // slot g holds a live row
	last   []int64        // with a TTL: slot g's last update (ms)
	live   int            // slots with has
	outb   *runtime.Batch
	sel    []int32
	groups []int32
	// nextPurge is when expired keys are next dropped (TTL).
	nextPurge int64
}

func (o *op) ttlMs() int64 {
	if o.spec.TTL <= 0 {
		return 0
	}
	return max(o.spec.TTL.Milliseconds(), 1)
}

func (o *op) now() int64 {
	if o.spec.Clock != nil {
		return o.spec.Clock()
	}
	return time.Now().UnixMilli()
}

func (o *op) purgeEvery() int64 { return min(max(o.ttlMs()/4, 10), 60_000) }

func (o *op) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.table = agg.NewTable(o.spec.In, o.spec.KeyCols)
	o.rows = runtime.NewBatch(o.spec.In)
	o.outb = runtime.NewBatch(o.spec.In)
	if o.ttlMs() > 0 {
		o.nextPurge = o.now() + o.purgeEvery()
		if ctx != nil {
			ctx.RegisterProcessingTimer(o.nextPurge)
		}
	}
	return nil
}

// OnProcessingTime drops expired keys while no rows arrive.
func (o *op) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.now()
	o.purge(now)
	if o.ctx != nil {
		o.ctx.RegisterProcessingTimer(max(now, o.nextPurge))
	}
	return nil
}

// expired reports whether slot g's row has outlived the TTL at now.
func (o *op) expired(g int32, now int64) bool {
	ttl := o.ttlMs()
	return ttl > 0 && o.last[g] <= now-ttl
}

// purge forgets the expired keys, if it is time to.
func (o *op) purge(now int64) {
	if o.ttlMs() == 0 || now < o.nextPurge {
		return
	}
	o.nextPurge = now + o.purgeEvery()
	for g := range o.has {
		if o.has[g] && o.expired(int32(g), now) {
			o.has[g] = false
			o.live--
		}
	}
	o.compact()
}

// compact drops the slots without a live row (deleted or expired keys),
// when they are many.
func (o *op) compact() {
	n := len(o.has)
	if n-o.live < 1024 || n-o.live < n/2 {
		return
	}
	o.table.Compact(o.has)
	rows := runtime.NewBatch(o.spec.In)
	k := 0
	for g, ok := range o.has {
		if ok {
			rows.AppendRow(o.rows, g)
			if len(o.last) > 0 {
				o.last[k] = o.last[g]
			}
			k++
		}
	}
	o.rows.Release()
	o.rows = rows
	if len(o.last) > 0 {
		o.last = o.last[:k]
	}
	o.has = o.has[:k]
	for g := range o.has {
		o.has[g] = true
	}
	o.setStateKeys()
}

func (o *op) setStateKeys() {
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.live)
	}
}

func (o *op) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	ttl := o.ttlMs()
	var now int64
	if ttl > 0 {
		now = o.now()
		o.purge(now)
	}
	o.sel = o.sel[:0]
	for i := 0; i < n; i++ {
		o.sel = append(o.sel, int32(b.Row(i)))
	}
	o.groups = o.table.Lookup(b, o.sel, o.groups)
	for i, r := range o.sel {
		g := o.groups[i]
		if int(g) >= len(o.has) { // a new slot: its row is set below
			o.rows.AppendRow(b, int(r))
			o.has = append(o.has, false)
			if ttl > 0 {
				o.last = append(o.last, now)
			}
		}
		held := o.has[g] && !(ttl > 0 && o.expired(g, now))
		if o.has[g] && !held { // expired, not purged yet
			o.has[g] = false
			o.live--
		}
		switch b.Kind(int(r)) {
		case runtime.Insert, runtime.UpdateAfter:
			switch {
			case !held:
				o.emit(b, int(r), runtime.Insert)
				o.has[g] = true
				o.live++
			case ttl == 0 && sameRow(o.rows, int(g), b, int(r)):
				continue // nothing changed
			default:
				o.emit(o.rows, int(g), runtime.UpdateBefore)
				o.emit(b, int(r), runtime.UpdateAfter)
			}
			setRow(o.rows, int(g), b, int(r))
			if ttl > 0 {
				o.last[g] = now
			}
		default: // -D, -U
			if !held {
				continue
			}
			o.emit(o.rows, int(g), runtime.Delete)
			o.has[g] = false
			o.live--
		}
		if o.outb.N >= runtime.DefaultBatchRows {
			if err := o.flush(out); err != nil {
				return err
			}
		}
	}
	o.setStateKeys()
	if o.spec.MaxKeys > 0 && o.live > o.spec.MaxKeys {
		return fmt.Errorf("%w: changelog normalize holds %d keys in this subtask, over its limit of %d ('sluice.state.max-keys'; 'table.exec.state.ttl' drops idle keys)",
			state.ErrStateLimit, o.live, o.spec.MaxKeys)
	}
	o.compact()
	return o.flush(out)
}

func (o *op) emit(src *runtime.Batch, r int, kind runtime.RowKind) {
	o.outb.AppendRow(src, r)
	o.outb.SetKind(o.outb.N-1, kind)
}

func (o *op) flush(out runtime.Output) error {
	if o.outb.N == 0 {
		return nil
	}
	err := out.Emit(o.outb)
	o.outb.Reset()
	return err
}

// setRow overwrites physical row g of dst with physical row r of src.
func setRow(dst *runtime.Batch, g int, src *runtime.Batch, r int) {
	for c := range dst.Cols {
		d, s := &dst.Cols[c], &src.Cols[c]
		if s.IsNull(r) {
			d.SetNull(g)
			continue
		}
		if d.Null != nil {
			d.Null[g] = false
		}
		switch d.Type.Physical() {
		case runtime.PhysFloat:
			d.F64[g] = s.F64[r]
		case runtime.PhysString:
			d.Str[g] = s.Str[r]
		default:
			d.I64[g] = s.I64[r]
		}
	}
}

// sameRow reports whether physical row g of a equals physical row r of b
// (NULL equal to NULL; floats by their bits' value, NaN never equal).
func sameRow(a *runtime.Batch, g int, b *runtime.Batch, r int) bool {
	for c := range a.Cols {
		x, y := &a.Cols[c], &b.Cols[c]
		xn, yn := x.IsNull(g), y.IsNull(r)
		if xn || yn {
			if xn != yn {
				return false
			}
			continue
		}
		switch x.Type.Physical() {
		case runtime.PhysFloat:
			if x.F64[g] != y.F64[r] {
				return false
			}
		case runtime.PhysString:
			if x.Str[g] != y.Str[r] {
				return false
			}
		default:
			if x.I64[g] != y.I64[r] {
				return false
			}
		}
	}
	return true
}

// Describe says what the operator keeps, for plans.
func (o *op) Describe() string {
	var keys []string
	for _, c := range o.spec.KeyCols {
		keys = append(keys, o.spec.In.Fields[c].Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "changelog normalize: key %s, upserts in, an updating result out (+I, -U, +U, -D)\n", strings.Join(keys, ", "))
	b.WriteString("state: the last row of every key")
	if o.spec.TTL > 0 {
		fmt.Fprintf(&b, ", TTL %v in processing time ('table.exec.state.ttl')", o.spec.TTL)
	} else {
		b.WriteString(", no TTL: kept forever")
	}
	if o.spec.MaxKeys > 0 {
		fmt.Fprintf(&b, "; at most %d keys per subtask ('sluice.state.max-keys')", o.spec.MaxKeys)
	}
	return b.String()
}

func (o *op) Close() error {
	for _, b := range []**runtime.Batch{&o.outb, &o.rows} {
		if *b != nil {
			(*b).Release()
			*b = nil
		}
	}
	return nil
}
