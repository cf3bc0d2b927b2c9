package join

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// ErrInvalidTemporal is wrapped by every error NewTemporal and
// NewProcTemporal return for a bad spec.
var ErrInvalidTemporal = errors.New("invalid temporal join")

// TemporalSpec describes an event-time temporal join (NewTemporal). The
// temporal joins are Flink SQL's
//
//	SELECT … FROM probe [LEFT] JOIN versioned FOR SYSTEM_TIME AS OF probe.t
//	    ON probe.k = versioned.pk
//
// NewTemporal builds the event-time temporal join (t is the probe's
// event-time attribute), NewProcTemporal the processing-time one (t is
// PROCTIME(); Nexmark q13's join with a side table).
//
// Input 0 is the probe stream: append-only (+I rows only; any other kind is
// an error), with an event-time column. Input 1 is the versioned table: a
// changelog (+I, -U, +U, -D) or an append-only stream whose key columns are
// its primary key, with an event-time column giving each change its version
// time. Both inputs must arrive through runtime.Keyed edges hashed on the
// join key (ProbeKeys on input 0, VersionKeys on input 1: the whole primary
// key of the versioned side), and both must carry watermarks: the operator
// works on the minimum of the two, as every two-input operator.
//
// Each key has a history of versions ordered by version time. A +I or +U row
// at time v starts a version (the row) valid from v; a -U or -D row at time v
// ends the version valid before v: from v the key has none, until the next
// +I/+U. Of two changes with the same version time, the one that arrived
// last wins (so -U then +U at the same time is an update).
//
// A probe row at time t joins the version of its key valid at t: the latest
// change with version time <= t, if that change is +I/+U. Probe rows are
// buffered until the watermark reaches t (t <= watermark), then emitted in
// the order of their times (rows with equal times in arrival order): one
// output row, the probe's columns followed by the version's, or — for a LEFT
// join (LeftOuter) — the probe's columns and NULLs when no version is valid
// or the residual condition is not TRUE. An INNER join emits nothing for such
// a probe row. The output is append-only (+I).
//
// The probe's time column stays the output's event-time attribute (for the
// planner: a time attribute downstream, e.g. for windows): a row of probe
// time t is emitted while the operator handles the first watermark >= t,
// before the runtime forwards that watermark, so it reaches the next
// operator ahead of it, on time; and the input watermark, which the runtime
// forwards unchanged, stays valid for that column.
//
// Late rows: a probe row whose time is at or behind the watermark when it
// arrives (or is NULL) can no longer be placed; it is dropped and counted in
// OperatorMetrics.LateRowsDropped and the subtask's late-row log, as the
// window operators do. A probe row whose key is NULL (or a NaN DOUBLE)
// matches nothing: dropped by an INNER join, emitted padded by a LEFT join.
// A change of the versioned side at or behind the watermark is late too:
// dropped and counted. (Flink applies it for the probe rows still to come;
// dropping it keeps the result a function of the on-time rows, and lets a
// deleted key be forgotten once the watermark passes the deletion.) A change
// with a NULL key or time is ignored.
//
// State: the buffered probe rows (those ahead of the watermark), and per key
// the version valid at the watermark plus the changes after it; older
// versions are freed as the watermark passes them, and a key whose last
// change is a deletion behind the watermark is dropped. MaxGroups bounds the
// keys a subtask holds (an error wrapping state.ErrStateLimit beyond it), and
// TTL forgets keys whose versioned side has been idle (in processing time).
type TemporalSpec struct {
	// Probe and Versioned are the schemas of input 0 and input 1.
	Probe, Versioned *runtime.Schema
	// ProbeKeys and VersionKeys are the equi-join key columns, pairwise of
	// the same type (INT and BIGINT may be mixed); VersionKeys is the
	// versioned side's primary key. At least one pair is needed.
	ProbeKeys, VersionKeys []int
	// ProbeTime and VersionTime are the event-time columns (TIMESTAMP, or
	// BIGINT milliseconds). ProbeTime is the output's time attribute.
	ProbeTime, VersionTime int
	// LeftOuter makes it a LEFT join: every on-time probe row is emitted,
	// padded with NULLs when it has no valid version.
	LeftOuter bool
	// Residual, when set, is a further condition over the output row
	// (probe columns, then versioned columns, by index); a pair is joined
	// only when it is TRUE.
	Residual expr.Expr
	// MaxGroups bounds the keys of the versioned side one subtask holds
	// (0: no limit); going over fails with an error wrapping
	// state.ErrStateLimit.
	MaxGroups int
	// TTL forgets a key whose versioned side has had no change for this
	// long (0: never), in processing time, as 'table.exec.state.ttl':
	// later probe rows find no version for it.
	TTL time.Duration
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
	// Name, when set, is prepended to every output column name (as
	// Spec.Name).
	Name string
}

