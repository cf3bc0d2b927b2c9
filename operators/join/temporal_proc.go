package join

import (
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// DefaultMaxBufferedProbe is ProcTemporalSpec.MaxBufferedProbe when 0.
const DefaultMaxBufferedProbe = 1 << 20

// ProcTemporalSpec describes a processing-time temporal join
// (NewProcTemporal). It joins each probe row (input 0, append-only) with the
// current row of its key on the build side (input 1): the build side's
// latest +I/+U for that key, unless a -U/-D has removed it since. This is
// Flink SQL's FOR SYSTEM_TIME AS OF probe.proctime, Nexmark q13's "bounded
// side input join". Both inputs must arrive through runtime.Keyed edges
// hashed on ProbeKeys and BuildKeys (the build side's primary key). A probe
// row is joined when it is processed and emitted at once (output
// append-only: probe columns then build columns); LEFT (LeftOuter) pads a
// probe row without a current build row, or whose residual condition is not
// TRUE, with NULLs. Times play no part; the runtime forwards watermarks
// unchanged.
//
// Processing time makes the result depend on how the two inputs interleave.
// For a bounded build side (a file table) BuildFirst makes it
// deterministic: the probe rows are joined only once the build side has
// ended (runtime.InputEnder), against the complete table. The runtime has
// no way yet for an operator to stop reading one input, so until then the
// operator buffers the probe rows, at most MaxBufferedProbe of them: more
// fails the job with an error saying so (a build side that never ends, or
// is too large to be read before that many probe rows queue up). The
// runtime hook that would remove the buffer: an optional operator interface
// consulted by the subtask's input loop (runtime/exec.go runInbox) after
// each message, say PausedInputs() returning the inputs not to read now,
// which the loop would implement by keeping those inputs' lanes out of
// inbox.take (a "paused" flag next to the barrier-alignment "blocked"
// one), so their producers backpressure. Two hazards it must handle: a
// checkpoint barrier waiting on a paused lane would stall alignment (and so
// the checkpoint) until the pause ends, and pausing an input fed by the
// same upstream task as the awaited one deadlocks (the planner must not ask
// for it then). With BuildFirst, probe rows held
// back are emitted after watermarks the runtime has forwarded: the planner
// must not treat the probe's time column as an event-time attribute of the
// output unless the build side carries no watermark (the combined watermark
// then stays at its minimum until the build side ends, and EndInput runs
// before the watermark its end releases).
//
// State: the current row per build key (MaxGroups bounds the keys; TTL
// forgets keys idle in processing time), and with BuildFirst the probe rows
// held back.
type ProcTemporalSpec struct {
	// Probe and Build are the schemas of input 0 and input 1.
	Probe, Build *runtime.Schema
	// ProbeKeys and BuildKeys are the equi-join key columns, pairwise of
	// the same type (INT and BIGINT may be mixed); BuildKeys is the build
	// side's primary key.
	ProbeKeys, BuildKeys []int
	// LeftOuter makes it a LEFT join.
	LeftOuter bool
	// Residual, when set, is a further condition over the output row.
	Residual expr.Expr
	// BuildFirst holds the probe rows back until the build side has ended.
	BuildFirst bool
	// MaxBufferedProbe bounds the probe rows held back by BuildFirst, per
	// subtask (0: DefaultMaxBufferedProbe).
	MaxBufferedProbe int
	// MaxGroups bounds the build keys one subtask holds (0: no limit);
	// going over fails with an error wrapping state.ErrStateLimit.
	MaxGroups int
	// TTL forgets a build key that has had no change for this long (0:
	// never), in processing time, as 'table.exec.state.ttl'.
	TTL time.Duration
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
	// Name, when set, is prepended to every output column name.
	Name string
}

// NewProcTemporal validates spec and returns a factory making one operator
// per subtask, and the output schema: the probe columns followed by the
// build columns (nullable with LeftOuter).
func NewProcTemporal(spec ProcTemporalSpec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if err := tjValidate("processing-time temporal join", spec.Probe, spec.Build, spec.ProbeKeys, spec.BuildKeys, spec.MaxGroups); err != nil {
		return nil, nil, err
	}
	if spec.TTL < 0 {
		return nil, nil, tjInvalid("processing-time temporal join: negative state TTL %v", spec.TTL)
	}
	if spec.MaxBufferedProbe < 0 {
		return nil, nil, tjInvalid("processing-time temporal join: negative MaxBufferedProbe %d", spec.MaxBufferedProbe)
	}
	if spec.MaxBufferedProbe == 0 {
		spec.MaxBufferedProbe = DefaultMaxBufferedProbe
	}
	spec.ProbeKeys = slices.Clone(spec.ProbeKeys)
	spec.BuildKeys = slices.Clone(spec.BuildKeys)
	out = tjOutputSchema(spec.Probe, spec.Build, spec.Name, false, spec.LeftOuter)
	if err := tjCheckResidual(spec.Residual, out); err != nil {
		return nil, nil, err
	}
	return func() runtime.Operator { return newTJProc(&spec, out) }, out, nil
}

// tjProc is one subtask of a processing-time temporal join.
type tjProc struct {
	spec *ProcTemporalSpec
	out  *runtime.Schema
	ctx  *runtime.Context
	// keys maps a build key to its id; build holds the key's current row
	// at row id = key id.
	keys       keyTable
	alive      []bool // by key id
	build      []runtime.Vector
	ttl        agg.Expiry
	buildEnded bool
	held       *runtime.Batch // probe rows held back (BuildFirst)
	filter     tjFilter
	outB       *runtime.Batch
	// Scratch.
	hashes []uint64
	pairP  []int32
	pairB  []int32
}

var (
	_ runtime.Operator        = (*tjProc)(nil)
	_ runtime.InputEnder      = (*tjProc)(nil)
	_ runtime.ProcessingTimer = (*tjProc)(nil)
)

func newTJProc(spec *ProcTemporalSpec, out *runtime.Schema) *tjProc {
	keyTypes := make([]runtime.Type, len(spec.BuildKeys))
	for i, c := range spec.BuildKeys {
		keyTypes[i] = spec.Build.Fields[c].Type
	}
	o := &tjProc{spec: spec, out: out, keys: newKeyTable(keyTypes), build: make([]runtime.Vector, spec.Build.Len()),
		ttl: agg.NewExpiry(spec.TTL, spec.Clock)}
	for i, f := range spec.Build.Fields {
		o.build[i].Type = f.Type
	}
	if spec.Residual != nil {
		o.filter.c, _ = expr.Compile(spec.Residual, out) // checked by NewProcTemporal
	}
	return o
}

// OutputSchema implements runtime.OutputSchemaer.
func (o *tjProc) OutputSchema() *runtime.Schema { return o.out }

// Open implements runtime.Operator.
func (o *tjProc) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	o.ttl.Start(ctx)
	return nil
}

