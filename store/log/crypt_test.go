package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testKeys is a keyring for tests: key id → material.
type testKeys map[string][]byte

func (k testKeys) get(id string) ([]byte, error) {
	if m, ok := k[id]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("no key %s", id)
}

func newTestKeys(ids ...string) testKeys {
	k := testKeys{}
	for i, id := range ids {
		k[id] = bytes.Repeat([]byte{byte(0x40 + i)}, KeyBytes)
	}
	return k
}

const (
	keyA = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
	keyB = "11111111-2222-3333-4444-555555555555"
)

// secretPayload is a record whose bytes a test looks for in the files.
func secretPayload(seq uint64) []byte { return fmt.Appendf(nil, "SECRET-payload-%06d", seq) }

func appendSecrets(t *testing.T, l *Log, n int) (first uint64) {
	t.Helper()
	next := l.NextSeq()
	var recs, hdrs [][]byte
	for i := range n {
		recs = append(recs, secretPayload(next+uint64(i)))
		hdrs = append(hdrs, fmt.Appendf(nil, "SECRET-pk-%06d", next+uint64(i)))
	}
	first, err := l.Append(recs, hdrs)
	if err != nil {
		t.Fatal(err)
	}
	return first
}

func filesContain(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	for _, p := range segFiles(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, needle) {
			return true
		}
	}
	return false
}

func TestEncryptedRecordsNeverReachTheFilesInPlaintext(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA)
	l := mustOpen(t, dir, Options{Keys: keys.get, SegmentBytes: 4 << 10})
	if err := l.SetEncryption(keyA, keys[keyA]); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		appendSecrets(t, l, 10)
	}
	l.Close()
	if files := segFiles(t, dir); len(files) < 3 {
		t.Fatalf("want several segments, got %d", len(files))
	}
	if filesContain(t, dir, []byte("SECRET")) {
		t.Fatal("plaintext of an encrypted record found in a segment file")
	}
	// The empty first segment was replaced, not left plaintext.
	first, err := os.ReadFile(segFiles(t, dir)[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(first[:8]) != encMagic {
		t.Fatalf("first segment starts %q, want an encrypted header", first[:8])
	}
}

// TestEncryptionAcrossRestartAndKeyChanges writes plaintext, then with key
// A, then key B, then plaintext again, and reads everything back
// byte-exact, with each record's key, before and after a restart.
func TestEncryptionAcrossRestartAndKeyChanges(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA, keyB)
	l := mustOpen(t, dir, Options{Keys: keys.get})
	want := map[uint64]string{}
	step := func(id string) {
		if err := l.SetEncryption(id, keys[id]); err != nil {
			t.Fatal(err)
		}
		first := appendSecrets(t, l, 5)
		for i := range 5 {
			want[first+uint64(i)] = id
		}
	}
	step("")
	step(keyA)
	step(keyB)
	step("")
	check := func(l *Log) {
		t.Helper()
		recs, _, err := l.Read(1, 100, 1<<20)
		if err != nil || len(recs) != 20 {
			t.Fatalf("Read = %d records, %v", len(recs), err)
		}
		for _, r := range recs {
			if !bytes.Equal(r.Data, secretPayload(r.Seq)) || string(r.Header) != fmt.Sprintf("SECRET-pk-%06d", r.Seq) {
				t.Fatalf("seq %d: data %q header %q", r.Seq, r.Data, r.Header)
			}
			if r.KeyID != want[r.Seq] {
				t.Fatalf("seq %d: KeyID %q, want %q", r.Seq, r.KeyID, want[r.Seq])
			}
		}
	}
	check(l)
	l.Close()
	if got := len(segFiles(t, dir)); got != 4 {
		t.Fatalf("%d segments, want one per key change (4)", got)
	}
	l = mustOpen(t, dir, Options{Keys: keys.get})
	check(l)
	// Writing on after the restart, still with key B set again.
	if err := l.SetEncryption(keyB, keys[keyB]); err != nil {
		t.Fatal(err)
	}
	first := appendSecrets(t, l, 3)
	recs, _, err := l.Read(first, 10, 1<<20)
	if err != nil || len(recs) != 3 || recs[0].KeyID != keyB {
		t.Fatalf("after restart: %d records, %v", len(recs), err)
	}
	l.Close()
	if filesContain(t, dir, secretPayload(first)) {
		t.Fatal("record written with key B after a restart is in plaintext on disk")
	}
}

