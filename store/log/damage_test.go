package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// readSkipping reads [from, NextSeq) with a CorruptionSkip log and returns
// the sequence numbers read, checking every record's content.
func readSkipping(t *testing.T, l *Log, from uint64) []uint64 {
	t.Helper()
	var seqs []uint64
	seq := from
	for seq < l.NextSeq() {
		recs, next, err := l.Read(seq, 7, 500)
		if err != nil {
			t.Fatalf("Read(%d): %v", seq, err)
		}
		if next <= seq {
			t.Fatalf("Read(%d) did not progress (next %d)", seq, next)
		}
		for _, r := range recs {
			if !bytes.Equal(r.Data, payload(r.Seq)) || !bytes.Equal(r.Header, header(r.Seq)) {
				t.Fatalf("record %d holds %q", r.Seq, r.Data)
			}
			seqs = append(seqs, r.Seq)
		}
		seq = next
	}
	return seqs
}

// A failed header rewrite or fsync while repairing a half-created newest
// segment is an error of Open, not a repair.
func TestFailedHeaderRepairIsAnError(t *testing.T) {
	for _, op := range []string{"write", "sync", "truncate"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, Options{})
			appendN(t, l, 10, 3)
			l.Close()
			half := filepath.Join(dir, segName(11))
			if err := os.WriteFile(half, []byte("SLUI"), 0o644); err != nil {
				t.Fatal(err)
			}
			fs := newFaultFS()
			fs.set(op, syscall.EIO)
			l, err := Open(dir, quiet(t, Options{fs: fs}))
			if err == nil {
				l.Close()
				t.Fatalf("Open repaired %s although its %s failed", half, op)
			}
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), half) {
				t.Fatalf("Open err = %v, want EIO naming %s", err, half)
			}
			if l != nil {
				t.Fatal("Open returned a Log with its error")
			}
			fs.set(op, nil)
			l = mustOpen(t, dir, Options{fs: fs})
			defer l.Close()
			appendN(t, l, 5, 2)
			readAll(t, l, 1)
		})
	}
}