// OnProcessingTime purges the build keys whose TTL has passed.
func (o *tjProc) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.ttl.Now()
	o.purge(now)
	o.ttl.Rearm(o.ctx, now)
	return nil
}

// purge forgets the build keys expired at now, if a purge is due.
func (o *tjProc) purge(now int64) {
	if !o.ttl.Due(now) {
		return
	}
	for k, ok := range o.alive {
		if ok && o.ttl.Expired(int32(k), now) {
			o.remove(int32(k))
		}
	}
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
}

// remove drops build key k.
func (o *tjProc) remove(k int32) {
	o.keys.remove(k)
	o.alive[k] = false
	for c := range o.build {
		if v := &o.build[c]; v.Type.Physical() == runtime.PhysString {
			v.Str[k] = "" // let the string go
		}
	}
}

// ProcessBatch joins probe rows (input 0), or holds them back, and applies
// changes to the build side (input 1).
func (o *tjProc) ProcessBatch(input int, b *runtime.Batch, out runtime.Output) error {
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	switch input {
	case 0:
		if len(b.Cols) != o.spec.Probe.Len() {
			return fmt.Errorf("temporal join probe input: batch has %d columns, schema %d", len(b.Cols), o.spec.Probe.Len())
		}
		for i := 0; i < b.Len(); i++ {
			if k := b.Kind(b.Row(i)); k != runtime.Insert {
				return fmt.Errorf("temporal join: the probe input must be append-only, got a %s row", k)
			}
		}
		if o.spec.BuildFirst && !o.buildEnded {
			return o.hold(b)
		}
		return o.probe(b, out)
	case 1:
		if len(b.Cols) != o.spec.Build.Len() {
			return fmt.Errorf("temporal join build input: batch has %d columns, schema %d", len(b.Cols), o.spec.Build.Len())
		}
		return o.apply(b)
	}
	return fmt.Errorf("temporal join has inputs 0 (probe) and 1 (build), got rows on input %d", input)
}

func (o *tjProc) hold(b *runtime.Batch) error {
	if o.held == nil {
		o.held = &runtime.Batch{Schema: o.spec.Probe, Cols: make([]runtime.Vector, o.spec.Probe.Len())}
		for i, f := range o.spec.Probe.Fields {
			o.held.Cols[i].Type = f.Type
		}
	}
	if o.held.N+b.Len() > o.spec.MaxBufferedProbe {
		return fmt.Errorf("temporal join: more than %d probe rows arrived before the build side (input 1) ended; "+
			"the probe rows are held back until then (BuildFirst): is the build side unbounded, or larger than the limit allows?",
			o.spec.MaxBufferedProbe)
	}
	for i := 0; i < b.Len(); i++ {
		o.held.AppendRow(b, b.Row(i))
	}
	return nil
}

