package alarm

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/runtime"
	rtstate "github.com/sluicehq/sluice/runtime/state"
)

// state is an alarm instance's state.
type state uint8

const (
	insufficientData state = iota
	stateOK
	stateAlarm
)

var stateNames = [...]string{"INSUFFICIENT_DATA", "OK", "ALARM"}

func (s state) String() string { return stateNames[s%3] }

// point is the datapoint of the period ending at end.
type point struct {
	end int64
	v   float64
}

// instance is the alarm of one dimensions value.
type instance struct {
	dims  []string
	state state
	// evaluated says whether last holds the end of the last period
	// evaluated; until then first is the smallest period end seen.
	evaluated   bool
	last, first int64
	// pts are the datapoints still needed, sorted by end: those of the
	// periods after the window of the last evaluation.
	pts []point
}

// put records datapoint v for the period ending at end, replacing one
// already there.
func (in *instance) put(end int64, v float64) {
	n := len(in.pts)
	if n == 0 || in.pts[n-1].end < end { // in order: the common case
		in.pts = append(in.pts, point{end, v})
		return
	}
	i := sort.Search(n, func(i int) bool { return in.pts[i].end >= end })
	if in.pts[i].end == end {
		in.pts[i].v = v
		return
	}
	in.pts = append(in.pts, point{})
	copy(in.pts[i+1:], in.pts[i:])
	in.pts[i] = point{end, v}
}

// maxTime bounds the period ends accepted (about 73 million years either
// side of 1970), so that sums of period ends and periods cannot overflow.
const maxTime = int64(1) << 61

// op is the alarm operator. Only the subtask's goroutine touches it.
type op struct {
	cfg Config
	m   int
	pub Publisher
	ctx *runtime.Context

	// period is the length of a period in ms, 0 while it is not known;
	// provisional says it was set only to evaluate the single period seen
	// at the end of input. Period ends lie on phase + k·period.
	period      int64
	phase       int64
	provisional bool
	// ends are the distinct period ends seen while the period is not known,
	// sorted.
	ends []int64
	// seen says whether any row has been accepted; maxEnd is then the
	// largest period end seen.
	seen   bool
	maxEnd int64
	wm     int64

	insts []*instance
	byKey map[string]*instance
	key   []byte
	dims  []string // scratch for the dimension values of a row
}

func newOp(cfg Config, pub Publisher) *op {
	o := &op{cfg: cfg, m: cfg.m(), pub: pub, wm: runtime.MinWatermark, byKey: map[string]*instance{}}
	o.period = cfg.Period.Milliseconds()
	return o
}

var (
	_ runtime.Operator    = (*op)(nil)
	_ runtime.Snapshotter = (*op)(nil)
)

func (o *op) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	if err := o.cfg.Validate(); err != nil {
		return err
	}
	if o.pub == nil {
		return fmt.Errorf("alarm %q: no publisher for its notifications", o.cfg.Name)
	}
	if ctx != nil && ctx.Parallelism > 1 {
		return fmt.Errorf("alarm %q: runs with parallelism 1, not %d", o.cfg.Name, ctx.Parallelism)
	}
	return nil
}

func (o *op) Close() error { return nil }

// checkSchema checks that the columns of the configuration exist in b and
// have usable types.
func (o *op) checkSchema(b *runtime.Batch) error {
	n := len(b.Cols)
	col := func(what string, c int) error {
		if c >= n {
			return fmt.Errorf("alarm %q: %s column %d, but the input has %d columns", o.cfg.Name, what, c, n)
		}
		return nil
	}
	if err := col("period", o.cfg.PeriodCol); err != nil {
		return err
	}
	if err := col("metric", o.cfg.MetricCol); err != nil {
		return err
	}
	for i, c := range o.cfg.DimCols {
		if err := col("dimension "+o.cfg.Dimensions[i], c); err != nil {
			return err
		}
	}
	if t := b.Cols[o.cfg.PeriodCol].Type; t.Physical() != runtime.PhysInt || t == runtime.Boolean {
		return fmt.Errorf("alarm %q: period column %d is %v, want TIMESTAMP", o.cfg.Name, o.cfg.PeriodCol, t)
	}
	if t := b.Cols[o.cfg.MetricCol].Type; !t.Numeric() {
		return fmt.Errorf("alarm %q: metric column %d is %v, want DOUBLE, BIGINT or INT", o.cfg.Name, o.cfg.MetricCol, t)
	}
	return nil
}

