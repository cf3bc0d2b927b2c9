package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// minFrameSize is the size of a frame with an empty header and payload: no
// n bytes can hold more than n/minFrameSize frames.
const minFrameSize = frameHeadSize + bodyFixedSize

// recoverSegment opens and scans one segment: it cuts a torn tail of the
// newest segment, records damage (see the package doc) in segment.damage
// and returns an error only for I/O failures.
func (l *Log) recoverSegment(base uint64, newest bool) (*segment, error) {
	path := filepath.Join(l.dir, segName(base))
	f, err := l.opts.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot open segment %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot stat segment %s: %w", path, err)
	}
	fileSize := st.Size()
	s := newSegment(path, base, f)
	hdrSize := int64(segHeaderSize)
	if fileSize >= int64(len(encMagic)) {
		magic := make([]byte, len(encMagic))
		if _, err := f.ReadAt(magic, 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot read segment %s: %w", path, err)
		}
		if string(magic) == encMagic {
			hdrSize = encHeaderSize
		}
	}
	if fileSize < hdrSize && newest {
		// Crashed while creating it: rewrite the header.
		err := f.Truncate(0)
		if err == nil {
			_, err = f.WriteAt(segHeader(base), 0)
		}
		if err == nil {
			err = l.sync(f)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot repair segment header %s: %w", path, err)
		}
		s.size = segHeaderSize
		return s, nil
	}
	if fileSize < hdrSize {
		// A sealed segment without its header: what it held is damage,
		// sized by the next segment's base (see reconcile).
		s.size = segHeaderSize
		s.addDamage(0, fileSize, base, base, true, "segment shorter than its header")
		return s, nil
	}
	hdr := make([]byte, hdrSize)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot read segment %s: %w", path, err)
	}
	if hdrSize == encHeaderSize {
		s.start = encHeaderSize
		salt, keyID, ok := parseEncHeader(hdr, base)
		if !ok {
			// Without its key id and salt no frame can be read: the
			// whole file is damage, sized by the next segment's base
			// (see reconcile) or, in the newest segment, by what the
			// bytes could hold; nothing is appended to it.
			s.size = fileSize
			if !newest {
				s.addDamage(0, fileSize, base, base, true, "bad header of encrypted segment")
				return s, nil
			}
			s.next = base + uint64(max(1, (fileSize-encHeaderSize+minFrameSize-1)/minFrameSize))
			s.addDamage(0, fileSize, base, s.next, false, "bad header of encrypted segment")
			s.broken = true
			return s, nil
		}
		c, err := l.openCipher(path, keyID, salt)
		if err != nil {
			f.Close()
			return nil, err
		}
		s.enc = c
	} else if string(hdr) != string(segHeader(base)) {
		// The frames check their own sequence numbers: keep reading them.
		s.addDamage(0, segHeaderSize, base, base, true, "bad segment header")
	}
	sc := newScanner(view{seg: s, off: s.start, size: fileSize})
	sc.reuse = true
	lastIdx := int64(-1)
	haveTs := false
	for sc.pos < fileSize {
		rec, err := sc.next()
		if err == nil && rec.Seq != s.next {
			err = errBadFrame
		}
		if err != nil && !isBadFrame(err) {
			f.Close()
			return nil, fmt.Errorf("cannot read segment %s at %d: %w", path, sc.off, err)
		}
		if err != nil {
			off := sc.off
			if newest {
				torn, err := l.isTornTail(f, off, fileSize, s.next)
				if err != nil {
					f.Close()
					return nil, fmt.Errorf("cannot read segment %s at %d: %w", path, off, err)
				}
				if torn {
					if err := f.Truncate(off); err != nil {
						f.Close()
						return nil, fmt.Errorf("cannot truncate torn tail of %s at %d: %w", path, off, err)
					}
					if err := l.sync(f); err != nil {
						f.Close()
						return nil, fmt.Errorf("cannot sync %s: %w", path, err)
					}
					if l.hw.clean && s.next < l.hw.limit {
						// Closed cleanly with records past here: the file
						// was cut, not torn by a crash (see raiseToHighWater).
						l.opts.Logf("log %s: cut an incomplete frame of %s at offset %d (%d bytes; the segment was truncated after a clean shutdown)", l.dir, path, off, fileSize-off)
					} else {
						l.opts.Logf("log %s: cut a torn tail of %s at offset %d (%d bytes of an unacknowledged write)", l.dir, path, off, fileSize-off)
					}
					s.size = off
					return s, nil
				}
			}
			p, seq, found, head, err := resync(f, off, fileSize, s.next, s.enc)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("cannot read segment %s at %d: %w", path, off, err)
			}
			reason := badFrameReason(head, fileSize-off, s.next, s.enc)
			if found {
				s.addDamage(off, off+p, s.next, seq, true, reason)
				s.next = seq
				sc = newScanner(view{seg: s, off: off + p, size: fileSize})
				sc.reuse = true
				lastIdx = -1
				continue
			}
			// Damage up to the end of the file. In a sealed segment the
			// next segment's base says which records it held; in the
			// newest one nothing does, so the sequence numbers the damaged
			// bytes could hold are all given up: none is reused.
			next := s.next
			if newest {
				next += uint64(max(1, (fileSize-off+minFrameSize-1)/minFrameSize))
			}
			s.addDamage(off, fileSize, s.next, next, false, reason)
			s.next = next
			s.size = fileSize
			return s, nil
		}
		if !haveTs {
			s.firstTs, haveTs = rec.Timestamp, true
		}
		if lastIdx < 0 || sc.off-lastIdx >= int64(l.opts.IndexInterval) {
			s.index = append(s.index, indexEntry{seq: rec.Seq, off: sc.off, ts: rec.Timestamp})
			lastIdx = sc.off
		}
		s.lastTs = rec.Timestamp
		s.next++
	}
	s.size = sc.pos
	return s, nil
}