// apply upserts (+I, +U) or removes (-U, -D) the build rows of b.
func (o *tjProc) apply(b *runtime.Batch) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	keyCols := o.spec.BuildKeys
	now := o.ttl.Now()
	o.purge(now)
	o.hashes = runtime.HashColumns(b, keyCols, o.hashes)
	for i := 0; i < n; i++ {
		r := b.Row(i)
		if tjNoMatch(b, keyCols, r) {
			continue
		}
		h := o.hashes[i]
		k := o.keys.find(h, b, keyCols, r)
		switch b.Kind(r) {
		case runtime.UpdateBefore, runtime.Delete:
			if k != nilID {
				o.remove(k)
			}
		default:
			if k == nilID {
				k = o.keys.insert(h, b, keyCols, r)
				for int(k) >= len(o.alive) {
					o.alive = append(o.alive, false)
				}
				o.alive[k] = true
			}
			for c := range o.build {
				tjSetRow(&o.build[c], int(k), &b.Cols[c], r)
			}
			o.ttl.Touch(k, now)
		}
	}
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
	if o.spec.MaxGroups > 0 && o.keys.live > o.spec.MaxGroups {
		return tjLimit("the temporal join's build side", o.keys.live, o.spec.MaxGroups)
	}
	return nil
}

// tjSetRow sets row i of dst (appending when i == dst.Len()) to row r of
// src, of the same physical type.
func tjSetRow(dst *runtime.Vector, i int, src *runtime.Vector, r int) {
	if i == dst.Len() {
		dst.AppendFrom(src, r)
		return
	}
	switch dst.Type.Physical() {
	case runtime.PhysFloat:
		dst.F64[i] = src.F64[r]
	case runtime.PhysString:
		dst.Str[i] = src.Str[r]
	default:
		dst.I64[i] = src.I64[r]
	}
	null := src.IsNull(r)
	if dst.Null != nil {
		dst.Null[i] = null
	} else if null {
		dst.SetNull(i)
	}
}

// probe joins the present rows of b with the current build rows and emits
// them.
func (o *tjProc) probe(b *runtime.Batch, out runtime.Output) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	o.hashes = runtime.HashColumns(b, o.spec.ProbeKeys, o.hashes)
	o.pairP, o.pairB = o.pairP[:0], o.pairB[:0]
	now := o.ttl.Now()
	for i := 0; i < n; i++ {
		r := b.Row(i)
		k := int32(nilID)
		if !tjNoMatch(b, o.spec.ProbeKeys, r) {
			k = o.keys.find(o.hashes[i], b, o.spec.ProbeKeys, r)
			if k != nilID && o.ttl.Expired(k, now) {
				k = nilID
			}
		}
		if k == nilID && !o.spec.LeftOuter {
			continue
		}
		o.pairP = append(o.pairP, int32(r))
		o.pairB = append(o.pairB, k)
		if len(o.pairP) == runtime.DefaultBatchRows {
			if err := o.flush(b, out); err != nil {
				return err
			}
		}
	}
	return o.flush(b, out)
}

func (o *tjProc) flush(b *runtime.Batch, out runtime.Output) error {
	if len(o.pairP) == 0 {
		return nil
	}
	ob := o.outB
	ob.Reset()
	np := len(b.Cols)
	for c := range b.Cols {
		appendGather(&ob.Cols[c], &b.Cols[c], o.pairP)
	}
	for c := range o.build {
		tjGatherOrNull(&ob.Cols[np+c], &o.build[c], o.pairB)
	}
	ob.N = len(o.pairP)
	if err := o.filter.apply(ob, o.pairB, np, o.spec.LeftOuter); err != nil {
		return err
	}
	o.pairP, o.pairB = o.pairP[:0], o.pairB[:0]
	if ob.Len() == 0 {
		return nil
	}
	return out.Emit(ob)
}

// EndInput implements runtime.InputEnder: once the build side has ended,
// the probe rows held back are joined.
func (o *tjProc) EndInput(input int, out runtime.Output) error {
	if input != 1 || o.buildEnded {
		return nil
	}
	o.buildEnded = true
	return o.release(out)
}

// release joins the probe rows held back, in arrival order.
func (o *tjProc) release(out runtime.Output) error {
	if o.held == nil || o.held.N == 0 {
		return nil
	}
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	h := o.held
	o.held = nil
	for start := 0; start < h.N; start += runtime.DefaultBatchRows {
		end := min(start+runtime.DefaultBatchRows, h.N)
		h.Sel = h.Sel[:0]
		for r := start; r < end; r++ {
			h.Sel = append(h.Sel, int32(r))
		}
		if err := o.probe(h, out); err != nil {
			return err
		}
	}
	return nil
}

// ProcessWatermark implements runtime.Operator: nothing waits for time.
func (o *tjProc) ProcessWatermark(int64, runtime.Output) error { return nil }

// Finish joins the probe rows still held back (every input has ended).
func (o *tjProc) Finish(out runtime.Output) error {
	o.buildEnded = true
	return o.release(out)
}

// Close releases the output batch.
func (o *tjProc) Close() error {
	if o.outB != nil {
		o.outB.Release()
		o.outB = nil
	}
	return nil
}
