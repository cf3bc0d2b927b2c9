package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// crashCopy copies the files of an open log's folder to a new folder: what
// a kill -9 or a power cut would leave (everything the log fsync'd is there).
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// appendNew appends one record and checks that its sequence number is past
// every one handed out before (after).
func appendNew(t *testing.T, l *Log, after uint64) uint64 {
	t.Helper()
	next := l.NextSeq()
	first, err := l.Append([][]byte{payload(next)}, [][]byte{header(next)})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if first <= after || first != next {
		t.Fatalf("Append got seq %d (NextSeq was %d); %d was handed out before", first, next, after)
	}
	return first
}

// wantMissing checks the log line and the Damage entry for records
// [from, to) missing after a clean shutdown.
func wantMissing(t *testing.T, l *Log, ll *logLines, dir string, from, to uint64) {
	t.Helper()
	if got := ll.with(dir, fmt.Sprintf("records %d to %d are missing", from, to-1)); len(got) != 1 {
		t.Fatalf("want one line naming the folder and records %d to %d, got:\n%s", from, to-1, ll.String())
	}
	if got := ll.with("unacknowledged"); len(got) != 0 {
		t.Fatalf("lost acknowledged records called a torn tail:\n%s", ll.String())
	}
	found := false
	for _, d := range l.Damage() {
		found = found || d.FirstSeq == from && d.NextSeq == to
	}
	if !found {
		t.Fatalf("Damage() = %+v, want records [%d, %d)", l.Damage(), from, to)
	}
}

func TestDeletedNewestSegmentDoesNotReuseSequenceNumbers(t *testing.T) {
	opts := Options{SegmentBytes: 1 << 10}
	t.Run("clean", func(t *testing.T) {
		dir := t.TempDir()
		l := mustOpen(t, dir, opts)
		appendN(t, l, 100, 5)
		l.Close()
		files := segFiles(t, dir)
		newest := files[len(files)-1]
		base := segBase(t, newest)
		if err := os.Remove(newest); err != nil {
			t.Fatal(err)
		}
		var ll logLines
		l = mustOpen(t, dir, Options{SegmentBytes: 1 << 10, Logf: ll.logf})
		if l.NextSeq() != 101 {
			t.Fatalf("NextSeq = %d, want 101", l.NextSeq())
		}
		wantMissing(t, l, &ll, dir, base, 101)
		var ce *CorruptError
		if _, _, err := l.Read(base, 10, 1<<20); !errors.As(err, &ce) || ce.Seq != base || ce.Next != 101 {
			t.Fatalf("Read(%d) = %v, want CorruptError for [%d, 101)", base, err, base)
		}
		appendNew(t, l, 100)
		l.Close()
		// Still reported, and still not reused, after another restart.
		ll = logLines{}
		l = mustOpen(t, dir, Options{SegmentBytes: 1 << 10, Logf: ll.logf, OnCorruption: CorruptionSkip})
		defer l.Close()
		if l.NextSeq() != 102 || len(l.Damage()) != 1 || l.Damage()[0].FirstSeq != base || l.Damage()[0].NextSeq != 101 {
			t.Fatalf("after restart: NextSeq %d, Damage %+v", l.NextSeq(), l.Damage())
		}
		if seqs := readSkipping(t, l, 1); len(seqs) != int(base) || seqs[len(seqs)-1] != 101 {
			t.Fatalf("read %v, want 1..%d and 101", seqs, base-1)
		}
	})
	t.Run("every segment", func(t *testing.T) {
		dir := t.TempDir()
		l := mustOpen(t, dir, opts)
		appendN(t, l, 100, 5)
		l.Close()
		for _, f := range segFiles(t, dir) {
			os.Remove(f)
		}
		var ll logLines
		l = mustOpen(t, dir, Options{SegmentBytes: 1 << 10, Logf: ll.logf})
		defer l.Close()
		if got := ll.with(dir, "records before 101 are missing"); len(got) != 1 || len(l.Damage()) != 1 {
			t.Fatalf("Damage %+v, log:\n%s", l.Damage(), ll.String())
		}
		appendNew(t, l, 100)
	})
	t.Run("crash", func(t *testing.T) {
		dir := t.TempDir()
		l := mustOpen(t, dir, opts)
		defer l.Close()
		appendN(t, l, 100, 5)
		crashed := crashCopy(t, dir)
		files := segFiles(t, crashed)
		if err := os.Remove(files[len(files)-1]); err != nil {
			t.Fatal(err)
		}
		l2 := mustOpen(t, crashed, opts)
		defer l2.Close()
		appendNew(t, l2, 100)
	})
}

func segBase(t *testing.T, path string) uint64 {
	t.Helper()
	var b uint64
	if _, err := fmt.Sscanf(filepath.Base(path), "%d.seg", &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// truncateMid cuts the newest segment of dir in the middle of a frame
// near its middle, as a lost write-back or a careless operator would.
func truncateMid(t *testing.T, dir string) {
	t.Helper()
	files := segFiles(t, dir)
	path := files[len(files)-1]
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()/2+3); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedNewestSegmentDoesNotReuseSequenceNumbers(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		dir := t.TempDir()
		l := mustOpen(t, dir, Options{})
		appendN(t, l, 100, 4)
		l.Close()
		truncateMid(t, dir)
		var ll logLines
		l = mustOpen(t, dir, Options{Logf: ll.logf, OnCorruption: CorruptionSkip})
		defer l.Close()
		d := l.Damage()
		if len(d) != 1 || d[0].NextSeq != 101 || d[0].FirstSeq < 2 || d[0].FirstSeq > 99 {
			t.Fatalf("Damage() = %+v, want the second half of 1..100", d)
		}
		wantMissing(t, l, &ll, dir, d[0].FirstSeq, 101)
		if l.NextSeq() != 101 {
			t.Fatalf("NextSeq = %d, want 101", l.NextSeq())
		}
		appendNew(t, l, 100)
		if seqs := readSkipping(t, l, 1); len(seqs) != int(d[0].FirstSeq) || seqs[len(seqs)-1] != 101 {
			t.Fatalf("read %v", seqs)
		}
	})
	t.Run("crash", func(t *testing.T) {
		dir := t.TempDir()
		l := mustOpen(t, dir, Options{})
		defer l.Close()
		appendN(t, l, 100, 4)
		crashed := crashCopy(t, dir)
		truncateMid(t, crashed)
		l2 := mustOpen(t, crashed, Options{})
		defer l2.Close()
		appendNew(t, l2, 100)
	})
}