// NewTemporal validates spec and returns a factory making one operator per
// subtask, and the output schema: the probe columns followed by the
// versioned columns (named as New names them; with LeftOuter the versioned
// columns are nullable).
func NewTemporal(spec TemporalSpec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if err := tjValidate("temporal join", spec.Probe, spec.Versioned, spec.ProbeKeys, spec.VersionKeys, spec.MaxGroups); err != nil {
		return nil, nil, err
	}
	if spec.TTL < 0 {
		return nil, nil, tjInvalid("temporal join: negative state TTL %v", spec.TTL)
	}
	if err := tjCheckTime("probe", spec.Probe, spec.ProbeTime); err != nil {
		return nil, nil, err
	}
	if err := tjCheckTime("versioned", spec.Versioned, spec.VersionTime); err != nil {
		return nil, nil, err
	}
	spec.ProbeKeys = slices.Clone(spec.ProbeKeys)
	spec.VersionKeys = slices.Clone(spec.VersionKeys)
	out = tjOutputSchema(spec.Probe, spec.Versioned, spec.Name, false, spec.LeftOuter)
	if err := tjCheckResidual(spec.Residual, out); err != nil {
		return nil, nil, err
	}
	return func() runtime.Operator { return newTJEvent(&spec, out) }, out, nil
}

func tjInvalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidTemporal, fmt.Sprintf(format, args...))
}

// tjValidate checks what every temporal join shares: schemas and keys.
func tjValidate(what string, l, r *runtime.Schema, lk, rk []int, maxGroups int) error {
	if l == nil || r == nil {
		return tjInvalid("%s: both input schemas are required", what)
	}
	if len(lk) == 0 {
		return tjInvalid("%s: at least one key column pair is required", what)
	}
	if len(lk) != len(rk) {
		return tjInvalid("%s: %d probe key columns but %d versioned key columns", what, len(lk), len(rk))
	}
	for i := range lk {
		a, b := lk[i], rk[i]
		if a < 0 || a >= l.Len() {
			return tjInvalid("%s: probe key column %d out of range (probe has %d columns)", what, a, l.Len())
		}
		if b < 0 || b >= r.Len() {
			return tjInvalid("%s: versioned key column %d out of range (versioned has %d columns)", what, b, r.Len())
		}
		at, bt := l.Fields[a].Type, r.Fields[b].Type
		if !keyTypesMatch(at, bt) {
			return tjInvalid("%s: key %d: probe column %q is %s but versioned column %q is %s", what, i,
				l.Fields[a].Name, at, r.Fields[b].Name, bt)
		}
	}
	if maxGroups < 0 {
		return tjInvalid("%s: negative MaxGroups %d", what, maxGroups)
	}
	return nil
}

func tjCheckTime(side string, s *runtime.Schema, col int) error {
	if col < 0 || col >= s.Len() {
		return tjInvalid("%s time column %d out of range (%s has %d columns)", side, col, side, s.Len())
	}
	if t := s.Fields[col].Type; t != runtime.Timestamp && t != runtime.BigInt {
		return tjInvalid("%s time column %q is %s, want TIMESTAMP or BIGINT", side, s.Fields[col].Name, t)
	}
	return nil
}

