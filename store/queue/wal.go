package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"

	"github.com/sluicehq/sluice/internal/atomicfile"
)

// wal is the append-only messages.log of one queue with group commit.
// Records are queued by enqueue (under the queue's lock, so the file's
// order is the order in which the queue changed) and made durable by
// wait: the first waiter that finds no write under way writes and fsyncs
// everything queued, batch after batch, until nothing is left; the others
// wait for the batch holding their records.
type wal struct {
	path  string
	fsync bool

	mu       sync.Mutex
	f        *os.File // used by the caller that set flushing
	size     int64    // bytes of the file that hold whole, written frames; written under mu by the flusher
	buf      []byte
	spare    []byte
	cur      *batch
	flushing bool
	idle     *sync.Cond // on mu: signalled when flushing ends
	closed   bool
}

// batch is the records of one group commit; done is closed once they are
// written (and fsync'd), err then says how it went.
type batch struct {
	done chan struct{}
	err  error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// openWAL opens (creating) the log at path and replays it through apply.
// A torn tail is cut (and reported through logf); damage before it is an error.
func openWAL(path string, fsync bool, apply func(record) error, logf func(string, ...any)) (*wal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open queue log %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot read queue log %s: %w", path, err)
	}
	off := 0
	for off < len(data) {
		rest := data[off:]
		n := -1
		if len(rest) >= frameHeader {
			n = int(binary.LittleEndian.Uint32(rest))
		}
		if n <= 0 || frameHeader+n > len(rest) || crc32.Checksum(rest[frameHeader:frameHeader+n], crcTable) != binary.LittleEndian.Uint32(rest[4:]) {
			if n > 0 && frameHeader+n < len(rest) { // a whole frame that fails, with bytes after it
				f.Close()
				return nil, fmt.Errorf("queue log %s is damaged at offset %d: a frame of %d bytes fails its checksum", path, off, n)
			}
			logf("queue log %s: cutting a torn tail of %d bytes at offset %d (a write that was never acknowledged)", path, len(rest), off)
			if err := f.Truncate(int64(off)); err != nil {
				f.Close()
				return nil, fmt.Errorf("cannot cut the torn tail of %s: %w", path, err)
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return nil, fmt.Errorf("cannot cut the torn tail of %s: %w", path, err)
			}
			break
		}
		rec, err := decodeRecord(rest[frameHeader : frameHeader+n])
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("queue log %s is damaged at offset %d: %v", path, off, err)
		}
		if err := apply(rec); err != nil {
			f.Close()
			return nil, err
		}
		off += frameHeader + n
	}
	w := &wal{path: path, fsync: fsync, f: f, size: int64(off), cur: newBatch()}
	w.idle = sync.NewCond(&w.mu)
	return w, nil
}

// enqueue queues frames (whole frames) for the next group commit and
// returns its batch. The caller holds its queue's lock.
func (w *wal) enqueue(frames []byte) *batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, frames...)
	return w.cur
}

// wait returns once b is written, with its error.
func (w *wal) wait(b *batch) error {
	w.mu.Lock()
	select {
	case <-b.done:
		w.mu.Unlock()
		return b.err
	default:
	}
	if b == w.cur && len(w.buf) == 0 { // nothing queued in it
		w.mu.Unlock()
		return nil
	}
	if w.flushing {
		w.mu.Unlock()
		<-b.done
		return b.err
	}
	w.flushing = true
	w.mu.Unlock()
	w.flushAll()
	<-b.done
	return b.err
}

// flushAll writes batches until none is queued; the caller set flushing.
func (w *wal) flushAll() {
	for {
		w.mu.Lock()
		if len(w.buf) == 0 {
			w.flushing = false
			w.idle.Broadcast()
			w.mu.Unlock()
			return
		}
		buf, b := w.buf, w.cur
		w.buf, w.spare, w.cur = w.spare[:0], nil, newBatch()
		w.mu.Unlock()
		b.err = w.write(buf)
		close(b.done)
		w.mu.Lock()
		if w.spare == nil && cap(buf) <= 1<<20 {
			w.spare = buf[:0]
		}
		w.mu.Unlock()
	}
}

// write appends buf to the file and fsyncs it. On failure the bytes are
// cut off again, so that later frames follow whole ones.
func (w *wal) write(buf []byte) error {
	if w.closed {
		return ErrClosed
	}
	_, err := w.f.WriteAt(buf, w.size)
	if err == nil && w.fsync {
		err = w.f.Sync()
	}
	if err != nil {
		_ = w.f.Truncate(w.size)
		return fmt.Errorf("%w: queue log %s: %v", ErrUnavailable, w.path, err)
	}
	w.mu.Lock() // read by maybeCompact
	w.size += int64(len(buf))
	w.mu.Unlock()
	return nil
}

// rewrite replaces the file by snapshot (whole frames holding the queue's
// live state, which includes the effect of every queued record) and
// completes the queued batch. It is called with the queue's lock held;
// it does nothing (reporting false) while a group commit is under way.
func (w *wal) rewrite(snapshot []byte) bool {
	w.mu.Lock()
	if w.flushing || w.closed {
		w.mu.Unlock()
		return false
	}
	w.flushing = true
	buf, b := w.buf, w.cur
	w.buf, w.cur = nil, newBatch()
	w.mu.Unlock()
	err := w.replace(snapshot)
	if err != nil { // keep the old file; write the queued records to it
		err = nil
		if len(buf) > 0 {
			err = w.write(buf)
		}
	}
	b.err = err
	close(b.done)
	w.mu.Lock()
	w.flushing = false
	w.idle.Broadcast()
	w.mu.Unlock()
	return true
}

func (w *wal) replace(snapshot []byte) error {
	tmp := w.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(snapshot); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := os.Rename(tmp, w.path); err != nil {
		f.Close()
		return err
	}
	if err := atomicfile.SyncDir(filepath.Dir(w.path)); err != nil {
		// The rename may or may not survive a crash; either file holds
		// the queue's state, so go on with the new one.
		_ = err
	}
	w.f.Close()
	w.mu.Lock()
	w.f, w.size = f, int64(len(snapshot))
	w.mu.Unlock()
	return nil
}

// close writes what is queued and closes the file.
// The caller has stopped queueing records.
func (w *wal) close() error {
	w.mu.Lock()
	b := w.cur
	w.mu.Unlock()
	err := w.wait(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.flushing {
		w.idle.Wait()
	}
	if w.closed {
		return nil
	}
	w.closed = true
	return errors.Join(err, w.f.Close())
}
