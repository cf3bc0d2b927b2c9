package log

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
)

// clock is a settable test clock in milliseconds.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() int64 { return c.ms.Load() }

func payload(seq uint64) []byte {
	return fmt.Appendf(nil, "record-%d-%s", seq, bytes.Repeat([]byte{byte(seq)}, int(seq%97)))
}

func header(seq uint64) []byte { return fmt.Appendf(nil, "pk-%d", seq%13) }

func mustOpen(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, quiet(t, opts))
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

// appendN appends n records in calls of per records each, expecting
// sequence numbers to continue from the log's NextSeq.
func appendN(t *testing.T, l *Log, n, per int) {
	t.Helper()
	for n > 0 {
		k := min(per, n)
		next := l.NextSeq()
		var recs, hdrs [][]byte
		for i := range k {
			recs = append(recs, payload(next+uint64(i)))
			hdrs = append(hdrs, header(next+uint64(i)))
		}
		first, err := l.Append(recs, hdrs)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if first != next {
			t.Fatalf("Append first = %d, want %d", first, next)
		}
		n -= k
	}
}

// readAll reads [from, NextSeq) in small pages and checks every record.
func readAll(t *testing.T, l *Log, from uint64) []Record {
	t.Helper()
	var all []Record
	seq := from
	for seq < l.NextSeq() {
		recs, next, err := l.Read(seq, 7, 500)
		if err != nil {
			t.Fatalf("Read(%d): %v", seq, err)
		}
		if len(recs) == 0 || next != seq+uint64(len(recs)) {
			t.Fatalf("Read(%d) gave %d records, next %d", seq, len(recs), next)
		}
		for i, r := range recs {
			if r.Seq != seq+uint64(i) || !bytes.Equal(r.Data, payload(r.Seq)) || !bytes.Equal(r.Header, header(r.Seq)) {
				t.Fatalf("record %d: got seq %d data %q header %q", seq+uint64(i), r.Seq, r.Data, r.Header)
			}
		}
		all = append(all, recs...)
		seq = next
	}
	return all
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func TestRoundTripAcrossRolls(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncGroup, FsyncAlways, FsyncNever} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{}
			c.ms.Store(1000)
			opts := Options{SegmentBytes: 4 << 10, IndexInterval: 256, Fsync: mode, Now: c.now}
			l := mustOpen(t, dir, opts)
			if l.FirstSeq() != 1 || l.NextSeq() != 1 {
				t.Fatalf("empty log: first %d next %d", l.FirstSeq(), l.NextSeq())
			}
			appendN(t, l, 500, 9)
			if n := len(segFiles(t, dir)); n < 5 {
				t.Fatalf("got %d segments, want several", n)
			}
			readAll(t, l, 1)
			readAll(t, l, 250)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, opts)
			defer l.Close()
			if l.NextSeq() != 501 {
				t.Fatalf("NextSeq after reopen = %d", l.NextSeq())
			}
			appendN(t, l, 20, 3)
			readAll(t, l, 1)
		})
	}
}

func TestReadLimits(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{})
	defer l.Close()
	big := bytes.Repeat([]byte("x"), 1000)
	if _, err := l.Append([][]byte{big, big, big}, nil); err != nil {
		t.Fatal(err)
	}
	f := func(from uint64, maxRecs, maxBytes, wantN int, wantNext uint64) {
		t.Helper()
		recs, next, err := l.Read(from, maxRecs, maxBytes)
		if err != nil || len(recs) != wantN || next != wantNext {
			t.Fatalf("Read(%d,%d,%d) = %d records, next %d, %v; want %d, %d", from, maxRecs, maxBytes, len(recs), next, err, wantN, wantNext)
		}
	}
	f(1, 10, 10, 1, 2) // first record always returned
	f(1, 10, 2000, 2, 3)
	f(1, 2, 1<<20, 2, 3)
	f(2, 10, 1<<20, 2, 4)
	f(4, 10, 1<<20, 0, 4)
	f(99, 10, 1<<20, 0, 99)
	if _, _, err := l.Read(0, 1, 1); !errors.Is(err, ErrTrimmed) {
		t.Fatalf("Read(0) err = %v, want ErrTrimmed", err)
	}
	if _, err := l.Append([][]byte{make([]byte, DefaultMaxRecordBytes+1)}, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized Append err = %v", err)
	}
	if _, err := l.Append([][]byte{big}, [][]byte{}); err == nil {
		t.Fatal("mismatched headers accepted")
	}
}

