package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FsyncMode says when an Append is acknowledged.
type FsyncMode int

const (
	// FsyncGroup (the default) batches concurrent Append calls into one write
	// and one fsync; each is acknowledged after that fsync.
	FsyncGroup FsyncMode = iota
	// FsyncAlways fsyncs once per Append call before acknowledging it.
	FsyncAlways
	// FsyncNever acknowledges after the write reaches the OS, without fsync.
	// UNSAFE: acknowledged records can be lost on power failure or OS crash.
	FsyncNever
)

// ParseFsyncMode parses "group", "always" or "never".
func ParseFsyncMode(s string) (FsyncMode, error) {
	switch s {
	case "group", "":
		return FsyncGroup, nil
	case "always":
		return FsyncAlways, nil
	case "never":
		return FsyncNever, nil
	}
	return 0, fmt.Errorf("invalid fsync mode %q (want group, always or never)", s)
}

// Defaults of Options; zero fields take these.
const (
	DefaultSegmentBytes   = 64 << 20
	DefaultIndexInterval  = 4 << 10
	DefaultMaxRecordBytes = 1 << 20
	DefaultMaxBatchBytes  = 4 << 20
)

// Options configure a Log. The zero value is the default.
type Options struct {
	SegmentBytes   int64     // roll the newest segment at this size
	IndexInterval  int       // bytes between sparse index entries
	Fsync          FsyncMode // when Append is acknowledged
	MaxRecordBytes int       // largest payload accepted by Append
	MaxBatchBytes  int       // most bytes one group commit writes
	Now            func() int64
	// OnCorruption says what Read does at records lost to damage found at
	// Open: CorruptionStop (the default) returns a *CorruptError there,
	// CorruptionSkip continues at the next intact record and logs the skip.
	OnCorruption CorruptionPolicy
	// Logf receives the log's reports (torn tails cut, damage found at
	// Open, skipped damage, refused and resumed writes), one line per call
	// without a trailing newline; nil writes them to standard error.
	Logf func(format string, args ...any)
	// Keys returns the material (KeyBytes bytes) of the key an encrypted
	// segment names by id; Open fails with ErrKey when it cannot. nil:
	// no key is known.
	Keys func(keyID string) ([]byte, error)

	fs fileSystem // nil: the real one; tests inject faults here
}

// CorruptionPolicy says what readers do at damaged records.
type CorruptionPolicy int

const (
	// CorruptionStop makes Read return a *CorruptError at the first
	// damaged record, so a reader never passes over lost records unseen.
	CorruptionStop CorruptionPolicy = iota
	// CorruptionSkip makes Read continue at the next intact record after
	// damage (the sequence numbers of the lost records are skipped) and
	// log the skip.
	CorruptionSkip
)

// ParseCorruptionPolicy parses "stop" or "skip".
func ParseCorruptionPolicy(s string) (CorruptionPolicy, error) {
	switch s {
	case "stop", "":
		return CorruptionStop, nil
	case "skip":
		return CorruptionSkip, nil
	}
	return 0, fmt.Errorf("invalid corruption policy %q (want stop or skip)", s)
}

func (p CorruptionPolicy) String() string {
	if p == CorruptionSkip {
		return "skip"
	}
	return "stop"
}

