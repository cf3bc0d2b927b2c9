package log

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, 1, 1000, []byte("pk"), []byte("hello")))
	f.Add(appendFrame(nil, 1<<63, -5, nil, nil))
	f.Add(appendFrame(appendFrame(nil, 7, 8, []byte("a"), []byte("b")), 8, 9, nil, []byte("c"))[:30])
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0}, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, err := decodeFrame(b, nil)
		if err != nil {
			if n != 0 {
				t.Fatalf("error with n = %d", n)
			}
			return
		}
		if n < frameHeadSize+bodyFixedSize || n > len(b) {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		// A decoded frame re-encodes to the same bytes.
		again := appendFrame(nil, rec.Seq, rec.Timestamp, rec.Header, rec.Data)
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b[:n])
		}
	})
}

// FuzzRecoverSegment opens a log whose segments hold arbitrary bytes after
// their header: Open never panics, and a skipping reader reads the whole
// log without error and with increasing sequence numbers.
func FuzzRecoverSegment(f *testing.F) {
	var good []byte
	for i := range uint64(6) {
		good = appendFrame(good, 1+i, int64(i), []byte("k"), bytes.Repeat([]byte("v"), int(i*7)))
	}
	f.Add(good, false)
	f.Add(good, true)
	f.Add(append(append([]byte{}, good[:40]...), good[50:]...), false)
	flipped := append([]byte{}, good...)
	flipped[len(flipped)-3] ^= 1
	f.Add(flipped, false)
	f.Add(flipped[:len(flipped)-1], true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, frames []byte, sealed bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), append(segHeader(1), frames...), 0o644); err != nil {
			t.Fatal(err)
		}
		if sealed {
			if err := os.WriteFile(filepath.Join(dir, segName(4)), segHeader(4), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, Options{OnCorruption: CorruptionSkip, Fsync: FsyncNever, Logf: func(string, ...any) {}})
		if l == nil {
			t.Fatalf("Open: no log, %v", err)
		}
		defer l.Close()
		last := uint64(0)
		for seq := l.FirstSeq(); seq < l.NextSeq(); {
			recs, next, err := l.Read(seq, 100, 1<<20)
			if err != nil || next <= seq {
				t.Fatalf("Read(%d): next %d, %v", seq, next, err)
			}
			for _, r := range recs {
				if r.Seq <= last || r.Seq < seq {
					t.Fatalf("seq %d after %d", r.Seq, last)
				}
				last = r.Seq
			}
			seq = next
		}
		if err == nil {
			if _, err := l.Append([][]byte{[]byte("x")}, nil); err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
	})
}