func TestTimestampsAndSeek(t *testing.T) {
	dir := t.TempDir()
	c := &clock{}
	opts := Options{SegmentBytes: 2 << 10, IndexInterval: 128, Now: c.now}
	l := mustOpen(t, dir, opts)
	defer l.Close()
	// Batches of 5 records at times 100, 110, ..., with one clock step back.
	for i := range 60 {
		ms := int64(100 + 10*i)
		if i == 30 {
			ms = 50 // clock went backwards: timestamps must not
		}
		c.ms.Store(ms)
		appendN(t, l, 5, 5)
	}
	recs := readAll(t, l, 1)
	for i, r := range recs {
		want := int64(100 + 10*(i/5))
		if i/5 == 30 {
			want = 390
		}
		if r.Timestamp != want {
			t.Fatalf("record %d timestamp %d, want %d", r.Seq, r.Timestamp, want)
		}
	}
	f := func(ms int64, want uint64) {
		t.Helper()
		got, err := l.SeekTimestamp(ms)
		if err != nil || got != want {
			t.Fatalf("SeekTimestamp(%d) = %d, %v; want %d", ms, got, err, want)
		}
	}
	f(0, 1)
	f(100, 1)
	f(101, 6)
	f(110, 6)
	f(390, 146)
	f(391, 156)
	f(400, 156)
	f(690, 296)
	f(691, 301)
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	c := &clock{}
	opts := Options{SegmentBytes: 2 << 10, Now: c.now}
	l := mustOpen(t, dir, opts)
	for i := range 40 {
		c.ms.Store(int64(1000 * i))
		appendN(t, l, 5, 5)
	}
	nseg := len(segFiles(t, dir))
	n, err := l.DeleteBefore(20000)
	if err != nil || n == 0 || n >= nseg {
		t.Fatalf("DeleteBefore = %d, %v (of %d segments)", n, err, nseg)
	}
	first := l.FirstSeq()
	recs, _, err := l.Read(first, 1, 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("Read(FirstSeq) = %v, %v", recs, err)
	}
	if first <= 1 {
		t.Fatalf("FirstSeq %d after retention", first)
	}
	// The deleted segments' newest records were older than 20000; the kept
	// first segment holds a record at or after it.
	if _, _, err := l.Read(first-1, 1, 1); !errors.Is(err, ErrTrimmed) {
		t.Fatalf("Read before FirstSeq: %v", err)
	}
	readAll(t, l, first)
	// Everything expired: the newest segment stays, so NextSeq survives.
	if _, err := l.DeleteBefore(1 << 40); err != nil {
		t.Fatal(err)
	}
	if got := len(segFiles(t, dir)); got != 1 {
		t.Fatalf("%d segments left, want 1", got)
	}
	next := l.NextSeq()
	l.Close()
	l = mustOpen(t, dir, opts)
	defer l.Close()
	if l.NextSeq() != next {
		t.Fatalf("NextSeq after reopen %d, want %d", l.NextSeq(), next)
	}
	appendN(t, l, 3, 3)
	readAll(t, l, l.FirstSeq())
}

func TestConcurrentAppenders(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{SegmentBytes: 64 << 10})
	const writers, per = 8, 200
	type ack struct {
		first uint64
		recs  [][]byte
	}
	acks := make([][]ack, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				n := 1 + (i % 3)
				var recs [][]byte
				for j := range n {
					recs = append(recs, fmt.Appendf(nil, "w%d-i%d-j%d", w, i, j))
				}
				first, err := l.Append(recs, nil)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				acks[w] = append(acks[w], ack{first, recs})
			}
		})
	}
	// A concurrent reader sees only a consistent prefix.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Go(func() {
		seq := uint64(1)
		for {
			select {
			case <-stop:
				return
			default:
			}
			recs, next, err := l.Read(seq, 100, 1<<20)
			if err != nil {
				t.Errorf("concurrent Read: %v", err)
				return
			}
			for i, r := range recs {
				if r.Seq != seq+uint64(i) {
					t.Errorf("concurrent Read: seq %d, want %d", r.Seq, seq+uint64(i))
					return
				}
			}
			seq = next
		}
	})
	wg.Wait()
	close(stop)
	rwg.Wait()
	check := func() {
		t.Helper()
		total := 0
		for w := range writers {
			last := uint64(0)
			for _, a := range acks[w] {
				if a.first <= last {
					t.Fatalf("writer %d: ack %d not after %d", w, a.first, last)
				}
				last = a.first
				recs, _, err := l.Read(a.first, len(a.recs), 1<<20)
				if err != nil || len(recs) != len(a.recs) {
					t.Fatalf("Read(%d): %d records, %v", a.first, len(recs), err)
				}
				for j := range recs {
					if !bytes.Equal(recs[j].Data, a.recs[j]) {
						t.Fatalf("seq %d: %q, want %q", recs[j].Seq, recs[j].Data, a.recs[j])
					}
				}
				total += len(a.recs)
			}
		}
		if got := l.NextSeq() - 1; got != uint64(total) {
			t.Fatalf("NextSeq-1 = %d, want %d records", got, total)
		}
	}
	check()
	l.Close()
	l = mustOpen(t, dir, Options{SegmentBytes: 64 << 10})
	defer l.Close()
	check()
}