// A complete last frame whose CRC fails may have been acknowledged: it is
// reported as damage (file and offset), not cut as a torn tail, and its
// sequence number is not handed out again.
func TestFlippedByteInLastFrameIsNotATornTail(t *testing.T) {
	for _, where := range []string{"payload", "seq", "length", "length before a torn frame"} {
		t.Run(where, func(t *testing.T) {
			dir := t.TempDir()
			l := mustOpen(t, dir, Options{})
			appendN(t, l, 50, 5)
			l.Close()
			files := segFiles(t, dir)
			seg := files[len(files)-1]
			offs := frameOffsets(t, seg)
			last := offs[len(offs)-1]
			before, _ := os.Stat(seg)
			switch where {
			case "payload":
				flipBit(t, seg, last+frameHeadSize+bodyFixedSize+3)
			case "seq":
				flipBit(t, seg, last+frameHeadSize)
			case "length": // makes the frame look longer than the file
				flipBit(t, seg, last+2)
			case "length before a torn frame":
				flipBit(t, seg, last+2)
				f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write(appendFrame(nil, 51, 5, nil, bytes.Repeat([]byte("t"), 300))[:100])
				f.Close()
				before, _ = os.Stat(seg)
			}
			var ll logLines
			l, err := Open(dir, Options{Logf: ll.logf})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			if st, _ := os.Stat(seg); st.Size() != before.Size() {
				t.Fatalf("%s was cut from %d to %d bytes", seg, before.Size(), st.Size())
			}
			dmg := l.Damage()
			if len(dmg) != 1 || dmg[0].File != seg || dmg[0].Offset != last || dmg[0].FirstSeq != 50 || dmg[0].NextSeq <= 50 {
				t.Fatalf("Damage() = %+v, want seq 50 at %s:%d", dmg, seg, last)
			}
			if got := ll.with("damaged", seg, "offset "+strconv.FormatInt(last, 10)); len(got) != 1 {
				t.Fatalf("want one damage line naming %s offset %d, got:\n%s", seg, last, ll.String())
			}
			if got := ll.with("cut a torn tail"); len(got) != 0 {
				t.Fatalf("damage reported as a torn tail: %q", got)
			}
			if recs, n, err := l.Read(1, 100, 1<<20); err != nil || len(recs) != 49 || n != 50 {
				t.Fatalf("Read(1) = %d records, next %d, %v; want 49 before the damage", len(recs), n, err)
			}
			var ce *CorruptError
			if _, _, err := l.Read(50, 100, 1<<20); !errors.As(err, &ce) || ce.Seq != 50 {
				t.Fatalf("Read(50) = %v, want CorruptError", err)
			}
			first, err := l.Append([][]byte{[]byte("after")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if first <= 50 {
				t.Fatalf("Append got sequence number %d again", first)
			}
			l.Close()
			// The damage stays reported, and sequence numbers keep growing.
			l = mustOpen(t, dir, Options{})
			defer l.Close()
			if d := l.Damage(); len(d) != 1 || d[0].FirstSeq != 50 || d[0].NextSeq != first {
				t.Fatalf("after reopen Damage() = %+v, want [50, %d)", d, first)
			}
			again, err := l.Append([][]byte{[]byte("again")}, nil)
			if err != nil || again != first+1 {
				t.Fatalf("Append after reopen = %d, %v; want %d", again, err, first+1)
			}
			if recs, _, err := l.Read(first, 10, 1<<20); err != nil || len(recs) != 2 || string(recs[0].Data) != "after" {
				t.Fatalf("Read(%d) = %v, %v", first, recs, err)
			}
		})
	}
}

// A torn tail (an incomplete frame) is cut and reported as such, not as
// damage.
func TestTornTailIsNotACorruptFrame(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	appendN(t, l, 20, 4)
	l.Close()
	seg := segFiles(t, dir)[0]
	st, _ := os.Stat(seg)
	frame := appendFrame(nil, 21, 5, []byte("h"), bytes.Repeat([]byte("y"), 100))
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(frame[:len(frame)-10])
	f.Close()
	var ll logLines
	l, err = Open(dir, Options{Logf: ll.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(l.Damage()) != 0 || l.NextSeq() != 21 {
		t.Fatalf("torn tail: Damage %+v, NextSeq %d", l.Damage(), l.NextSeq())
	}
	if got := ll.with("torn tail", seg, "offset "+strconv.FormatInt(st.Size(), 10)); len(got) != 1 {
		t.Fatalf("want one torn-tail line naming %s offset %d, got:\n%s", seg, st.Size(), ll.String())
	}
}

// One bad byte in a sealed segment loses its record and no other: every
// later segment stays readable, the damage is reported, readers get an
// error there (stop) or pass it with a logged skip (skip).
func TestDamageInSealedSegmentHidesNothingAfterIt(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10}
	l := mustOpen(t, dir, opts)
	appendN(t, l, 300, 4)
	next := l.NextSeq()
	l.Close()
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("want at least 3 segments, got %d", len(files))
	}
	victim := files[1]
	base, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(victim), ".seg"), 10, 64)
	offs := frameOffsets(t, victim)
	bad := offs[len(offs)/2]
	badSeq := base + uint64(len(offs)/2)
	flipBit(t, victim, bad+frameHeadSize+bodyFixedSize+2) // inside the payload
	sizeBefore, _ := os.Stat(victim)

	var ll logLines
	l, err := Open(dir, Options{SegmentBytes: 4 << 10, Logf: ll.logf})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	dmg := l.Damage()
	if len(dmg) != 1 || dmg[0].File != victim || dmg[0].Offset != bad || dmg[0].FirstSeq != badSeq || dmg[0].NextSeq != badSeq+1 || !dmg[0].Exact {
		t.Fatalf("Damage() = %+v, want seq %d at %s:%d", dmg, badSeq, victim, bad)
	}
	if len(ll.with(victim, "offset "+strconv.FormatInt(bad, 10), "record "+strconv.FormatUint(badSeq, 10)+" lost")) != 1 {
		t.Fatalf("damage not logged with file, offset and record:\n%s", ll.String())
	}
	if l.NextSeq() != next {
		t.Fatalf("NextSeq = %d, want %d", l.NextSeq(), next)
	}
	// Stop (the default): records up to the damage, then an error there.
	var got []uint64
	seq := uint64(1)
	for seq < badSeq {
		recs, n, err := l.Read(seq, 50, 1<<20)
		if err != nil {
			t.Fatalf("Read(%d): %v", seq, err)
		}
		for _, r := range recs {
			got = append(got, r.Seq)
		}
		seq = n
	}
	if seq != badSeq || uint64(len(got)) != badSeq-1 {
		t.Fatalf("read %d records up to %d, want %d up to %d", len(got), seq, badSeq-1, badSeq)
	}
	_, n, err := l.Read(badSeq, 50, 1<<20)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Seq != badSeq || ce.Next != badSeq+1 || ce.File != victim || n != badSeq {
		t.Fatalf("Read at the damage = next %d, %v; want CorruptError for %d", n, err, badSeq)
	}
	// Everything after it reads back, and appends go on.
	if seqs := readSkipping(t, l, badSeq+1); uint64(len(seqs)) != next-badSeq-1 {
		t.Fatalf("read %d records after the damage, want %d", len(seqs), next-badSeq-1)
	}
	appendN(t, l, 10, 3)
	l.Close()
	if st, _ := os.Stat(victim); st.Size() != sizeBefore.Size() {
		t.Fatal("damaged segment was modified")
	}

	// Skip: one pass reads every record but the damaged one; the skip is
	// logged once however often readers pass it.
	ll = logLines{}
	l = mustOpen(t, dir, Options{SegmentBytes: 4 << 10, OnCorruption: CorruptionSkip, Logf: ll.logf})
	defer l.Close()
	for range 3 {
		seqs := readSkipping(t, l, 1)
		if uint64(len(seqs)) != next+10-2 {
			t.Fatalf("skip read %d records, want %d", len(seqs), next+10-2)
		}
		for _, s := range seqs {
			if s == badSeq {
				t.Fatal("damaged record returned")
			}
		}
	}
	if skips := ll.with("skipped", strconv.FormatUint(badSeq, 10), victim); len(skips) != 1 {
		t.Fatalf("want one skip line, got:\n%s", ll.String())
	}
	// A reader positioned inside the damage continues after it.
	if recs, n, err := l.Read(badSeq, 1, 1<<20); err != nil || len(recs) != 1 || recs[0].Seq != badSeq+1 || n != badSeq+2 {
		t.Fatalf("Read(%d) with skip = %d records, next %d, %v", badSeq, len(recs), n, err)
	}
}