func (o *Options) setDefaults() {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.IndexInterval <= 0 {
		o.IndexInterval = DefaultIndexInterval
	}
	if o.MaxRecordBytes <= 0 || o.MaxRecordBytes > maxBodySize-bodyFixedSize-maxHeaderBytes {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.Now == nil {
		o.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if o.Logf == nil {
		o.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	if o.fs == nil {
		o.fs = osFS{}
	}
}

var (
	// ErrClosed is returned by calls on a closed Log.
	ErrClosed = errors.New("log: closed")
	// ErrReadOnly is returned by Append and DeleteBefore on a Log opened
	// with corruption; the error also wraps the *CorruptError.
	ErrReadOnly = errors.New("log: read-only after corruption")
	// ErrTrimmed is returned by Read for a sequence number removed by
	// retention (before FirstSeq).
	ErrTrimmed = errors.New("log: sequence number trimmed by retention")
	// ErrTooLarge is returned by Append for an oversized record or header.
	ErrTooLarge = errors.New("log: record too large")
	// ErrUnavailable is returned by Append while the log cannot write
	// (disk full, no file descriptors, failing fsync): nothing of the
	// refused records was acknowledged or kept, and the log retries by
	// itself on the next Append. The error also wraps the cause.
	ErrUnavailable = errors.New("log: cannot write now")
)

// CorruptError reports damaged bytes: at Open, segments that cannot be
// reconciled (see the package doc); from Read, records lost to damage when
// Options.OnCorruption is CorruptionStop, or a frame that went bad after
// Open. Seq and Next, when set, are the range [Seq, Next) of sequence
// numbers the damage affects.
type CorruptError struct {
	File      string
	Offset    int64
	Reason    string
	Seq, Next uint64
}

// Damage is one damaged region found at Open: Length bytes of File from
// Offset hold no intact frame, and the records with sequence numbers
// [FirstSeq, NextSeq) are lost to it. Exact is false when the range is an
// upper bound (damage at the end of the newest segment, where nothing
// after it tells how many records it held). A region with FirstSeq ==
// NextSeq lost no record (a bad segment header, junk between frames).
type Damage struct {
	File     string
	Offset   int64
	Length   int64
	FirstSeq uint64
	NextSeq  uint64
	Exact    bool
	Reason   string
}

// Records says which records a damage affects, for log lines.
func (d Damage) Records() string {
	n := d.NextSeq - d.FirstSeq
	switch {
	case n == 0:
		return "no record lost"
	case d.Exact && n == 1:
		return fmt.Sprintf("record %d lost", d.FirstSeq)
	case d.Exact:
		return fmt.Sprintf("%d records lost (%d to %d)", n, d.FirstSeq, d.NextSeq-1)
	}
	return fmt.Sprintf("up to %d records lost (%d to %d; sequence numbers past them are not reused)", n, d.FirstSeq, d.NextSeq-1)
}

// damage is a Damage of a segment and where readers meet it.
type damage struct {
	Damage
	at, end int64        // readers at offset at continue at end
	logged  atomic.Int64 // Unix ms of the last skip logged, for rate limiting
}

func (d *damage) err(seq uint64) *CorruptError {
	return &CorruptError{File: d.File, Offset: d.Offset, Reason: d.Reason, Seq: max(seq, d.FirstSeq), Next: d.NextSeq}
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("log: corrupt segment %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

type indexEntry struct {
	seq uint64
	off int64
	ts  int64
}

// segment is one file. path, base and f are immutable; the other fields are
// guarded by Log.mu.
type segment struct {
	path    string
	base    uint64
	f       file
	refs    atomic.Int32 // the segment list holds one; each reader one
	next    uint64       // one past the last readable seq
	size    int64        // readable bytes
	firstTs int64
	lastTs  int64
	index   []indexEntry
	damage  []*damage // found at Open, by offset; immutable afterwards

	start  int64      // offset of the first frame (the header's size); immutable
	enc    *segCipher // nil: plaintext; immutable
	broken bool       // newest at Open with an unreadable encrypted header: never written
}

// damageAt returns the damage readers meet at offset off, if any.
func (s *segment) damageAt(off int64) *damage {
	for _, d := range s.damage {
		if d.at == off {
			return d
		}
	}
	return nil
}

func (s *segment) addDamage(off, end int64, first, next uint64, exact bool, reason string) *damage {
	d := &damage{Damage: Damage{File: s.path, Offset: off, Length: end - off, FirstSeq: first, NextSeq: next, Exact: exact, Reason: reason},
		at: max(off, s.start), end: max(end, s.start)}
	s.damage = append(s.damage, d)
	return d
}

// request is one Append or AppendAsync call queued for the writer; it is
// acknowledged on done or by calling cb, whichever is set.
type request struct {
	data  [][]byte
	hdrs  [][]byte
	bytes int
	first uint64
	done  chan error
	cb    func(first uint64, err error)
}

func (r *request) ack(err error) {
	if r.cb != nil {
		r.cb(r.first, err)
		return
	}
	r.done <- err
}

// Log is the durable log of one shard. See the package doc.
//
// Lock order: sendMu before mu. mu guards the segment list and the published
// fields of segments (size, next, timestamps, index); it is held only to
// snapshot or publish them, never during file I/O. Readers take a reference
// on the segments they read (segment.refs), so retention and Close never
// close a file under a reader. The writer state w is owned by the flusher
// goroutine.
type Log struct {
	dir  string
	opts Options

	mu       sync.RWMutex
	segs     []*segment
	readOnly error // non-nil: opened with corruption
	closed   bool
	changed  chan struct{} // closed at the next publish; nil until someone waits (see Changed)

	sendMu  sync.RWMutex
	sending bool // accepting appends
	reqs    chan *request
	wg      sync.WaitGroup
	batches atomic.Int64

	// Write failures, owned by the flusher: dirty means the newest segment
	// may hold bytes past its published size that could not be cut yet;
	// refusing counts the appends refused in the current episode.
	dirty    bool
	refusing int

	// The high-water mark (see hwm.go), owned by the flusher after Open;
	// lost lists records found missing with no segment to hold the damage.
	hw      highWater
	hwBlock uint64
	hwAt    time.Time
	lost    []Damage

	wkey atomic.Pointer[writeKey] // see SetEncryption

	w struct {
		seg     *segment
		size    int64
		next    uint64
		firstTs int64
		lastTs  int64
		lastIdx int64
		newIdx  []indexEntry
		buf     []byte
		nonces  []byte // random nonces of a batch's encrypted frames
	}
}

func newSegment(path string, base uint64, f file) *segment {
	s := &segment{path: path, base: base, f: f, next: base, start: segHeaderSize}
	s.refs.Store(1)
	return s
}

// unref drops a reference; the last one closes the file.
func (s *segment) unref() error {
	if s.refs.Add(-1) == 0 {
		return s.f.Close()
	}
	return nil
}

func segName(base uint64) string { return fmt.Sprintf("%020d.seg", base) }

// Open opens or creates the log in dir and recovers it (see the package doc).
// Damage it finds is logged and listed by Damage, and the Log stays
// writable; only segments that overlap make it return a read-only *Log
// and a *CorruptError together. The caller must Close the Log either way
// when it is non-nil.
func Open(dir string, opts Options) (*Log, error) {
	opts.setDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create log folder %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list log folder %s: %w", dir, err)
	}
	var bases []uint64
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) != 24 || !strings.HasSuffix(name, ".seg") {
			continue
		}
		b, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil {
			continue
		}
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })

	l := &Log{dir: dir, opts: opts, hwBlock: hwmBlock}
	hw, hwFound, hwErr := l.readHighWater()
	hwOK := hwFound && hwErr == nil
	if hwOK {
		l.hw = hw // recoverSegment words its torn-tail line by hw.clean
	}
	if len(bases) == 0 {
		base := uint64(1)
		if hwOK && hw.limit > 1 {
			// Every segment file is gone, but the log held records.
			base = hw.limit
			if hw.clean {
				l.opts.Logf("log %s: records before %d are missing (every segment file deleted)", dir, base)
				l.lost = append(l.lost, Damage{File: dir, FirstSeq: 1, NextSeq: base, Reason: "every segment file deleted"})
			} else {
				l.opts.Logf("log %s: no segment file and not closed cleanly: starting at %d, past every sequence number handed out", dir, base)
			}
		}
		hw.limit, hw.clean, hw.skips = base, false, nil
		if err := l.writeHighWater(hw); err != nil {
			return nil, err
		}
		s, err := l.createSegment(base, nil)
		if err != nil {
			return nil, err
		}
		l.segs = []*segment{s}
	} else {
		for i, b := range bases {
			s, err := l.recoverSegment(b, i == len(bases)-1)
			if err != nil {
				l.closeFiles()
				return nil, err
			}
			l.segs = append(l.segs, s)
		}
		if cerr := l.reconcile(hw.skips); cerr != nil {
			l.readOnly = cerr
			return l, cerr
		}
		for _, s := range l.segs {
			for _, d := range s.damage {
				l.opts.Logf("log %s: damaged segment %s at offset %d (%d bytes, %s): %s", dir, d.File, d.Offset, d.Length, d.Reason, d.Records())
			}
		}
		if !hwOK {
			why := "missing"
			if hwErr != nil {
				why = hwErr.Error()
			}
			l.opts.Logf("log %s: high-water mark file %s: %s; sequence numbers go on after the last record found, so records lost from the end of the log before now cannot be detected", dir, l.hwmPath(), why)
			hw = highWater{}
		}
		if err := l.raiseToHighWater(hw); err != nil {
			l.closeFiles()
			return nil, err
		}
		if a := l.segs[len(l.segs)-1]; a.broken {
			// Its key is unknown: nothing more goes into it.
			s, err := l.createSegment(a.next, nil)
			if err != nil {
				l.closeFiles()
				return nil, err
			}
			l.segs = append(l.segs, s)
		}
	}
	a := l.segs[len(l.segs)-1]
	l.w.seg, l.w.size, l.w.next = a, a.size, a.next
	l.w.firstTs, l.w.lastTs = a.firstTs, a.lastTs
	if n := len(l.segs); n > 1 && a.next == a.base {
		l.w.lastTs = l.segs[n-2].lastTs
	}
	l.w.lastIdx = -1
	if n := len(a.index); n > 0 {
		l.w.lastIdx = a.index[n-1].off
	}
	l.reqs = make(chan *request, 256)
	l.sending = true
	l.wg.Add(1)
	go l.flusher()
	return l, nil
}

// raiseToHighWater makes the log go on at the high-water mark hw when the
// recovered log ends before it (see the package doc), and writes the hwm
// file anew, not clean, before any write. It runs in Open, before the
// flusher starts.
func (l *Log) raiseToHighWater(hw highWater) error {
	a := l.segs[len(l.segs)-1]
	next, h := a.next, hw.limit
	// Skips before the oldest segment are gone with it.
	var keep []skip
	for _, sk := range hw.skips {
		if sk.to > l.segs[0].base {
			keep = append(keep, sk)
		}
	}
	hw.skips = keep
	if next < h && hw.clean {
		l.opts.Logf("log %s: records %d to %d are missing (newest segment truncated or deleted)", l.dir, next, h-1)
		l.mu.Lock()
		a.addDamage(a.size, a.size, next, h, true, "records missing (newest segment truncated or deleted)")
		a.next = h
		l.mu.Unlock()
	} else if next < h {
		l.opts.Logf("log %s: not closed cleanly: skipping sequence numbers %d to %d, reserved but not in the log, so none is handed out again", l.dir, next, h-1)
		if !slices.Contains(hw.skips, skip{next, h}) { // not already recorded by a crashed Open
			hw.skips = append(hw.skips, skip{next, h})
		}
	}
	hw.limit, hw.clean = max(h, next), false
	// The skip is durable before the segment whose gap it explains.
	if err := l.writeHighWater(hw); err != nil {
		return err
	}
	l.hw = hw
	if next >= h {
		return nil
	}
	s, err := l.createSegment(h, nil)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	return nil
}

// reconcile checks that each segment continues where the previous one
// ends. Records missing between two segments (damage at the end of the
// first, or a lost segment file) become damage of the first, except
// sequence numbers skipped after a crash (skips, from the hwm file);
// overlapping segments are a *CorruptError, and only the segments before
// the overlap are kept.
func (l *Log) reconcile(skips []skip) *CorruptError {
	for i := 0; i+1 < len(l.segs); i++ {
		a, b := l.segs[i], l.segs[i+1]
		if a.next > b.base {
			cerr := &CorruptError{File: b.path, Offset: 0, Reason: fmt.Sprintf("segment starts at %d, previous one holds records up to %d", b.base, a.next-1)}
			for _, s := range l.segs[i+1:] {
				s.f.Close()
			}
			l.segs = l.segs[:i+1]
			return cerr
		}
		end := b.base
		for _, sk := range skips {
			if sk.to == b.base && sk.from >= a.next && sk.from < end {
				end = sk.from // [sk.from, b.base) was never handed out
			}
		}
		if a.next == end {
			continue
		}
		if n := len(a.damage); n > 0 && a.damage[n-1].end == a.size && a.damage[n-1].NextSeq == a.next {
			d := a.damage[n-1]
			d.NextSeq, d.Exact = end, true
		} else {
			a.addDamage(a.size, a.size, a.next, end, true, fmt.Sprintf("records missing before segment %s", filepath.Base(b.path)))
		}
		a.next = end
	}
	return nil
}

// Damage returns the damaged regions Open found, oldest first.
func (l *Log) Damage() []Damage {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := append([]Damage(nil), l.lost...)
	for _, s := range l.segs {
		for _, d := range s.damage {
			out = append(out, d.Damage)
		}
	}
	return out
}

func segHeader(base uint64) []byte {
	b := make([]byte, 0, segHeaderSize)
	b = append(b, segMagic...)
	return append(b, byte(base), byte(base>>8), byte(base>>16), byte(base>>24),
		byte(base>>32), byte(base>>40), byte(base>>48), byte(base>>56))
}

func (l *Log) sync(f file) error {
	if l.opts.Fsync == FsyncNever {
		return nil
	}
	return f.Sync()
}

func (l *Log) syncDir() error {
	if l.opts.Fsync == FsyncNever {
		return nil
	}
	d, err := l.opts.fs.OpenFile(l.dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// createSegment creates a durable, empty segment file, encrypted with k
// unless k is nil. A file of that name holding no more than a header is
// left by an earlier attempt that failed half-way (disk full, say) and is
// reused.
func (l *Log) createSegment(base uint64, k *writeKey) (*segment, error) {
	return l.createSegmentAt(filepath.Join(l.dir, segName(base)), base, k)
}

// createSegmentAt is createSegment with the file at path.
func (l *Log) createSegmentAt(path string, base uint64, k *writeKey) (*segment, error) {
	hdr := segHeader(base)
	var enc *segCipher
	if k != nil {
		var err error
		if enc, hdr, err = newWriteCipher(base, k); err != nil {
			return nil, fmt.Errorf("cannot create segment %s: %w", path, err)
		}
	}
	f, err := l.opts.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		f, err = l.opts.fs.OpenFile(path, os.O_RDWR, 0)
		if err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil && !headerOnly(f, st.Size()) {
				err = fmt.Errorf("it exists and holds %d bytes", st.Size())
			}
			if err == nil {
				err = f.Truncate(0)
			}
			if err != nil {
				f.Close()
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot create segment %s: %w", path, err)
	}
	if _, err = f.WriteAt(hdr, 0); err == nil {
		if err = l.sync(f); err == nil {
			err = l.syncDir()
		}
	}
	if err != nil {
		f.Close()
		l.opts.fs.Remove(path) // if this fails too, the next attempt reuses the file
		return nil, fmt.Errorf("cannot create segment %s: %w", path, err)
	}
	s := newSegment(path, base, f)
	s.size, s.start, s.enc = int64(len(hdr)), int64(len(hdr)), enc
	return s, nil
}

// headerOnly reports whether a segment file of size bytes holds no more
// than (part of) a header, plaintext or encrypted, and so no frame.
func headerOnly(f file, size int64) bool {
	if size <= segHeaderSize {
		return true
	}
	if size > encHeaderSize {
		return false
	}
	magic := make([]byte, len(encMagic))
	_, err := f.ReadAt(magic, 0)
	return err == nil && string(magic) == encMagic
}

func (l *Log) closeFiles() {
	for _, s := range l.segs {
		s.f.Close()
	}
}

// FirstSeq is the sequence number of the oldest record kept (NextSeq when
// the log is empty).
func (l *Log) FirstSeq() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.segs) == 0 {
		return 1
	}
	return l.segs[0].base
}

// NextSeq is the sequence number the next acknowledged record will get
// (one past the last readable record, or past the sequence numbers given up
// to damage at the end of the log).
func (l *Log) NextSeq() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.segs) == 0 {
		return 1
	}
	return l.segs[len(l.segs)-1].next
}

