package log

import (
	"crypto/rand"
	"fmt"
	"runtime"
)

// Append appends records (with optional per-record headers: headers is nil
// or as long as records) and returns the sequence number of the first one;
// the others follow consecutively. It returns only once the records are
// durable as Options.Fsync says. It is safe for concurrent use. The log does
// not keep records or headers after Append returns.
func (l *Log) Append(records [][]byte, headers [][]byte) (firstSeq uint64, err error) {
	r, err := l.newRequest(records, headers)
	if err != nil {
		return 0, err
	}
	r.done = make(chan error, 1)
	queued, err := l.send(r)
	if err != nil {
		return 0, err
	}
	if !queued {
		return l.NextSeq(), nil
	}
	if err := <-r.done; err != nil {
		return 0, err
	}
	return r.first, nil
}

// AppendAsync is Append without the wait: it queues the records and
// returns; the log's writer calls done once they are durable as
// Options.Fsync says, with the first sequence number, or with the error
// Append would return. If AppendAsync returns an error, done is never
// called; for no records, done is called before AppendAsync returns. done
// runs on the writer goroutine, so it must be quick and must not call the
// Log. The caller must not change records or headers until done is called;
// the log does not keep them afterwards.
func (l *Log) AppendAsync(records [][]byte, headers [][]byte, done func(firstSeq uint64, err error)) error {
	r, err := l.newRequest(records, headers)
	if err != nil {
		return err
	}
	r.cb = done
	queued, err := l.send(r)
	if err != nil {
		return err
	}
	if !queued {
		done(l.NextSeq(), nil)
	}
	return nil
}

// newRequest checks records and headers and sizes their frames.
func (l *Log) newRequest(records [][]byte, headers [][]byte) (*request, error) {
	if headers != nil && len(headers) != len(records) {
		return nil, fmt.Errorf("log: %d headers for %d records", len(headers), len(records))
	}
	r := &request{data: records, hdrs: headers}
	for i, d := range records {
		var h []byte
		if headers != nil {
			h = headers[i]
		}
		if len(d) > l.opts.MaxRecordBytes {
			return nil, fmt.Errorf("%w: record %d has %d bytes (limit %d)", ErrTooLarge, i, len(d), l.opts.MaxRecordBytes)
		}
		if len(h) > maxHeaderBytes {
			return nil, fmt.Errorf("%w: header %d has %d bytes (limit %d)", ErrTooLarge, i, len(h), maxHeaderBytes)
		}
		r.bytes += frameSize(h, d)
	}
	return r, nil
}

// send queues r for the writer. It says queued = false, with no error, for
// a request without records, which needs no writing.
func (l *Log) send(r *request) (queued bool, err error) {
	l.sendMu.RLock()
	defer l.sendMu.RUnlock()
	if !l.sending {
		if l.readOnly != nil {
			return false, fmt.Errorf("%w: %w", ErrReadOnly, l.readOnly)
		}
		return false, ErrClosed
	}
	if len(r.data) == 0 {
		return false, nil
	}
	l.reqs <- r
	return true, nil
}

// flusher is the only writer. It takes every queued request (up to
// MaxBatchBytes), writes them with one write and one fsync, publishes the
// records to readers and acknowledges the requests.
func (l *Log) flusher() {
	defer l.wg.Done()
	var batch []*request
	prev := 0 // size of the previous batch
	for r := range l.reqs {
		batch = append(batch[:0], r)
		n := r.bytes
		// The appenders acked by the previous commit are waking up: give
		// them a few scheduler turns to queue, or commits alternate between
		// big and tiny batches.
	gather:
		for spins := 0; n < l.opts.MaxBatchBytes; {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				n += r.bytes
				continue
			default:
			}
			if spins >= maxSpins || len(batch) >= prev || l.opts.Fsync == FsyncNever {
				break
			}
			spins++
			runtime.Gosched()
		}
		prev = len(batch)
		l.commit(batch)
		clear(batch)
		l.batches.Add(1)
	}
}

