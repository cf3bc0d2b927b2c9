package log

import (
	"bytes"
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
		rec, n, err := decodeFrame(b)
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
