package log

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// view is a reader's snapshot of a segment's published extent; the reader
// holds a reference on seg until it calls release.
type view struct {
	seg  *segment
	off  int64  // where to start scanning
	size int64  // readable bytes
	next uint64 // one past the last readable seq
}

// Read returns acknowledged records from fromSeq on: at most maxRecords
// records and, beyond the first record, at most maxBytes of payload and
// header (the first record is returned whatever its size, so a reader always
// progresses). nextSeq is the sequence number to read next. Reading at or
// past NextSeq returns no records and nextSeq = fromSeq; reading before
// FirstSeq returns ErrTrimmed. Sequence numbers of the records returned
// are increasing but may have gaps where damage lost records: at such
// damage Read stops, returning the records before it and then a
// *CorruptError once it has none, or skips it, as Options.OnCorruption
// says. The returned records are owned by the caller.
func (l *Log) Read(fromSeq uint64, maxRecords, maxBytes int) ([]Record, uint64, error) {
	views, err := l.snapshot(fromSeq)
	if err != nil {
		return nil, fromSeq, err
	}
	defer release(views)
	var out []Record
	bytes := 0
	seq := fromSeq
	for k, v := range views {
		if len(out) >= maxRecords || (len(out) > 0 && bytes >= maxBytes) {
			break
		}
		if seq < v.seg.base {
			if k > 0 && seq < views[k-1].next {
				break // stopped at damage in the previous segment
			}
			// Sequence numbers skipped after a crash (see the package
			// doc): reconcile made every other gap damage.
			seq = v.seg.base
		}
		out, bytes, seq, err = l.readView(v, seq, out, bytes, maxRecords, maxBytes)
		if err != nil {
			return out, seq, err
		}
	}
	return out, seq, nil
}

// snapshot returns views of the segments holding fromSeq and after.
func (l *Log) snapshot(fromSeq uint64) ([]view, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	if len(l.segs) == 0 || fromSeq < l.segs[0].base {
		return nil, ErrTrimmed
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > fromSeq }) - 1
	var views []view
	for ; i < len(l.segs); i++ {
		s := l.segs[i]
		if fromSeq >= s.next {
			continue
		}
		off := s.start
		if k := sort.Search(len(s.index), func(k int) bool { return s.index[k].seq > fromSeq }) - 1; k >= 0 {
			off = s.index[k].off
		}
		s.refs.Add(1)
		views = append(views, view{seg: s, off: off, size: s.size, next: s.next})
	}
	return views, nil
}

func release(views []view) {
	for _, v := range views {
		v.seg.unref()
	}
}

// readView appends the records of v from seq on until the limits or its
// end. At damage found at Open it stops (returning what it has, or a
// *CorruptError when it has nothing) or skips, as Options.OnCorruption says.
func (l *Log) readView(v view, seq uint64, out []Record, bytes, maxRecords, maxBytes int) ([]Record, int, uint64, error) {
	if seq >= v.next || seq < v.seg.base {
		return out, bytes, seq, nil
	}
	sc := newScanner(v)
	var met *damage
	for seq < v.next && len(out) < maxRecords {
		if d := v.seg.damageAt(sc.pos); d != nil && d != met {
			met = d
			if seq < d.NextSeq {
				if l.opts.OnCorruption != CorruptionSkip {
					if len(out) > 0 {
						return out, bytes, seq, nil
					}
					return out, bytes, seq, d.err(seq)
				}
				l.logSkip(d, seq)
				seq = d.NextSeq
			}
			if d.end > sc.pos {
				sc.skipTo(d.end)
			}
			continue
		}
		rec, err := sc.next()
		if err == nil && rec.Seq > seq {
			err = errBadFrame
		}
		if err != nil {
			return out, bytes, seq, sc.err(err)
		}
		if rec.Seq < seq {
			continue
		}
		size := len(rec.Data) + len(rec.Header)
		if len(out) > 0 && bytes+size > maxBytes {
			return out, maxBytes, seq, nil
		}
		out = append(out, rec)
		bytes += size
		seq++
	}
	return out, bytes, seq, nil
}

// skipLogEvery bounds how often one damaged region's skip is logged.
const skipLogEvery = 60_000 // ms

// logSkip logs that a reader skipped damage, at most once a minute per
// damaged region.
func (l *Log) logSkip(d *damage, seq uint64) {
	now := time.Now().UnixMilli()
	last := d.logged.Load()
	if last != 0 && now-last < skipLogEvery || !d.logged.CompareAndSwap(last, now) {
		return
	}
	l.opts.Logf("log %s: reader skipped damaged records %d to %d (%s at offset %d)", l.dir, max(seq, d.FirstSeq), d.NextSeq-1, d.File, d.Offset)
}

