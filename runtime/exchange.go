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
	for i, h := range w.hashes {
		w.dest[i] = int32(SubtaskForKeyGroup(KeyGroup(h), p))
	}
	if cap(w.out) < p {
		w.out = make([]*Batch, p)
	}
	w.out = w.out[:p]
	for t := range w.out {
		w.out[t] = NewBatch(w.schema)
	}
	for c := range b.Cols {
		src := &b.Cols[c]
		switch src.Type.Physical() {
		case PhysFloat:
			for i, t := range w.dest {
				o := &w.out[t].Cols[c]
				o.F64 = append(o.F64, src.F64[b.Row(i)])
			}
		case PhysString:
			for i, t := range w.dest {
				o := &w.out[t].Cols[c]
				o.Str = append(o.Str, src.Str[b.Row(i)])
			}
		default:
			for i, t := range w.dest {
				o := &w.out[t].Cols[c]
				o.I64 = append(o.I64, src.I64[b.Row(i)])
			}
		}
		if src.Null != nil {
			for t := range w.out {
				w.out[t].Cols[c].Null = make([]bool, 0, n/p+16)
			}
			for i, t := range w.dest {
				o := &w.out[t].Cols[c]
				o.Null = append(o.Null, src.Null[b.Row(i)])
			}
		}
	}
	for t, ob := range w.out {
		ob.N = ob.Cols[0].Len()
		if len(ob.Cols) == 0 {
			ob.N = 0
		}
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
	if !w.targets[t].push(w.lanes[t], Message{Kind: MsgBatch, Batch: b}) {
		b.Release()
		return errStopped
	}
	return nil
}

// control sends a control message to every target (to the one target of a
// forward edge).
func (w *writer) control(m Message) error {
	if w.part == Forward {
		if !w.targets[w.self].push(w.lanes[w.self], m) {
			return errStopped
		}
		return nil
	}
	if w.part == Global {
		if !w.targets[0].push(w.lanes[0], m) {
			return errStopped
		}
		return nil
	}
	for t := range w.targets {
		if !w.targets[t].push(w.lanes[t], m) {
			return errStopped
		}
	}
	return nil
}