// Sequence numbers reserved before a crash are skipped, not damage:
// readers go straight across the gap, before and after another restart,
// and a reader positioned inside it continues at the next record.
func TestReadAcrossSkippedSequenceNumbers(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1 << 10}
	l := mustOpen(t, dir, opts)
	defer l.Close()
	appendN(t, l, 50, 3)
	crashed := crashCopy(t, dir)
	for round := range 2 {
		var ll logLines
		l2 := mustOpen(t, crashed, Options{SegmentBytes: 1 << 10, Logf: ll.logf})
		if len(l2.Damage()) != 0 {
			t.Fatalf("round %d: Damage() = %+v", round, l2.Damage())
		}
		if round == 0 {
			if got := ll.with("not closed cleanly", "skipping sequence numbers 51 to"); len(got) != 1 {
				t.Fatalf("want one line about the skip, got:\n%s", ll.String())
			}
			first := appendNew(t, l2, 50)
			appendN(t, l2, 20, 3)
			if first <= 51 {
				t.Fatalf("first new record %d, want past 51", first)
			}
		} else if len(ll.lines) != 0 {
			t.Fatalf("clean reopen logged:\n%s", ll.String())
		}
		var seqs []uint64
		seq := uint64(1)
		for seq < l2.NextSeq() {
			recs, next, err := l2.Read(seq, 7, 1<<20)
			if err != nil || next <= seq {
				t.Fatalf("round %d: Read(%d) = next %d, %v", round, seq, next, err)
			}
			for _, r := range recs {
				seqs = append(seqs, r.Seq)
			}
			seq = next
		}
		if len(seqs) != 71 || seqs[49] != 50 || seqs[50] <= 51 {
			t.Fatalf("round %d: read %d records: %v", round, len(seqs), seqs)
		}
		gapEnd := seqs[50]
		recs, next, err := l2.Read(60, 1, 1<<20)
		if err != nil || len(recs) != 1 || recs[0].Seq != gapEnd || next != gapEnd+1 {
			t.Fatalf("round %d: Read(60) = %d records, next %d, %v; want record %d", round, len(recs), next, err, gapEnd)
		}
		if err := l2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHighWaterMarkFileLostFallsBack(t *testing.T) {
	for _, how := range []string{"deleted", "corrupt"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, Options{})
			appendN(t, l, 10, 2)
			l.Close()
			path := filepath.Join(dir, hwmName)
			if how == "deleted" {
				os.Remove(path)
			} else {
				b, _ := os.ReadFile(path)
				b[9] ^= 0x40
				os.WriteFile(path, b, 0o644)
			}
			var ll logLines
			l = mustOpen(t, dir, Options{Logf: ll.logf})
			if got := ll.with(dir, "high-water mark file"); len(got) != 1 || len(ll.lines) != 1 {
				t.Fatalf("want one line about the hwm file, got:\n%s", ll.String())
			}
			if how == "corrupt" && len(ll.with("CRC")) != 1 {
				t.Fatalf("want the reason, got:\n%s", ll.String())
			}
			if l.NextSeq() != 11 || len(l.Damage()) != 0 {
				t.Fatalf("NextSeq %d, Damage %+v", l.NextSeq(), l.Damage())
			}
			appendNew(t, l, 10)
			l.Close()
			ll = logLines{}
			l = mustOpen(t, dir, Options{Logf: ll.logf})
			defer l.Close()
			if len(ll.lines) != 0 || l.NextSeq() != 12 {
				t.Fatalf("after a new hwm file: NextSeq %d, log:\n%s", l.NextSeq(), ll.String())
			}
		})
	}
}

// A failure to write the hwm file refuses the append like any write
// failure: nothing acknowledged, and the next append tries again.
func TestHighWaterMarkWriteFailureRefusesAppend(t *testing.T) {
	for _, op := range []string{"rename", "create"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			fs := newFaultFS()
			var ll logLines
			l := mustOpen(t, dir, Options{fs: fs, Logf: ll.logf})
			defer func() { l.Close() }()
			fs.set(op, syscall.ENOSPC)
			appendRefused(t, l, syscall.ENOSPC)
			appendRefused(t, l, syscall.ENOSPC)
			fs.set(op, nil)
			appendOK(t, l, 5)
			if got := ll.with("refusing appends", "hwm"); len(got) != 1 {
				t.Fatalf("want one line naming the hwm file, got:\n%s", ll.String())
			}
			l.Close()
			l = mustOpen(t, dir, Options{})
			if l.NextSeq() != 6 {
				t.Fatalf("NextSeq = %d, want 6", l.NextSeq())
			}
			readAll(t, l, 1)
			if _, err := os.Stat(filepath.Join(dir, hwmName+".tmp")); !errors.Is(err, os.ErrNotExist) || strings.Contains(ll.String(), "panic") {
				t.Fatalf("temporary hwm file left: %v", err)
			}
		})
	}
}