// tjOutputSchema is l's columns then r's, named as the interval join names
// them; a side that may be padded with NULLs gets nullable columns.
func tjOutputSchema(l, r *runtime.Schema, name string, leftNullable, rightNullable bool) *runtime.Schema {
	s := outputSchema(&Spec{Left: l, Right: r, Name: name})
	fields := slices.Clone(s.Fields)
	for i := range fields {
		if i < l.Len() && leftNullable || i >= l.Len() && rightNullable {
			fields[i].Nullable = true
		}
	}
	return runtime.NewSchema(fields...)
}

func tjCheckResidual(e expr.Expr, out *runtime.Schema) error {
	if e == nil {
		return nil
	}
	c, err := expr.Compile(e, out)
	if err != nil {
		return tjInvalid("residual condition: %v", err)
	}
	if c.Type() != runtime.Boolean {
		return tjInvalid("residual condition %s is %s, want BOOLEAN", e, c.Type())
	}
	return nil
}

// tjNoMatch reports whether physical row r of b has a key that matches
// nothing: a NULL, or a NaN DOUBLE.
func tjNoMatch(b *runtime.Batch, cols []int, r int) bool {
	s := side{keyCols: cols, hasFloatKey: true}
	return s.noMatch(b, r)
}

// tjGatherOrNull appends rows of src to dst (same physical type); nilID
// appends a NULL.
func tjGatherOrNull(dst, src *runtime.Vector, rows []int32) {
	if !slices.Contains(rows, nilID) {
		appendGather(dst, src, rows)
		return
	}
	n0 := dst.Len()
	switch dst.Type.Physical() {
	case runtime.PhysFloat:
		out := slices.Grow(dst.F64, len(rows))
		for _, r := range rows {
			x := 0.0
			if r != nilID {
				x = src.F64[r]
			}
			out = append(out, x)
		}
		dst.F64 = out
	case runtime.PhysString:
		out := slices.Grow(dst.Str, len(rows))
		for _, r := range rows {
			x := ""
			if r != nilID {
				x = src.Str[r]
			}
			out = append(out, x)
		}
		dst.Str = out
	default:
		out := slices.Grow(dst.I64, len(rows))
		for _, r := range rows {
			x := int64(0)
			if r != nilID {
				x = src.I64[r]
			}
			out = append(out, x)
		}
		dst.I64 = out
	}
	if dst.Null == nil {
		dst.Null = make([]bool, n0, n0+len(rows))
	}
	for _, r := range rows {
		dst.Null = append(dst.Null, r == nilID || src.Null != nil && src.Null[r])
	}
}

// tjLimit is the error for a subtask holding more keys than allowed.
func tjLimit(what string, n, limit int) error {
	return fmt.Errorf("%w: %s holds %d keys in this subtask, over its limit of %d ('sluice.state.max-keys')", state.ErrStateLimit, what, n, limit)
}

// tjProbes buffers probe rows until the watermark passes their time. Row ids
// index the slices; an emitted row is dead until the buffer is compacted.
type tjProbes struct {
	cols  []runtime.Vector
	ts    []int64
	hash  []uint64
	nokey []bool // the key matches nothing
	dead  []bool
	live  int
	queue expiryQueue // live rows by time
	keep  []int32
}

func newTJProbes(s *runtime.Schema) tjProbes {
	p := tjProbes{cols: make([]runtime.Vector, s.Len())}
	for i, f := range s.Fields {
		p.cols[i].Type = f.Type
	}
	return p
}

// add records a row (its columns are appended with appendColumns).
func (p *tjProbes) add(t int64, h uint64, nokey bool) {
	id := int32(len(p.ts))
	p.ts = append(p.ts, t)
	p.hash = append(p.hash, h)
	p.nokey = append(p.nokey, nokey)
	p.dead = append(p.dead, false)
	p.live++
	p.queue.push(expiry{at: t, row: id})
}