// A bad frame in the middle of the newest segment: the frames after it are
// still served and appended to.
func TestBitFlipMidNewestSegment(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	appendN(t, l, 50, 5)
	l.Close()
	files := segFiles(t, dir)
	offs := frameOffsets(t, files[0])
	flipBit(t, files[0], offs[20]+frameHeadSize+1) // inside the seq
	l = mustOpen(t, dir, Options{OnCorruption: CorruptionSkip})
	defer l.Close()
	if d := l.Damage(); len(d) != 1 || d[0].Offset != offs[20] || d[0].File != files[0] || d[0].FirstSeq != 21 || d[0].NextSeq != 22 {
		t.Fatalf("Damage() = %+v, want seq 21 at offset %d", d, offs[20])
	}
	if l.NextSeq() != 51 {
		t.Fatalf("NextSeq = %d, want 51", l.NextSeq())
	}
	appendN(t, l, 5, 2)
	if seqs := readSkipping(t, l, 1); len(seqs) != 54 {
		t.Fatalf("read %d records, want 54", len(seqs))
	}
}

// A missing segment file is damage covering its records, not the end of
// the log.
func TestMissingSegmentIsReportedAsDamage(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1 << 10}
	l := mustOpen(t, dir, opts)
	appendN(t, l, 100, 5)
	l.Close()
	files := segFiles(t, dir)
	if err := os.Remove(files[1]); err != nil {
		t.Fatal(err)
	}
	base1, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(files[1]), ".seg"), 10, 64)
	base2, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(files[2]), ".seg"), 10, 64)
	l = mustOpen(t, dir, opts)
	defer l.Close()
	d := l.Damage()
	if len(d) != 1 || d[0].FirstSeq != base1 || d[0].NextSeq != base2 || d[0].File != files[0] {
		t.Fatalf("Damage() = %+v, want [%d, %d) after %s", d, base1, base2, files[0])
	}
	var ce *CorruptError
	if _, _, err := l.Read(base1, 10, 1<<20); !errors.As(err, &ce) || ce.Seq != base1 {
		t.Fatalf("Read(%d) = %v, want CorruptError", base1, err)
	}
	if l.NextSeq() != 101 {
		t.Fatalf("NextSeq = %d, want 101", l.NextSeq())
	}
	if seqs := readSkipping(t, l, base2); len(seqs) != int(101-base2) {
		t.Fatalf("read %d records after the gap, want %d", len(seqs), 101-base2)
	}
}