func TestEncryptedSegmentWithoutItsKeyFailsOpen(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA)
	l := mustOpen(t, dir, Options{Keys: keys.get})
	l.SetEncryption(keyA, keys[keyA])
	appendSecrets(t, l, 3)
	l.Close()
	for _, opts := range []Options{{}, {Keys: newTestKeys(keyB).get}} {
		l, err := Open(dir, quiet(t, opts))
		if err == nil {
			l.Close()
			t.Fatal("Open without the key succeeded")
		}
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), keyA) || !strings.Contains(err.Error(), segName(1)) {
			t.Fatalf("Open error %q: want ErrKey naming the key and the segment", err)
		}
	}
	// The same key id with other material: every frame fails
	// authentication, so it is damage, never wrong plaintext.
	var ll logLines
	l, err := Open(dir, Options{Keys: testKeys{keyA: bytes.Repeat([]byte{9}, KeyBytes)}.get, Logf: ll.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if d := l.Damage(); len(d) != 1 || !strings.Contains(d[0].Reason, "authentication failed") {
		t.Fatalf("Damage = %+v", d)
	}
}

func TestSetEncryptionRejectsBadKeys(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{})
	defer l.Close()
	for _, c := range []struct {
		id  string
		key []byte
	}{{keyA, make([]byte, 16)}, {strings.Repeat("x", MaxKeyIDBytes+1), make([]byte, KeyBytes)}, {"a b", make([]byte, KeyBytes)}} {
		if err := l.SetEncryption(c.id, c.key); err == nil {
			t.Fatalf("SetEncryption(%q, %d bytes) accepted", c.id, len(c.key))
		}
	}
	if l.Encryption() != "" {
		t.Fatalf("Encryption() = %q after refused keys", l.Encryption())
	}
}

// sealedFrames returns the offsets of the frames of a healthy encrypted
// segment file and its bytes.
func sealedFrames(t *testing.T, path string) ([]int64, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := int64(encHeaderSize); off < int64(len(data)); {
		_, n, err := decodeFrame(data[off:], nil)
		if err != nil {
			t.Fatalf("%s at %d: %v", path, off, err)
		}
		offs = append(offs, off)
		off += int64(n)
	}
	return offs, data
}

func TestNoncesAreNeverReused(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA)
	l := mustOpen(t, dir, Options{Keys: keys.get})
	l.SetEncryption(keyA, keys[keyA])
	for range 50 {
		appendSecrets(t, l, 4)
	}
	l.Close()
	offs, data := sealedFrames(t, segFiles(t, dir)[0])
	seen := map[string]bool{}
	for _, off := range offs {
		n := string(data[off+frameHeadSize+bodyFixedSize : off+frameHeadSize+bodyFixedSize+nonceSize])
		if seen[n] {
			t.Fatalf("nonce at %d used before", off)
		}
		seen[n] = true
	}
	if len(seen) != 200 {
		t.Fatalf("%d frames", len(seen))
	}
}

// tamper changes one byte of the ciphertext of the frame at off and
// fixes its CRC, so only authentication can tell.
func tamper(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(binary.LittleEndian.Uint32(data[off:]))
	body := data[off+frameHeadSize : off+frameHeadSize+n]
	body[bodyFixedSize+nonceSize+2] ^= 0x01
	binary.LittleEndian.PutUint32(data[off+4:], crc32.Checksum(body, castagnoli))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedCiphertextIsDamage(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA)
	l := mustOpen(t, dir, Options{Keys: keys.get})
	l.SetEncryption(keyA, keys[keyA])
	appendSecrets(t, l, 10)
	l.Close()
	path := segFiles(t, dir)[0]
	offs, _ := sealedFrames(t, path)
	tamper(t, path, offs[4]) // seq 5

	var ll logLines
	l, err := Open(dir, Options{Keys: keys.get, Logf: ll.logf})
	if err != nil {
		t.Fatal(err)
	}
	d := l.Damage()
	if len(d) != 1 || d[0].File != path || d[0].Offset != offs[4] || d[0].FirstSeq != 5 || d[0].NextSeq != 6 ||
		!strings.Contains(d[0].Reason, "authentication failed") {
		t.Fatalf("Damage = %+v, want seq 5 at offset %d of %s", d, offs[4], path)
	}
	if len(ll.with("damaged segment", "authentication failed")) != 1 {
		t.Fatalf("damage not logged:\n%s", ll.String())
	}
	recs, _, err := l.Read(1, 100, 1<<20)
	if err != nil || len(recs) != 4 {
		t.Fatalf("Read(1) = %d records, %v; want the 4 before the damage", len(recs), err)
	}
	var cerr *CorruptError
	if _, _, err := l.Read(5, 100, 1<<20); !errors.As(err, &cerr) || cerr.Offset != offs[4] || cerr.Seq != 5 {
		t.Fatalf("Read(5) error %v, want a *CorruptError at offset %d", err, offs[4])
	}
	if recs, _, err := l.Read(6, 100, 1<<20); err != nil || len(recs) != 5 || !bytes.Equal(recs[4].Data, secretPayload(10)) {
		t.Fatalf("Read(6) = %d records, %v", len(recs), err)
	}

	// A frame changed after Open is a *CorruptError from Read.
	tamper(t, path, offs[7])
	if _, _, err := l.Read(8, 1, 1<<20); !errors.As(err, &cerr) || cerr.Offset != offs[7] || !strings.Contains(cerr.Reason, "authentication") {
		t.Fatalf("Read(8) after tampering = %v", err)
	}
	l.Close()
}