func (o *op) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	if b.Len() == 0 {
		return nil
	}
	if err := o.checkSchema(b); err != nil {
		return err
	}
	pc, mc := &b.Cols[o.cfg.PeriodCol], &b.Cols[o.cfg.MetricCol]
	var late, bad uint64
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		if pc.IsNull(r) {
			bad++
			continue
		}
		end := pc.I64[r]
		if end < -maxTime || end > maxTime {
			bad++
			continue
		}
		if end-1 <= o.wm {
			late++
			continue
		}
		if o.period > 0 && !o.seen {
			o.phase = floorMod(end, o.period)
		}
		if o.period > 0 && floorMod(end-o.phase, o.period) != 0 {
			bad++
			continue
		}
		in := o.instance(b, r)
		if limit := o.maxInstances(); len(o.insts) > limit {
			return fmt.Errorf("%w: alarm %q has more than %d instances (distinct values of %s); raise 'max-instances' or use fewer dimensions",
				rtstate.ErrStateLimit, o.cfg.Name, limit, strings.Join(o.cfg.Dimensions, ", "))
		}
		if in.evaluated && end <= in.last {
			late++
			continue
		}
		if !in.evaluated && end < in.first {
			in.first = end
		}
		if !mc.IsNull(r) {
			v := 0.0
			if mc.Type.Physical() == runtime.PhysFloat {
				v = mc.F64[r]
			} else {
				v = float64(mc.I64[r])
			}
			if math.IsNaN(v) {
				bad++
			} else {
				in.put(end, v)
			}
		}
		o.noteEnd(end)
	}
	if o.ctx != nil && o.ctx.Metrics != nil {
		if late > 0 {
			o.ctx.Metrics.LateRowsDropped.Add(int(late))
		}
		if bad > 0 {
			o.ctx.Metrics.BadRecords.Add(int(bad))
		}
		o.ctx.Metrics.SetStateKeys(len(o.insts))
	}
	return nil
}

func (o *op) maxInstances() int {
	if o.cfg.MaxInstances > 0 {
		return o.cfg.MaxInstances
	}
	return DefaultMaxInstances
}

// instance returns the instance of row r of b, creating it (in
// INSUFFICIENT_DATA, first seen at its row's period) when new.
func (o *op) instance(b *runtime.Batch, r int) *instance {
	cols := o.cfg.DimCols
	if len(cols) == 1 && b.Cols[cols[0]].Type == runtime.Varchar && !b.Cols[cols[0]].IsNull(r) {
		s := b.Cols[cols[0]].Str[r]
		if in := o.byKey[s]; in != nil {
			return in
		}
		return o.add(s, []string{s}, b.Cols[o.cfg.PeriodCol].I64[r])
	}
	o.key = o.key[:0]
	o.dims = o.dims[:0]
	for _, c := range cols {
		v := &b.Cols[c]
		var s string
		if v.Type == runtime.Varchar && !v.IsNull(r) {
			s = v.Str[r]
		} else {
			s = v.Value(r).String()
		}
		o.dims = append(o.dims, s)
		o.key = append(o.key, s...)
		if len(cols) > 1 {
			o.key = append(o.key, 0)
		}
	}
	if in := o.byKey[string(o.key)]; in != nil {
		return in
	}
	return o.add(string(o.key), append([]string(nil), o.dims...), b.Cols[o.cfg.PeriodCol].I64[r])
}

func (o *op) add(key string, dims []string, first int64) *instance {
	in := &instance{dims: dims, first: first}
	o.byKey[key] = in
	o.insts = append(o.insts, in)
	return in
}

// keyOf returns the map key of an instance's dimension values, as
// instance builds it: the value itself for one dimension, the values each
// followed by a NUL byte for several.
func keyOf(dims []string) string {
	if len(dims) == 1 {
		return dims[0]
	}
	var k []byte
	for _, d := range dims {
		k = append(k, d...)
		k = append(k, 0)
	}
	return string(k)
}

// noteEnd records that a row for the period ending at end was accepted.
func (o *op) noteEnd(end int64) {
	if !o.seen || end > o.maxEnd {
		o.maxEnd = end
	}
	o.seen = true
	if o.period == 0 {
		i := sort.Search(len(o.ends), func(i int) bool { return o.ends[i] >= end })
		if i == len(o.ends) || o.ends[i] != end {
			o.ends = append(o.ends, 0)
			copy(o.ends[i+1:], o.ends[i:])
			o.ends[i] = end
		}
	}
}

func (o *op) ProcessWatermark(wm int64, _ runtime.Output) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	return o.advance()
}

func (o *op) Finish(runtime.Output) error {
	o.wm = runtime.MaxWatermark
	return o.advance()
}

// advance evaluates every instance for every period up to the last one the
// watermark has completed: the period ending at E is complete when the
// watermark has reached E−1; at the end of input, the last period seen.
func (o *op) advance() error {
	if !o.seen || o.wm == runtime.MinWatermark {
		return nil
	}
	if o.period == 0 && !o.inferPeriod() {
		return nil
	}
	target := o.maxEnd
	if o.wm != runtime.MaxWatermark {
		target = o.floor(o.wm + 1)
	}
	for _, in := range o.insts {
		if err := o.advanceInstance(in, target); err != nil {
			return err
		}
	}
	return nil
}