// Overlapping segments cannot be reconciled: Open reports them and serves
// what comes before, read-only.
func TestOverlappingSegmentsAreCorruption(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1 << 10}
	l := mustOpen(t, dir, opts)
	appendN(t, l, 100, 5)
	l.Close()
	files := segFiles(t, dir)
	base1, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(files[1]), ".seg"), 10, 64)
	// A stray copy of segment 1 named as if it started one record later.
	data, _ := os.ReadFile(files[1])
	binary.LittleEndian.PutUint64(data[8:], base1+1)
	if err := os.WriteFile(filepath.Join(dir, segName(base1+1)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, quiet(t, opts))
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != filepath.Join(dir, segName(base1+1)) || l == nil {
		t.Fatalf("Open err = %v, want CorruptError naming the stray segment", err)
	}
	defer l.Close()
	if _, err := l.Append([][]byte{[]byte("x")}, nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Append: %v", err)
	}
	readAll(t, l, 1)
}

func TestParseCorruptionPolicy(t *testing.T) {
	for s, want := range map[string]CorruptionPolicy{"": CorruptionStop, "stop": CorruptionStop, "skip": CorruptionSkip} {
		if got, err := ParseCorruptionPolicy(s); err != nil || got != want {
			t.Fatalf("ParseCorruptionPolicy(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseCorruptionPolicy("ignore"); err == nil || !strings.Contains(err.Error(), "ignore") {
		t.Fatalf("bad policy: %v", err)
	}
}

// Damage before frames larger than the first resync window: the frame
// after the damage is found however far it reaches.
func TestDamageBeforeLargeFrames(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, Options{})
	big := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 900<<10) }
	for i := range 4 {
		if _, err := l.Append([][]byte{big(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	seg := segFiles(t, dir)[0]
	flipBit(t, seg, segHeaderSize+frameHeadSize+bodyFixedSize+100)
	l = mustOpen(t, dir, Options{OnCorruption: CorruptionSkip})
	defer l.Close()
	if d := l.Damage(); len(d) != 1 || d[0].FirstSeq != 1 || d[0].NextSeq != 2 || !d[0].Exact {
		t.Fatalf("Damage() = %+v, want record 1", d)
	}
	recs, next, err := l.Read(1, 10, 8<<20)
	if err != nil || len(recs) != 3 || next != 5 {
		t.Fatalf("Read(1) = %d records, next %d, %v", len(recs), next, err)
	}
	for i, r := range recs {
		if r.Seq != uint64(i+2) || !bytes.Equal(r.Data, big(i+1)) {
			t.Fatalf("record %d: seq %d", i, r.Seq)
		}
	}
}