// maxSpins bounds how many scheduler turns the flusher gives appenders to
// join a commit.
const maxSpins = 4

// commit writes a batch and acknowledges its requests. When a write, fsync
// or segment roll fails, the requests not yet published are refused with
// ErrUnavailable, the bytes written for them are cut off again, and the
// writer carries on with the next batch: a full disk or an exhausted
// descriptor table refuses appends while it lasts, and only then. The
// start and the end of such an episode are logged once each.
func (l *Log) commit(batch []*request) {
	err := l.cleanup()
	done := 0
	if err == nil {
		if done, err = l.writeBatch(batch); err != nil {
			l.resetWriter()
			if cerr := l.cleanup(); cerr != nil {
				err = fmt.Errorf("%w (and cannot cut off what was written: %v)", err, cerr)
			}
		}
	}
	if err != nil {
		if l.refusing == 0 {
			l.opts.Logf("log %s: refusing appends, retrying at each append: %v", l.dir, err)
		}
		l.refusing += len(batch) - done
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else if l.refusing > 0 {
		l.opts.Logf("log %s: writes resumed after %d refused appends", l.dir, l.refusing)
		l.refusing = 0
	}
	for i, r := range batch {
		if i < done {
			r.ack(nil)
		} else {
			r.ack(err)
		}
	}
}

// resetWriter forgets what the writer did since its last publish.
func (l *Log) resetWriter() {
	w := &l.w
	s := w.seg
	w.size, w.next, w.firstTs = s.size, s.next, s.firstTs
	w.lastTs = max(w.lastTs, s.lastTs)
	w.lastIdx = -1
	if n := len(s.index); n > 0 {
		w.lastIdx = s.index[n-1].off
	}
	w.newIdx = w.newIdx[:0]
	w.buf = w.buf[:0]
	l.dirty = true
}

// cleanup cuts the newest segment back to its published size after a
// failed write, so the next frame starts where the last acknowledged one
// ends.
func (l *Log) cleanup() error {
	if !l.dirty {
		return nil
	}
	s := l.w.seg
	if err := s.f.Truncate(l.w.size); err != nil {
		return fmt.Errorf("cannot truncate segment %s to %d: %w", s.path, l.w.size, err)
	}
	if err := l.sync(s.f); err != nil {
		return fmt.Errorf("cannot fsync segment %s: %w", s.path, err)
	}
	l.dirty = false
	return nil
}

// writeBatch writes and publishes a batch. It returns how many of its
// requests (from the first) were published, all of them unless it fails.
func (l *Log) writeBatch(batch []*request) (int, error) {
	w := &l.w
	w.buf = w.buf[:0]
	published := 0
	total := 0
	for _, r := range batch {
		total += len(r.data)
	}
	if need := w.next + uint64(total); need > l.hw.limit {
		if err := l.reserve(need); err != nil {
			return 0, err
		}
	}
	if err := l.switchKey(); err != nil {
		return 0, err
	}
	w.nonces = w.nonces[:0] // a nonce is never used twice
	nonce := 0              // next unused nonce in w.nonces
	for k, r := range batch {
		size := r.bytes
		if w.seg.enc != nil {
			size += sealOverhead * len(r.data)
		}
		if w.size+int64(len(w.buf)+size) > l.opts.SegmentBytes && w.size+int64(len(w.buf)) > w.seg.start {
			if err := l.flushBuf(true); err != nil {
				return published, err
			}
			published = k
			if err := l.roll(); err != nil {
				return published, err
			}
		}
		ts := l.opts.Now()
		if ts < w.lastTs {
			ts = w.lastTs
		}
		r.first = w.next
		for i, d := range r.data {
			var h []byte
			if r.hdrs != nil {
				h = r.hdrs[i]
			}
			off := w.size + int64(len(w.buf))
			if w.lastIdx < 0 || off-w.lastIdx >= int64(l.opts.IndexInterval) {
				w.newIdx = append(w.newIdx, indexEntry{seq: w.next, off: off, ts: ts})
				w.lastIdx = off
			}
			if w.next == w.seg.base {
				w.firstTs = ts
			}
			if c := w.seg.enc; c != nil {
				if nonce == len(w.nonces)/nonceSize {
					w.nonces = freshNonces(w.nonces, total)
					nonce = 0
				}
				w.buf = appendSealedFrame(w.buf, c, w.nonces[nonce*nonceSize:(nonce+1)*nonceSize], w.next, ts, h, d)
				nonce++
			} else {
				w.buf = appendFrame(w.buf, w.next, ts, h, d)
			}
			w.next++
		}
		w.lastTs = ts
		if l.opts.Fsync == FsyncAlways {
			if err := l.flushBuf(false); err != nil {
				return published, err
			}
		}
	}
	if err := l.flushBuf(true); err != nil {
		return published, err
	}
	return len(batch), nil
}

// flushBuf writes the buffered frames, fsyncs them and, if publish is set,
// makes them visible to readers.
func (l *Log) flushBuf(publish bool) error {
	w := &l.w
	if len(w.buf) > 0 {
		if _, err := w.seg.f.WriteAt(w.buf, w.size); err != nil {
			l.dirty = true // part of it may be in the file
			return fmt.Errorf("cannot write segment %s: %w", w.seg.path, err)
		}
		w.size += int64(len(w.buf))
		w.buf = w.buf[:0]
		if cap(w.buf) > 2*l.opts.MaxBatchBytes {
			w.buf = nil // an outsized Append: do not keep its buffer
		}
		if err := l.sync(w.seg.f); err != nil {
			return fmt.Errorf("cannot fsync segment %s: %w", w.seg.path, err)
		}
	}
	if publish {
		l.mu.Lock()
		s := w.seg
		s.size, s.next, s.firstTs, s.lastTs = w.size, w.next, w.firstTs, w.lastTs
		s.index = append(s.index, w.newIdx...)
		l.wake()
		l.mu.Unlock()
		w.newIdx = w.newIdx[:0]
	}
	return nil
}

// freshNonces fills buf with random nonces for n frames, one read of the
// random source per batch.
func freshNonces(buf []byte, n int) []byte {
	if cap(buf) < n*nonceSize {
		buf = make([]byte, n*nonceSize)
	}
	buf = buf[:n*nonceSize]
	rand.Read(buf) // never fails (it crashes the program instead)
	return buf
}

// switchKey makes the newest segment's key the one SetEncryption set, by
// rolling to a new segment, or by rewriting the newest one when it holds
// no record yet.
func (l *Log) switchKey() error {
	w := &l.w
	k := l.wkey.Load()
	want := ""
	if k != nil {
		want = k.id
	}
	if w.seg.enc.id() == want {
		return nil
	}
	if w.next != w.seg.base {
		return l.roll()
	}
	// The newest segment holds no record (damage found in it at Open lost
	// none, or next would be past base), and a new one could not take its
	// name: replace it by a new file of that name, renamed over it, so a
	// crash leaves one or the other.
	old := w.seg
	tmp := old.path + ".tmp"
	l.opts.fs.Remove(tmp)
	s, err := l.createSegmentAt(tmp, old.base, k)
	if err != nil {
		return err
	}
	if err := l.opts.fs.Rename(tmp, old.path); err != nil {
		s.f.Close()
		l.opts.fs.Remove(tmp)
		return fmt.Errorf("cannot replace segment %s: %w", old.path, err)
	}
	if err := l.syncDir(); err != nil {
		// The rename may or may not last: either file is an empty
		// segment of this base, so go on with the new one.
		l.opts.Logf("log %s: cannot sync folder after replacing %s: %v", l.dir, old.path, err)
	}
	s.path = old.path
	l.mu.Lock()
	l.segs[len(l.segs)-1] = s
	l.mu.Unlock()
	old.unref()
	w.seg, w.size, w.lastIdx = s, s.size, -1
	return nil
}

func (l *Log) roll() error {
	s, err := l.createSegment(l.w.next, l.wkey.Load())
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	l.w.seg, l.w.size, l.w.lastIdx = s, s.size, -1
	return nil
}