// tornTail reports whether data, the bytes from a bad frame to the end of
// the newest segment, are an incomplete frame left by an interrupted write:
// they end inside the frame its length announces (or hold no plausible
// length, as a zero-filled or garbage tail), no complete frame is hidden
// behind a damaged length, and no valid frame follows. A complete frame
// whose CRC fails is damage, not a torn tail: it may have been acknowledged.
func tornTail(data []byte, next uint64) bool {
	if len(data) >= frameHeadSize {
		n, err := frameBodyLen(data)
		if err == nil && frameHeadSize+n <= len(data) {
			return false // complete frame
		}
		if lengthDamaged(data, next) {
			return false
		}
	}
	_, _, ok := nextValidFrame(data, 1, next)
	return !ok
}

// isTornTail reads the bytes from off to the end of the newest segment
// and applies tornTail.
func (l *Log) isTornTail(f file, off, fileSize int64, next uint64) (bool, error) {
	if fileSize-off >= frameHeadSize {
		var head [frameHeadSize]byte
		if _, err := f.ReadAt(head[:], off); err != nil {
			return false, err
		}
		if n, err := frameBodyLen(head[:]); err == nil && off+int64(frameHeadSize+n) <= fileSize {
			return false, nil // complete frame: no need to read the rest
		}
	}
	rest := make([]byte, fileSize-off)
	if _, err := f.ReadAt(rest, off); err != nil {
		return false, err
	}
	return tornTail(rest, next), nil
}

// resyncWindow is the first read of resync; it doubles until a valid frame
// is found or the file ends, so finding the frame after damage reads about
// twice the distance to it, not the rest of the file.
const resyncWindow = 1 << 20