// Close drains pending appends, stops the flusher and closes the files.
func (l *Log) Close() error {
	l.sendMu.Lock()
	wasSending := l.sending
	l.sending = false
	if wasSending {
		close(l.reqs)
	}
	l.sendMu.Unlock()
	l.wg.Wait()
	var hwErr error
	if wasSending {
		// Clean shutdown: the next sequence number is exactly known.
		h := l.hw
		h.limit, h.clean = l.NextSeq(), true
		hwErr = l.writeHighWater(h)
		if errors.Is(hwErr, os.ErrNotExist) {
			// The folder was moved away or removed (a deleted stream):
			// there is no log left here to mark.
			hwErr = nil
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.wake()
	first := hwErr
	for _, s := range l.segs {
		if err := s.unref(); err != nil && first == nil {
			first = fmt.Errorf("cannot close segment %s: %w", s.path, err)
		}
	}
	return first
}

// DeleteBefore deletes the sealed segments, oldest first, whose newest record
// is older than ms, and returns how many it deleted. The newest segment is
// never deleted.
func (l *Log) DeleteBefore(ms int64) (int, error) {
	if l.readOnly != nil {
		return 0, fmt.Errorf("%w: %w", ErrReadOnly, l.readOnly)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	var del []*segment
	for len(l.segs) > 1 && l.segs[0].lastTs < ms {
		del = append(del, l.segs[0])
		l.segs = l.segs[1:]
	}
	l.mu.Unlock()
	for _, s := range del {
		s.unref() // readers still reading keep the file open
		if err := l.opts.fs.Remove(s.path); err != nil {
			return 0, fmt.Errorf("cannot delete segment %s: %w", s.path, err)
		}
	}
	if len(del) > 0 {
		if err := l.syncDir(); err != nil {
			return len(del), fmt.Errorf("cannot sync log folder %s: %w", l.dir, err)
		}
	}
	return len(del), nil
}