func TestClose(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{})
	appendN(t, l, 3, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Append([][]byte{[]byte("x")}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, _, err := l.Read(1, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestTornTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		dir := t.TempDir()
		opts := Options{SegmentBytes: 8 << 10}
		l := mustOpen(t, dir, opts)
		appendN(t, l, 100+rng.IntN(100), 1+rng.IntN(10))
		next := l.NextSeq()
		l.Close()
		files := segFiles(t, dir)
		newest := files[len(files)-1]
		junk := make([]byte, 1+rng.IntN(3000))
		switch round % 3 {
		case 0: // random bytes
			for i := range junk {
				junk[i] = byte(rng.Uint32())
			}
		case 1: // zeros, as a file extended by a crash
		case 2: // a real frame cut short
			junk = appendFrame(nil, next, 5, []byte("h"), bytes.Repeat([]byte("y"), 100))
			junk = junk[:rng.IntN(len(junk))]
		}
		f, err := os.OpenFile(newest, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(junk)
		f.Close()
		before, _ := os.Stat(newest)
		l = mustOpen(t, dir, opts)
		if l.NextSeq() != next {
			t.Fatalf("round %d: NextSeq %d, want %d", round, l.NextSeq(), next)
		}
		after, _ := os.Stat(newest)
		if after.Size() != before.Size()-int64(len(junk)) {
			t.Fatalf("round %d: size %d after truncation, want %d", round, after.Size(), before.Size()-int64(len(junk)))
		}
		readAll(t, l, 1)
		appendN(t, l, 5, 2)
		readAll(t, l, 1)
		l.Close()
	}
}

func flipBit(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// frameOffsets returns the offsets of the frames of a healthy segment file.
func frameOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := int64(segHeaderSize); off < int64(len(data)); {
		_, n, err := decodeFrame(data[off:], nil)
		if err != nil {
			t.Fatalf("%s at %d: %v", path, off, err)
		}
		offs = append(offs, off)
		off += int64(n)
	}
	return offs
}

func TestParseFsyncMode(t *testing.T) {
	for s, want := range map[string]FsyncMode{"group": FsyncGroup, "always": FsyncAlways, "never": FsyncNever} {
		if got, err := ParseFsyncMode(s); err != nil || got != want {
			t.Fatalf("ParseFsyncMode(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseFsyncMode("sometimes"); err == nil {
		t.Fatal("bad mode accepted")
	}
}

func TestRepairHalfCreatedSegment(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	appendN(t, l, 10, 3)
	l.Close()
	// A crash while rolling left the next segment with half a header.
	if err := os.WriteFile(filepath.Join(dir, segName(11)), []byte("SLUI"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, Options{})
	defer l.Close()
	if l.NextSeq() != 11 {
		t.Fatalf("NextSeq = %d", l.NextSeq())
	}
	appendN(t, l, 5, 2)
	readAll(t, l, 1)
}

// Retention and Close while readers read: no reader sees a closed file
// or a wrong record.
func TestRetentionUnderReaders(t *testing.T) {
	dir := t.TempDir()
	c := &clock{}
	l := mustOpen(t, dir, Options{SegmentBytes: 1 << 10, Now: c.now})
	for i := range 200 {
		c.ms.Store(int64(i))
		appendN(t, l, 2, 2)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				first := l.FirstSeq()
				recs, _, err := l.Read(first, 50, 1<<20)
				if errors.Is(err, ErrTrimmed) || errors.Is(err, ErrClosed) {
					continue
				}
				if err != nil {
					t.Errorf("Read: %v", err)
					return
				}
				for _, r := range recs {
					if !bytes.Equal(r.Data, payload(r.Seq)) {
						t.Errorf("seq %d: %q", r.Seq, r.Data)
						return
					}
				}
			}
		})
	}
	for ms := int64(0); ms <= 200; ms += 5 {
		if _, err := l.DeleteBefore(ms); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	l.Close()
}
