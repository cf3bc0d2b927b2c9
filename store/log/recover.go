package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// recoverSegment opens and scans one segment. It returns the segment (nil if
// nothing of it is readable), a *CorruptError if a bad frame is not a torn
// tail, or another error for I/O failures.
func (l *Log) recoverSegment(base uint64, newest bool) (*segment, *CorruptError, error) {
	path := filepath.Join(l.dir, segName(base))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open segment %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cannot stat segment %s: %w", path, err)
	}
	fileSize := st.Size()
	s := newSegment(path, base, f)
	if fileSize < segHeaderSize && newest {
		// Crashed while creating it: rewrite the header.
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt(segHeader(base), 0)
			if err == nil {
				err = l.sync(f)
			}
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("cannot repair segment header %s: %w", path, err)
		}
		s.size = segHeaderSize
		return s, nil, nil
	}
	hdr := make([]byte, segHeaderSize)
	if _, err := f.ReadAt(hdr, 0); err != nil && fileSize >= segHeaderSize {
		f.Close()
		return nil, nil, fmt.Errorf("cannot read segment %s: %w", path, err)
	}
	if fileSize < segHeaderSize || string(hdr) != string(segHeader(base)) {
		f.Close()
		return nil, &CorruptError{File: path, Offset: 0, Reason: "bad segment header"}, nil
	}
	sc := newScanner(view{seg: s, off: segHeaderSize, size: fileSize})
	sc.reuse = true
	lastIdx := int64(-1)
	for sc.pos < fileSize {
		rec, err := sc.next()
		if err == nil && rec.Seq != s.next {
			err = errBadFrame
		}
		if err != nil && !isBadFrame(err) {
			f.Close()
			return nil, nil, fmt.Errorf("cannot read segment %s at %d: %w", path, sc.off, err)
		}
		if err != nil {
			off := sc.off
			torn := newest
			if torn {
				tail := make([]byte, fileSize-off)
				if _, err := f.ReadAt(tail, off); err != nil {
					f.Close()
					return nil, nil, fmt.Errorf("cannot read segment %s at %d: %w", path, off, err)
				}
				torn = !validFrameAfter(tail, 1, s.next)
			}
			if !torn {
				s.size = off
				return s, &CorruptError{File: path, Offset: off, Reason: fmt.Sprintf("bad frame (expected seq %d)", s.next)}, nil
			}
			if err := f.Truncate(off); err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("cannot truncate torn tail of %s at %d: %w", path, off, err)
			}
			if err := l.sync(f); err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("cannot sync %s: %w", path, err)
			}
			s.size = off
			return s, nil, nil
		}
		if s.next == s.base {
			s.firstTs = rec.Timestamp
		}
		if lastIdx < 0 || sc.off-lastIdx >= int64(l.opts.IndexInterval) {
			s.index = append(s.index, indexEntry{seq: rec.Seq, off: sc.off, ts: rec.Timestamp})
			lastIdx = sc.off
		}
		s.lastTs = rec.Timestamp
		s.next++
	}
	s.size = sc.pos
	return s, nil, nil
}

// validFrameAfter reports whether any valid frame with a sequence number of
// at least minSeq starts at or after offset from.
func validFrameAfter(data []byte, from int64, minSeq uint64) bool {
	// No frame is shorter than frameHeadSize+bodyFixedSize, which bounds
	// the sequence numbers the rest of the file can hold. Checking that
	// before the CRC keeps this scan linear on garbage.
	maxSeq := minSeq + uint64(len(data))/(frameHeadSize+bodyFixedSize)
	for p := from; p+frameHeadSize+bodyFixedSize <= int64(len(data)); p++ {
		seq := binary.LittleEndian.Uint64(data[p+frameHeadSize:])
		if seq < minSeq || seq > maxSeq {
			continue
		}
		rec, _, err := decodeFrame(data[p:])
		if err == nil && rec.Seq >= minSeq {
			return true
		}
	}
	return false
}