// resync finds the first valid frame after the bad frame at off (see
// nextValidFrame) and returns its offset relative to off and its sequence
// number, and the first bytes of the bad frame, for badFrameReason.
func resync(f file, off, fileSize int64, next uint64, c *segCipher) (p int64, seq uint64, found bool, head []byte, err error) {
	for window := int64(resyncWindow); ; window *= 2 {
		n := min(window, fileSize-off)
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil {
			return 0, 0, false, nil, err
		}
		last := n == fileSize-off
		q, seq, ok := nextValidFrameIn(buf, 1, next, !last, c)
		if ok {
			return int64(q), seq, true, buf, nil
		}
		if last {
			return 0, 0, false, buf, nil
		}
	}
}

// lengthDamaged reports whether data starts with a complete frame of seq
// next whose length field was damaged: its body is intact and followed by
// other bytes (such as a torn frame) or none. The running CRC tries every
// end; the sequence number check first keeps it from firing on garbage.
func lengthDamaged(data []byte, next uint64) bool {
	if len(data) < minFrameSize || binary.LittleEndian.Uint64(data[frameHeadSize:]) != next {
		return false
	}
	want := binary.LittleEndian.Uint32(data[4:])
	c := crc32.Update(0, castagnoli, data[frameHeadSize:minFrameSize-1])
	for end := minFrameSize; end <= len(data); end++ {
		c = crc32.Update(c, castagnoli, data[end-1:end])
		if c == want {
			return true
		}
	}
	return false
}

// badFrameReason describes the bad frame at the start of data, the first
// bytes of the avail bytes left in the file, of a segment encrypted with c
// (nil: plaintext).
func badFrameReason(data []byte, avail int64, next uint64, c *segCipher) string {
	if len(data) < frameHeadSize {
		return fmt.Sprintf("frame head cut short (expected seq %d)", next)
	}
	n, err := frameBodyLen(data)
	switch {
	case err != nil:
		return fmt.Sprintf("implausible frame length %d (expected seq %d)", binary.LittleEndian.Uint32(data), next)
	case int64(frameHeadSize+n) > avail:
		return fmt.Sprintf("frame length %d runs past the end of the file (expected seq %d)", n, next)
	case frameHeadSize+n > len(data):
		return fmt.Sprintf("bad frame of %d bytes (expected seq %d)", n, next)
	}
	if rec, _, err := decodeFrame(data, nil); err == nil {
		if c != nil {
			if _, _, err := decodeFrame(data, c); err != nil {
				return fmt.Sprintf("authentication failed: bytes changed or not written with key %s (expected seq %d)", c.keyID, next)
			}
		}
		return fmt.Sprintf("frame holds seq %d, expected %d", rec.Seq, next)
	}
	return fmt.Sprintf("CRC mismatch (expected seq %d)", next)
}

// nextValidFrame finds the first valid frame starting at or after offset
// from of data whose sequence number is at least minSeq and at most
// minSeq + ceil(p/minFrameSize) for a frame at offset p (the bytes before
// it cannot hold more frames; recoverSegment gives up as many sequence
// numbers for damage at the end of the newest segment), and returns its
// offset and sequence number.
func nextValidFrame(data []byte, from int, minSeq uint64) (int, uint64, bool) {
	return nextValidFrameIn(data, from, minSeq, false, nil)
}

// nextValidFrameIn is nextValidFrame, over a window of a file when window
// is set: then it gives up at a candidate frame that runs past the end of
// data, which a larger window may show to be valid. In a segment encrypted
// with c a valid frame also passes authentication.
func nextValidFrameIn(data []byte, from int, minSeq uint64, window bool, c *segCipher) (p int, seq uint64, ok bool) {
	// Checking the sequence number before the CRC keeps this scan linear
	// on garbage.
	for p = from; p+minFrameSize <= len(data); p++ {
		seq = binary.LittleEndian.Uint64(data[p+frameHeadSize:])
		if seq < minSeq || seq > minSeq+uint64((p+minFrameSize-1)/minFrameSize) {
			continue
		}
		rec, _, err := decodeFrame(data[p:], c)
		if err == nil && rec.Seq == seq {
			return p, seq, true
		}
		if window && errors.Is(err, errShortFrame) {
			return 0, 0, false
		}
	}
	return 0, 0, false
}