// due appends to dst the rows with time <= wm, by time then id, and takes
// them out of the queue.
func (p *tjProbes) due(wm int64, dst []int32) []int32 {
	q := &p.queue
	n0 := len(dst)
	for q.head < len(q.fifo) && q.fifo[q.head].at <= wm {
		dst = append(dst, q.fifo[q.head].row)
		q.head++
	}
	if q.head == len(q.fifo) {
		q.fifo, q.head = q.fifo[:0], 0
	}
	fromHeap := false
	for len(q.heap) > 0 && q.heap[0].at <= wm {
		dst = append(dst, q.heap.pop().row)
		fromHeap = true
	}
	if fromHeap {
		part := dst[n0:]
		slices.SortFunc(part, func(a, b int32) int {
			if c := cmpInt64(p.ts[a], p.ts[b]); c != 0 {
				return c
			}
			return int(a - b)
		})
	}
	return dst
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// kill marks rows emitted.
func (p *tjProbes) kill(rows []int32) {
	for _, r := range rows {
		p.dead[r] = true
	}
	p.live -= len(rows)
}

// maybeCompact drops dead rows once they are at least as many as the live
// ones and at least minDead (or every row is dead).
func (p *tjProbes) maybeCompact(minDead int, remap []int32) []int32 {
	n := len(p.ts)
	dead := n - p.live
	if dead == 0 || (p.live > 0 && (dead < minDead || dead < p.live)) {
		return remap
	}
	remap = slices.Grow(remap[:0], n)[:n]
	keep := p.keep[:0]
	for id := range n {
		if p.dead[id] {
			remap[id] = nilID
			continue
		}
		remap[id] = int32(len(keep))
		keep = append(keep, int32(id))
	}
	p.keep = keep
	for i, old := range keep {
		p.ts[i], p.hash[i], p.nokey[i], p.dead[i] = p.ts[old], p.hash[old], p.nokey[old], false
	}
	live := len(keep)
	p.ts, p.hash, p.nokey, p.dead = p.ts[:live], p.hash[:live], p.nokey[:live], p.dead[:live]
	for c := range p.cols {
		compactVector(&p.cols[c], keep)
	}
	p.queue.remap(remap)
	return remap
}

// liveRows returns the ids of the live rows, ascending.
func (p *tjProbes) liveRows() []int32 {
	rows := make([]int32, 0, p.live)
	for id, d := range p.dead {
		if !d {
			rows = append(rows, int32(id))
		}
	}
	return rows
}

// tjEvent is one subtask of an event-time temporal join.
type tjEvent struct {
	spec *TemporalSpec
	out  *runtime.Schema
	ctx  *runtime.Context
	wm   int64

	keys keyTable // keys of the versioned side
	vers rowStore // side 1: versions, per key in version-time order
	tomb []bool   // by version row id: a -U/-D change (no version)
	// pending lists the keys that may hold versions to free; pendMark
	// (by key id) says whether a key is in it.
	pending  []int32
	pendMark []bool

	probes tjProbes
	filter tjFilter
	ttl    agg.Expiry

	compactRows int
	outB        *runtime.Batch
	// Scratch.
	hashes   []uint64
	stored   []int32
	dueRows  []int32
	pairP    []int32
	pairV    []int32
	remap    []int32
	probeTmp runtime.Batch
	lateLog  runtime.LateLog
}

var (
	_ runtime.Operator        = (*tjEvent)(nil)
	_ runtime.ProcessingTimer = (*tjEvent)(nil)
)

func newTJEvent(spec *TemporalSpec, out *runtime.Schema) *tjEvent {
	keyTypes := make([]runtime.Type, len(spec.VersionKeys))
	for i, c := range spec.VersionKeys {
		keyTypes[i] = spec.Versioned.Fields[c].Type
	}
	o := &tjEvent{
		spec:        spec,
		out:         out,
		wm:          runtime.MinWatermark,
		keys:        newKeyTable(keyTypes),
		vers:        newRowStore(spec.Versioned),
		probes:      newTJProbes(spec.Probe),
		compactRows: minCompactRows,
		ttl:         agg.NewExpiry(spec.TTL, spec.Clock),
	}
	if spec.Residual != nil {
		o.filter.c, _ = expr.Compile(spec.Residual, out) // checked by NewTemporal
	}
	return o
}

// OutputSchema implements runtime.OutputSchemaer.
func (o *tjEvent) OutputSchema() *runtime.Schema { return o.out }

// Open implements runtime.Operator.
func (o *tjEvent) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	o.ttl.Start(ctx)
	return nil
}

