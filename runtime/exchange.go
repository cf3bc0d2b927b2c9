package runtime

import "errors"

// errStopped is returned by a writer when the job is stopping.
var errStopped = errors.New("job stopped")

// writer is the sending side of one edge in one upstream subtask. It splits
// each batch into per-target batches in one pass and pushes them onto the
// targets' lanes; control messages go to every target.
type writer struct {
	part    Partitioning
	keyCols []int
	schema  *Schema
	self    int // upstream subtask index (Forward)
	targets []*inbox
	lanes   []int // lane index in each target's inbox
	rr      int
	hashes  []uint64
	dest    []int32
	counts  []int32
	cur     []int32
	i64s    [][]int64
	f64s    [][]float64
	strs    [][]string
	nulls   [][]bool
	kinds   [][]RowKind
	out     []*Batch
	metrics *OperatorMetrics // of the sending operator
}

// Emit partitions b and sends it on.
func (w *writer) Emit(b *Batch) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	switch w.part {
	case Forward, Global, Rebalance:
		t := 0
		switch w.part {
		case Forward:
			t = w.self
		case Rebalance:
			t = w.rr % len(w.targets)
			w.rr++
		}
		c := NewBatch(w.schema)
		c.CopyFrom(b)
		return w.send(t, c)
	}
	// Keyed.
	p := len(w.targets)
	if p == 1 {
		c := NewBatch(w.schema)
		c.CopyFrom(b)
		return w.send(0, c)
	}
	w.hashes = HashColumns(b, w.keyCols, w.hashes)
	w.dest = resize(w.dest, n)
	w.counts = resize(w.counts, p)
	clear(w.counts)
	for i, h := range w.hashes {
		t := int32(SubtaskForKeyGroup(KeyGroup(h), p))
		w.dest[i] = t
		w.counts[t]++
	}
	if cap(w.out) < p {
		w.out = make([]*Batch, p)
	}
	w.out = w.out[:p]
	for t := range w.out {
		w.out[t] = NewBatch(w.schema)
	}
	// Scatter column by column into exactly sized target columns.
	for c := range b.Cols {
		src := &b.Cols[c]
		switch src.Type.Physical() {
		case PhysFloat:
			w.f64s = resize(w.f64s, p)
			for t, ob := range w.out {
				w.f64s[t] = resize(ob.Cols[c].F64, int(w.counts[t]))
			}
			scatter(w.f64s, src.F64, w.dest, b.Sel, w.cursor(p))
			for t, ob := range w.out {
				ob.Cols[c].F64 = w.f64s[t]
			}
		case PhysString:
			w.strs = resize(w.strs, p)
			for t, ob := range w.out {
				w.strs[t] = resize(ob.Cols[c].Str, int(w.counts[t]))
			}
			scatter(w.strs, src.Str, w.dest, b.Sel, w.cursor(p))
			for t, ob := range w.out {
				ob.Cols[c].Str = w.strs[t]
			}
			clear(w.strs)
		default:
			w.i64s = resize(w.i64s, p)
			for t, ob := range w.out {
				w.i64s[t] = resize(ob.Cols[c].I64, int(w.counts[t]))
			}
			scatter(w.i64s, src.I64, w.dest, b.Sel, w.cursor(p))
			for t, ob := range w.out {
				ob.Cols[c].I64 = w.i64s[t]
			}
		}
		if src.Null != nil {
			w.nulls = resize(w.nulls, p)
			for t := range w.out {
				w.nulls[t] = make([]bool, w.counts[t])
			}
			scatter(w.nulls, src.Null, w.dest, b.Sel, w.cursor(p))
			for t, ob := range w.out {
				ob.Cols[c].Null = w.nulls[t]
			}
		}
	}
	if b.Kinds != nil {
		w.kinds = resize(w.kinds, p)
		for t := range w.out {
			w.kinds[t] = make([]RowKind, w.counts[t])
		}
		scatter(w.kinds, b.Kinds, w.dest, b.Sel, w.cursor(p))
		for t, ob := range w.out {
			ob.Kinds = w.kinds[t]
		}
	}
	for t, ob := range w.out {
		ob.N = int(w.counts[t])
		if ob.N == 0 {
			ob.Release()
			continue
		}
		if err := w.send(t, ob); err != nil {
			for _, rest := range w.out[t+1:] {
				rest.Release()
			}
			return err
		}
	}
	return nil
}

func (w *writer) send(t int, b *Batch) error {
	if w.metrics != nil {
		w.metrics.RowsOut.Add(b.Len())
	}
	if !w.targets[t].push(w.lanes[t], Message{Kind: MsgBatch, Batch: b}, w.clock()) {
		b.Release()
		return errStopped
	}
	return nil
}

// control sends a control message to every target (to the one target of a
// forward edge).
func (w *writer) control(m Message) error {
	if w.part == Forward {
		if !w.targets[w.self].push(w.lanes[w.self], m, w.clock()) {
			return errStopped
		}
		return nil
	}
	if w.part == Global {
		if !w.targets[0].push(w.lanes[0], m, w.clock()) {
			return errStopped
		}
		return nil
	}
	for t := range w.targets {
		if !w.targets[t].push(w.lanes[t], m, w.clock()) {
			return errStopped
		}
	}
	return nil
}

// clock is the busy/idle/backpressured clock of the sending subtask.
func (w *writer) clock() *taskClock {
	if w.metrics == nil {
		return nil
	}
	return w.metrics.clock.Load()
}

func (w *writer) cursor(p int) []int32 {
	w.cur = resize(w.cur, p)
	clear(w.cur)
	return w.cur
}

// scatter copies the present rows of src to dst[dest[i]], in order.
func scatter[T any](dst [][]T, src []T, dest, sel []int32, cur []int32) {
	if sel == nil {
		for i, t := range dest {
			dst[t][cur[t]] = src[i]
			cur[t]++
		}
		return
	}
	for i, t := range dest {
		dst[t][cur[t]] = src[sel[i]]
		cur[t]++
	}
}