func TestBadEncryptedHeaderIsDamageAndWritesGoOn(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA)
	l := mustOpen(t, dir, Options{Keys: keys.get})
	l.SetEncryption(keyA, keys[keyA])
	appendSecrets(t, l, 5)
	l.Close()
	path := segFiles(t, dir)[0]
	flipBit(t, path, 20) // inside the salt: the header's CRC fails

	l = mustOpen(t, dir, Options{Keys: keys.get})
	defer l.Close()
	d := l.Damage()
	if len(d) != 1 || d[0].Offset != 0 || d[0].FirstSeq != 1 || d[0].NextSeq < 6 || !strings.Contains(d[0].Reason, "encrypted") {
		t.Fatalf("Damage = %+v", d)
	}
	next := l.NextSeq()
	l.SetEncryption(keyA, keys[keyA])
	first := appendSecrets(t, l, 2)
	if first != next || len(segFiles(t, dir)) != 2 {
		t.Fatalf("append after a bad header: first %d (want %d), %d segments", first, next, len(segFiles(t, dir)))
	}
	if recs, _, err := l.Read(first, 10, 1<<20); err != nil || len(recs) != 2 {
		t.Fatalf("Read = %d, %v", len(recs), err)
	}
}

func TestHalfWrittenEncryptedHeaderIsRepaired(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA)
	l := mustOpen(t, dir, Options{Keys: keys.get})
	l.Close()
	path := segFiles(t, dir)[0]
	// A crash while replacing the empty segment by an encrypted one.
	if err := os.WriteFile(path, encHeader(1, make([]byte, saltSize), keyA)[:40], 0o644); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, Options{Keys: keys.get})
	defer l.Close()
	if d := l.Damage(); len(d) != 0 {
		t.Fatalf("Damage = %+v", d)
	}
	l.SetEncryption(keyA, keys[keyA])
	appendSecrets(t, l, 3)
	if filesContain(t, dir, []byte("SECRET")) {
		t.Fatal("plaintext on disk")
	}
	readBack, _, err := l.Read(l.NextSeq()-3, 10, 1<<20)
	if err != nil || len(readBack) != 3 {
		t.Fatalf("Read = %d, %v", len(readBack), err)
	}
}

// fuzzCipher is the cipher of the fuzz tests' encrypted segments: key A
// with an all-zero salt.
func fuzzCipher(t testing.TB) *segCipher {
	c, err := newSegCipher(keyA, newTestKeys(keyA)[keyA], make([]byte, saltSize))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzSealedFrame seals a record and decodes it again: it round-trips,
// and changing any one byte of the frame makes it fail to decode (CRC or
// authentication), never decode to other contents.
func FuzzSealedFrame(f *testing.F) {
	f.Add(uint64(1), int64(1000), []byte("pk"), []byte("hello"), uint16(0))
	f.Add(uint64(1<<63), int64(-5), []byte{}, []byte{}, uint16(9))
	f.Add(uint64(42), int64(7), []byte("k"), bytes.Repeat([]byte("v"), 300), uint16(200))
	c := fuzzCipher(f)
	f.Fuzz(func(t *testing.T, seq uint64, ts int64, hdr, data []byte, at uint16) {
		if len(hdr) > maxHeaderBytes {
			return
		}
		nonce := bytes.Repeat([]byte{byte(seq)}, nonceSize)
		b := appendSealedFrame(nil, c, nonce, seq, ts, hdr, data)
		rec, n, err := decodeFrame(b, c)
		if err != nil || n != len(b) || rec.Seq != seq || rec.Timestamp != ts || !bytes.Equal(rec.Header, hdr) ||
			!bytes.Equal(rec.Data, data) || rec.KeyID != keyA {
			t.Fatalf("round trip: %+v, %d, %v", rec, n, err)
		}
		i := int(at) % len(b)
		b[i] ^= 0x80
		if rec, _, err := decodeFrame(b, c); err == nil && i >= frameHeadSize {
			t.Fatalf("byte %d changed and the frame still decodes: %+v", i, rec)
		}
	})
}

// FuzzRecoverEncryptedSegment is FuzzRecoverSegment for an encrypted
// segment: Open never panics, and a skipping reader reads the whole log
// without error, with increasing sequence numbers.
func FuzzRecoverEncryptedSegment(f *testing.F) {
	c := fuzzCipher(f)
	var good []byte
	for i := range uint64(6) {
		good = appendSealedFrame(good, c, bytes.Repeat([]byte{byte(i)}, nonceSize), 1+i, int64(i), []byte("k"), bytes.Repeat([]byte("v"), int(i*7)))
	}
	f.Add(good, false)
	f.Add(good, true)
	f.Add(append(append([]byte{}, good[:60]...), good[70:]...), false)
	flipped := append([]byte{}, good...)
	flipped[len(flipped)-3] ^= 1
	f.Add(flipped, false)
	f.Add(flipped[:len(flipped)-1], true)
	f.Add([]byte{}, true)
	keys := newTestKeys(keyA)
	f.Fuzz(func(t *testing.T, frames []byte, sealed bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), append(encHeader(1, make([]byte, saltSize), keyA), frames...), 0o644); err != nil {
			t.Fatal(err)
		}
		if sealed {
			if err := os.WriteFile(filepath.Join(dir, segName(4)), segHeader(4), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, Options{OnCorruption: CorruptionSkip, Fsync: FsyncNever, Keys: keys.get, Logf: func(string, ...any) {}})
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
				if r.Seq <= last || r.Seq < seq || r.KeyID != keyA {
					t.Fatalf("seq %d (key %q) after %d", r.Seq, r.KeyID, last)
				}
				last = r.Seq
			}
			seq = next
		}
	})
}