// OnProcessingTime purges the keys whose TTL has passed.
func (o *tjEvent) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.ttl.Now()
	o.purge(now)
	o.ttl.Rearm(o.ctx, now)
	return nil
}

// purge forgets the keys expired at now, if a purge is due.
func (o *tjEvent) purge(now int64) {
	if !o.ttl.Due(now) {
		return
	}
	for k := range o.keys.entries {
		if o.keys.entries[k].count[1] > 0 && o.ttl.Expired(int32(k), now) {
			o.dropKey(int32(k))
		}
	}
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
}

// dropKey frees every change of key k, and so the key.
func (o *tjEvent) dropKey(k int32) {
	e := &o.keys.entries[k]
	for e.count[1] > 0 {
		o.vers.free(&o.keys, 1, e.head[1])
	}
}

// ProcessBatch buffers probe rows (input 0) and applies changes of the
// versioned table (input 1).
func (o *tjEvent) ProcessBatch(input int, b *runtime.Batch, out runtime.Output) error {
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	switch input {
	case 0:
		if len(b.Cols) != o.spec.Probe.Len() {
			return fmt.Errorf("temporal join probe input: batch has %d columns, schema %d", len(b.Cols), o.spec.Probe.Len())
		}
		return o.addProbes(b)
	case 1:
		if len(b.Cols) != o.spec.Versioned.Len() {
			return fmt.Errorf("temporal join versioned input: batch has %d columns, schema %d", len(b.Cols), o.spec.Versioned.Len())
		}
		return o.addVersions(b)
	}
	return fmt.Errorf("temporal join has inputs 0 (probe) and 1 (versioned), got rows on input %d", input)
}

func (o *tjEvent) addProbes(b *runtime.Batch) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	o.hashes = runtime.HashColumns(b, o.spec.ProbeKeys, o.hashes)
	tcol := &b.Cols[o.spec.ProbeTime]
	late, latest := 0, runtime.MinWatermark
	o.stored = o.stored[:0]
	for i := 0; i < n; i++ {
		r := b.Row(i)
		if k := b.Kind(r); k != runtime.Insert {
			return fmt.Errorf("temporal join: the probe input must be append-only, got a %s row", k)
		}
		if tcol.IsNull(r) {
			late++
			continue
		}
		t := tcol.I64[r]
		if o.wm != runtime.MinWatermark && t <= o.wm {
			late++
			latest = t
			continue
		}
		nokey := tjNoMatch(b, o.spec.ProbeKeys, r)
		if nokey && !o.spec.LeftOuter {
			continue // matches nothing
		}
		o.probes.add(t, o.hashes[i], nokey)
		o.stored = append(o.stored, int32(r))
	}
	for c := range o.probes.cols {
		appendGather(&o.probes.cols[c], &b.Cols[c], o.stored)
	}
	if late > 0 {
		if m := metricsOf(o.ctx); m != nil && m.LateRowsDropped != nil {
			m.LateRowsDropped.Add(late)
		}
		o.lateLog.Dropped(o.ctx, late, latest, o.wm)
	}
	return nil
}

func (o *tjEvent) addVersions(b *runtime.Batch) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	keyCols := o.spec.VersionKeys
	now := o.ttl.Now()
	o.purge(now)
	o.hashes = runtime.HashColumns(b, keyCols, o.hashes)
	tcol := &b.Cols[o.spec.VersionTime]
	o.stored = o.stored[:0]
	late, latest := 0, runtime.MinWatermark
	for i := 0; i < n; i++ {
		r := b.Row(i)
		if tcol.IsNull(r) || tjNoMatch(b, keyCols, r) {
			continue
		}
		t := tcol.I64[r]
		if o.wm != runtime.MinWatermark && t <= o.wm {
			late++
			latest = t
			continue
		}
		kind := b.Kind(r)
		ends := kind == runtime.UpdateBefore || kind == runtime.Delete
		h := o.hashes[i]
		k := o.keys.find(h, b, keyCols, r)
		if k != nilID && o.ttl.Expired(k, now) {
			o.dropKey(k) // expired: starts anew
			k = nilID
		}
		if k == nilID {
			// Even a -U/-D: it ends what a change arriving later with an
			// earlier time may start.
			k = o.keys.insert(h, b, keyCols, r)
		}
		o.insertVersion(k, t, ends)
		o.ttl.Touch(k, now)
		o.stored = append(o.stored, int32(r))
	}
	o.vers.appendColumns(b, o.stored)
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
		if late > 0 && m.LateRowsDropped != nil {
			m.LateRowsDropped.Add(late)
		}
	}
	o.lateLog.Dropped(o.ctx, late, latest, o.wm)
	if o.spec.MaxGroups > 0 && o.keys.live > o.spec.MaxGroups {
		return tjLimit("the temporal join's versioned table", o.keys.live, o.spec.MaxGroups)
	}
	return nil
}