// inferPeriod fixes the period once the watermark has completed two
// distinct period ends: the smallest gap between the ends complete so far.
// At the end of input with a single period end, the period stays unknown
// (reported as 0) and that one period is evaluated.
func (o *op) inferPeriod() bool {
	complete := o.ends
	if o.wm != runtime.MaxWatermark {
		n := sort.Search(len(o.ends), func(i int) bool { return o.ends[i]-1 > o.wm })
		complete = o.ends[:n]
	}
	switch {
	case len(complete) >= 2:
		gap := int64(math.MaxInt64)
		for i := 1; i < len(complete); i++ {
			gap = min(gap, complete[i]-complete[i-1])
		}
		o.setPeriod(gap, complete[0])
	case len(complete) == 1 && o.wm == runtime.MaxWatermark:
		o.setPeriod(1, complete[0])
		o.provisional = true
	default:
		return false
	}
	return true
}

// setPeriod fixes the period and its grid, dropping the datapoints off it.
func (o *op) setPeriod(p, end int64) {
	o.period, o.phase, o.ends = p, floorMod(end, p), nil
	var bad int
	for _, in := range o.insts {
		in.first = o.ceil(in.first)
		kept := in.pts[:0]
		for _, pt := range in.pts {
			if floorMod(pt.end-o.phase, p) == 0 {
				kept = append(kept, pt)
			} else {
				bad++
			}
		}
		in.pts = kept
	}
	if bad > 0 && o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.BadRecords.Add(bad)
	}
}

// floor returns the largest period end ≤ t; ceil the smallest ≥ t.
func (o *op) floor(t int64) int64 { return t - floorMod(t-o.phase, o.period) }
func (o *op) ceil(t int64) int64 {
	if m := floorMod(t-o.phase, o.period); m != 0 {
		return t - m + o.period
	}
	return t
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// windowStart returns the end of the period before the N periods ending
// at e: the window of e is (windowStart(e), e].
func (o *op) windowStart(e int64) int64 {
	n := int64(o.cfg.EvaluationPeriods)
	if o.period > math.MaxInt64/n {
		return math.MinInt64
	}
	span := n * o.period
	if e < math.MinInt64+span {
		return math.MinInt64
	}
	return e - span
}

// advanceInstance evaluates in for every period after its last evaluated
// one up to target. A run of periods whose windows hold no datapoint
// leaves the state as the first of them sets it, so it is skipped.
func (o *op) advanceInstance(in *instance, target int64) error {
	e := in.first
	if in.evaluated {
		var ok bool
		if e, ok = o.next(in.last, target); !ok {
			return nil
		}
	}
	for e <= target {
		lo := o.windowStart(e)
		drop := 0
		for drop < len(in.pts) && in.pts[drop].end <= lo {
			drop++
		}
		if drop > 0 {
			in.pts = append(in.pts[:0], in.pts[drop:]...)
		}
		d, b, latest := o.count(in.pts, e)
		next := o.decide(in.state, d, b, latest)
		in.evaluated, in.last = true, e
		if next != in.state {
			if err := o.notify(in, e, lo, d, b, next); err != nil {
				return err
			}
			in.state = next
		}
		if d == 0 {
			skip := target
			if len(in.pts) > 0 {
				skip = min(target, in.pts[0].end-o.period)
			}
			if skip > e {
				in.last, e = skip, skip
			}
		}
		var ok bool
		if e, ok = o.next(e, target); !ok {
			break
		}
	}
	return nil
}

// next returns the period end after e, and whether it is ≤ target.
func (o *op) next(e, target int64) (int64, bool) {
	if e > math.MaxInt64-o.period {
		return 0, false
	}
	e += o.period
	return e, e <= target
}

// count returns the number of datapoints in pts (pruned to the window of
// e) with an end ≤ e, the number of those breaching, and whether e has one.
func (o *op) count(pts []point, e int64) (d, b int, latest bool) {
	for _, pt := range pts {
		if pt.end > e {
			break
		}
		d++
		if o.cfg.Comparison.breaches(pt.v, o.cfg.Threshold) {
			b++
		}
		latest = pt.end == e
	}
	return d, b, latest
}

// decide applies the evaluation rules of the package documentation to a
// window of N periods holding d datapoints, b of them breaching; latest
// says whether the newest period has one.
func (o *op) decide(cur state, d, b int, latest bool) state {
	n, m := o.cfg.EvaluationPeriods, o.m
	switch o.cfg.TreatMissing {
	case Breaching:
		if b+(n-d) >= m {
			return stateAlarm
		}
		return stateOK
	case NotBreaching:
		if b >= m {
			return stateAlarm
		}
		return stateOK
	case Ignore:
		if !latest {
			return cur
		}
	}
	switch {
	case d == 0:
		return insufficientData
	case b >= m || d < m && b == d:
		return stateAlarm
	}
	return stateOK
}