// TestSetEncryptionUnderConcurrentAppends changes the key while several
// goroutines append: every record reads back intact, and one appended
// after SetEncryption returned carries that key.
func TestSetEncryptionUnderConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA, keyB)
	l := mustOpen(t, dir, Options{Keys: keys.get, SegmentBytes: 8 << 10, Fsync: FsyncNever})
	stop := make(chan struct{})
	var mu sync.Mutex
	want := map[string]bool{} // every payload appended
	add := func(p []byte) ([][]byte, [][]byte) {
		mu.Lock()
		want[string(p)] = true
		mu.Unlock()
		return [][]byte{p}, [][]byte{[]byte("SECRET-pk")}
	}
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Append(add(fmt.Appendf(nil, "SECRET-%d-%d", g, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	order := []string{keyA, "", keyB, keyA, keyB, ""}
	for i := range 60 {
		id := order[i%len(order)]
		if err := l.SetEncryption(id, keys[id]); err != nil {
			t.Fatal(err)
		}
		first, err := l.Append(add(fmt.Appendf(nil, "SECRET-main-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := l.Read(first, 1, 1<<20)
		if err != nil || len(recs) != 1 || recs[0].KeyID != id {
			t.Fatalf("record appended after SetEncryption(%q): %+v, %v", id, recs, err)
		}
	}
	close(stop)
	wg.Wait()
	l.Close()
	l = mustOpen(t, dir, Options{Keys: keys.get})
	defer l.Close()
	seen := 0
	for seq := l.FirstSeq(); seq < l.NextSeq(); {
		recs, next, err := l.Read(seq, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !want[string(r.Data)] || string(r.Header) != "SECRET-pk" {
				t.Fatalf("seq %d: %q %q was not appended", r.Seq, r.Data, r.Header)
			}
			delete(want, string(r.Data))
			seen++
		}
		seq = next
	}
	if len(want) != 0 || seen < 60 {
		t.Fatalf("%d records read, %d appended records missing", seen, len(want))
	}
}

// TestEncryptionReplacesEmptyDamagedSegment starts encryption on a log
// whose only segment has a zeroed header and no record: the segment is
// replaced by an encrypted one of the same name, not doubled.
func TestEncryptionReplacesEmptyDamagedSegment(t *testing.T) {
	dir := t.TempDir()
	keys := newTestKeys(keyA)
	l := mustOpen(t, dir, Options{Keys: keys.get})
	l.Close()
	path := segFiles(t, dir)[0]
	if err := os.WriteFile(path, make([]byte, segHeaderSize), 0o644); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, Options{Keys: keys.get})
	if d := l.Damage(); len(d) != 1 || d[0].FirstSeq != d[0].NextSeq {
		t.Fatalf("Damage = %+v, want a bad header that lost no record", d)
	}
	l.SetEncryption(keyA, keys[keyA])
	first := appendSecrets(t, l, 3)
	l.Close()
	if files := segFiles(t, dir); len(files) != 1 || filesContain(t, dir, []byte("SECRET")) {
		t.Fatalf("segments %v (want one, encrypted)", files)
	}
	l = mustOpen(t, dir, Options{Keys: keys.get})
	defer l.Close()
	recs, _, err := l.Read(first, 10, 1<<20)
	if err != nil || len(recs) != 3 || recs[0].KeyID != keyA || !bytes.Equal(recs[2].Data, secretPayload(first+2)) {
		t.Fatalf("Read = %+v, %v", recs, err)
	}
}