// insertVersion links a change at time t into key k's history, in
// version-time order; it replaces a change with the same time.
func (o *tjEvent) insertVersion(k int32, t int64, ends bool) {
	st := &o.vers
	e := &o.keys.entries[k]
	had := e.count[1]
	after := e.tail[1]
	for after != nilID && st.ts[after] > t {
		after = st.prev[after]
	}
	id := int32(len(st.ts))
	var next int32
	if after == nilID {
		next = e.head[1]
	} else {
		next = st.next[after]
	}
	st.ts = append(st.ts, t)
	st.key = append(st.key, k)
	st.prev = append(st.prev, after)
	st.next = append(st.next, next)
	o.tomb = append(o.tomb, ends)
	if after == nilID {
		e.head[1] = id
	} else {
		st.next[after] = id
	}
	if next == nilID {
		e.tail[1] = id
	} else {
		st.prev[next] = id
	}
	e.count[1]++
	st.live++
	if after != nilID && st.ts[after] == t {
		st.free(&o.keys, 1, after) // the key keeps id: it is not removed
		had--
	}
	if had > 0 || ends {
		for len(o.pendMark) < len(o.keys.entries) {
			o.pendMark = append(o.pendMark, false)
		}
		if !o.pendMark[k] {
			o.pendMark[k] = true
			o.pending = append(o.pending, k)
		}
	}
}

// versionAt returns the version row of key k valid at t, or nilID.
func (o *tjEvent) versionAt(k int32, t int64) int32 {
	st := &o.vers
	j := o.keys.entries[k].tail[1]
	for j != nilID && st.ts[j] > t {
		j = st.prev[j]
	}
	if j == nilID || o.tomb[j] {
		return nilID
	}
	return j
}

// ProcessWatermark emits the probe rows the watermark passes and frees the
// versions no future probe row can see.
func (o *tjEvent) ProcessWatermark(wm int64, out runtime.Output) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	p := &o.probes
	o.dueRows = p.due(wm, o.dueRows[:0])
	now := o.ttl.Now()
	o.probeTmp.Cols = p.cols
	o.pairP, o.pairV = o.pairP[:0], o.pairV[:0]
	for _, id := range o.dueRows {
		v := int32(nilID)
		if !p.nokey[id] {
			if k := o.keys.find(p.hash[id], &o.probeTmp, o.spec.ProbeKeys, int(id)); k != nilID && !o.ttl.Expired(k, now) {
				v = o.versionAt(k, p.ts[id])
			}
		}
		if v == nilID && !o.spec.LeftOuter {
			continue
		}
		o.pairP = append(o.pairP, id)
		o.pairV = append(o.pairV, v)
		if len(o.pairP) == runtime.DefaultBatchRows {
			if err := o.flush(out); err != nil {
				return err
			}
		}
	}
	if err := o.flush(out); err != nil {
		return err
	}
	p.kill(o.dueRows)
	o.remap = p.maybeCompact(o.compactRows, o.remap)
	o.prune(wm)
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
	return nil
}