// scanner reads the frames of a view one by one.
type scanner struct {
	v   view
	br  *bufio.Reader
	off int64 // offset of the frame being read
	pos int64 // offset after it

	reuse bool   // the Record of next aliases buf, valid until the next call
	buf   []byte // reused body buffer
}

func newScanner(v view) *scanner {
	// A reader at the tail reads a few small frames: size the buffer for
	// what the view holds, up to 64 KiB.
	size := int(min(v.size-v.off, 64<<10))
	return &scanner{v: v, off: v.off, pos: v.off,
		br: bufio.NewReaderSize(io.NewSectionReader(v.seg.f, v.off, v.size-v.off), size)}
}

// skipTo moves the scanner to offset off of its view.
func (sc *scanner) skipTo(off int64) {
	sc.off, sc.pos = off, off
	sc.br.Reset(io.NewSectionReader(sc.v.seg.f, off, max(sc.v.size-off, 0)))
}

// next returns the next frame; its slices are freshly allocated.
func (sc *scanner) next() (Record, error) {
	sc.off = sc.pos
	var head [frameHeadSize]byte
	if _, err := io.ReadFull(sc.br, head[:]); err != nil {
		return Record{}, err
	}
	n, err := frameBodyLen(head[:])
	if err != nil {
		return Record{}, err
	}
	var body []byte
	if sc.reuse {
		if cap(sc.buf) < n {
			sc.buf = make([]byte, n)
		}
		body = sc.buf[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(sc.br, body); err != nil {
		return Record{}, err
	}
	sc.pos += int64(frameHeadSize + n)
	return decodeBody(head[:], body, sc.v.seg.enc, true)
}

// err turns a failure at the current frame into an error naming the place.
func (sc *scanner) err(err error) error {
	if errors.Is(err, errAuthFrame) {
		return &CorruptError{File: sc.v.seg.path, Offset: sc.off, Reason: "frame failed authentication while reading (bytes changed)"}
	}
	if isBadFrame(err) {
		return &CorruptError{File: sc.v.seg.path, Offset: sc.off, Reason: "bad frame found while reading"}
	}
	return fmt.Errorf("cannot read segment %s at %d: %w", sc.v.seg.path, sc.off, err)
}

// isBadFrame tells a malformed or cut-short frame from an I/O failure.
func isBadFrame(err error) bool {
	return errors.Is(err, errBadFrame) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// SeekTimestamp returns the sequence number of the first record whose
// arrival timestamp is at or after ms, or NextSeq if there is none (as an
// AT_TIMESTAMP iterator). Timestamps are non-decreasing, so this is the
// boundary between older and newer records.
func (l *Log) SeekTimestamp(ms int64) (uint64, error) {
	v, seq, found, err := l.seekView(ms)
	if err != nil || !found {
		return seq, err
	}
	defer v.seg.unref()
	sc := newScanner(v)
	var met *damage
	var lost uint64 // first record lost to damage just passed, 0 if none
	for seq < v.next {
		if d := v.seg.damageAt(sc.pos); d != nil && d != met {
			met = d
			if seq < d.NextSeq {
				if lost == 0 {
					lost = max(seq, d.FirstSeq)
				}
				seq = d.NextSeq
			}
			if d.end > sc.pos {
				sc.skipTo(d.end)
			}
			continue
		}
		rec, err := sc.next()
		if err == nil && rec.Seq != seq {
			err = errBadFrame
		}
		if err != nil {
			return 0, sc.err(err)
		}
		if rec.Timestamp >= ms {
			if lost != 0 {
				// The wanted record may be among the lost ones: start
				// there, so the reader meets the damage.
				return lost, nil
			}
			return seq, nil
		}
		lost = 0
		seq++
	}
	if lost != 0 {
		return lost, nil
	}
	// Unreachable while timestamps are non-decreasing: the segment's
	// newest record is at or after ms.
	return v.next, nil
}

// seekView finds the first segment whose newest record is at or after ms
// and the indexed position to scan it from. If there is none it returns
// found = false and NextSeq.
func (l *Log) seekView(ms int64) (view, uint64, bool, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return view{}, 0, false, ErrClosed
	}
	for _, s := range l.segs {
		if s.next == s.base || s.lastTs < ms {
			continue
		}
		v := view{seg: s, off: s.start, size: s.size, next: s.next}
		seq := s.base
		if k := sort.Search(len(s.index), func(k int) bool { return s.index[k].ts >= ms }) - 1; k >= 0 {
			v.off, seq = s.index[k].off, s.index[k].seq
		}
		s.refs.Add(1)
		return v, seq, true, nil
	}
	if len(l.segs) == 0 {
		return view{}, 1, false, nil
	}
	return view{}, l.segs[len(l.segs)-1].next, false, nil
}