// flush emits the recorded pairs (a nilID version pads with NULLs).
func (o *tjEvent) flush(out runtime.Output) error {
	if len(o.pairP) == 0 {
		return nil
	}
	ob := o.outB
	ob.Reset()
	np := len(o.probes.cols)
	for c := range o.probes.cols {
		appendGather(&ob.Cols[c], &o.probes.cols[c], o.pairP)
	}
	for c := range o.vers.cols {
		tjGatherOrNull(&ob.Cols[np+c], &o.vers.cols[c], o.pairV)
	}
	ob.N = len(o.pairP)
	if err := o.filter.apply(ob, o.pairV, np, o.spec.LeftOuter); err != nil {
		return err
	}
	o.pairP, o.pairV = o.pairP[:0], o.pairV[:0]
	if ob.Len() == 0 {
		return nil
	}
	return out.Emit(ob)
}

// tjFilter is a compiled residual condition with its scratch.
type tjFilter struct {
	c         *expr.Compiled
	sel, pass []int32
}

// apply filters the joined rows of ob (matched[i] != nilID when row i is a
// matched pair) by the residual condition: with keepPadded, a pair that
// fails has its columns from pad on set to NULL; without, it is left out
// through ob.Sel.
func (f *tjFilter) apply(ob *runtime.Batch, matched []int32, pad int, keepPadded bool) error {
	if f.c == nil {
		return nil
	}
	s := f.sel[:0]
	for i, v := range matched {
		if v != nilID {
			s = append(s, int32(i))
		}
	}
	ob.Sel = s
	f.pass = f.c.Select(ob, f.pass)
	pass := f.pass
	ob.Sel = nil
	if err := f.c.Err(); err != nil {
		return fmt.Errorf("temporal join residual condition: %w", err)
	}
	// s and pass are both ascending: walk them together.
	keep := s[:0]
	j := 0
	for i := range matched {
		ok := matched[i] == nilID
		if !ok && j < len(pass) && pass[j] == int32(i) {
			ok = true
			j++
		} else if !ok && keepPadded {
			for c := pad; c < len(ob.Cols); c++ {
				ob.Cols[c].SetNull(i)
			}
			ok = true
		}
		if ok {
			keep = append(keep, int32(i))
		}
	}
	f.sel = keep
	if len(keep) < ob.N {
		ob.Sel = keep
	}
	return nil
}

// prune frees, for every pending key, the changes before the one valid at
// wm, and that one too when it ends the version.
func (o *tjEvent) prune(wm int64) {
	st := &o.vers
	kept := o.pending[:0]
	for _, k := range o.pending {
		e := &o.keys.entries[k]
		if e.count[1] == 0 { // removed (the id may be reused)
			o.pendMark[k] = false
			continue
		}
		// Free while the second change is also at or behind wm.
		for e.count[1] > 1 {
			h := e.head[1]
			if st.ts[st.next[h]] > wm {
				break
			}
			st.free(&o.keys, 1, h)
		}
		if h := e.head[1]; o.tomb[h] && st.ts[h] <= wm {
			st.free(&o.keys, 1, h) // may remove the key
			if e.count[1] == 0 {
				o.pendMark[k] = false
				continue
			}
		}
		if e.count[1] > 1 || o.tomb[e.head[1]] {
			kept = append(kept, k)
		} else {
			o.pendMark[k] = false
		}
	}
	o.pending = kept
	before := len(st.ts)
	o.remap = st.maybeCompact(&o.keys, 1, o.compactRows, o.remap)
	if after := len(st.ts); after != before {
		for old := 0; old < before; old++ {
			if nw := o.remap[old]; nw != nilID {
				o.tomb[nw] = o.tomb[old]
			}
		}
		o.tomb = o.tomb[:after]
	}
}

// Finish emits what is still buffered (the final watermark normally has).
func (o *tjEvent) Finish(out runtime.Output) error {
	return o.ProcessWatermark(runtime.MaxWatermark, out)
}

// Close releases the output batch.
func (o *tjEvent) Close() error {
	o.lateLog.Close(o.ctx)
	if o.outB != nil {
		o.outB.Release()
		o.outB = nil
	}
	return nil
}

// buffered returns the probe rows buffered and the versions held.
func (o *tjEvent) buffered() (probes, versions int) { return o.probes.live, o.vers.live }
