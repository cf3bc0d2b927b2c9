package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// The high-water mark file (see the package doc, "Sequence numbers that
// are never reused").
const (
	hwmName     = "hwm"
	hwmMagic    = "SLUICEH1"
	hwmBlock    = 1 << 16 // sequence numbers reserved at a time, at first
	hwmMaxBlock = 1 << 20 // the reservation doubles up to this while writes are fast
	hwmMaxSkips = 1 << 16 // a sane bound for decoding
)

// skip is a range [from, to) of sequence numbers reserved before a crash
// and never used: the gap before the segment starting at to is not damage.
type skip struct{ from, to uint64 }

// highWater is the content of the hwm file: no sequence number >= limit
// was handed out; clean says limit is exactly the next sequence number
// (written by Close).
type highWater struct {
	limit uint64
	clean bool
	skips []skip
}

func (h highWater) encode() []byte {
	b := make([]byte, 0, 8+8+1+4+16*len(h.skips)+4)
	b = append(b, hwmMagic...)
	b = binary.LittleEndian.AppendUint64(b, h.limit)
	flags := byte(0)
	if h.clean {
		flags = 1
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.skips)))
	for _, s := range h.skips {
		b = binary.LittleEndian.AppendUint64(b, s.from)
		b = binary.LittleEndian.AppendUint64(b, s.to)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadHWM = errors.New("bad high-water mark file")

func decodeHighWater(b []byte) (highWater, error) {
	const fixed = 8 + 8 + 1 + 4
	if len(b) < fixed+4 || string(b[:8]) != hwmMagic {
		return highWater{}, errBadHWM
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return highWater{}, fmt.Errorf("%w: CRC mismatch", errBadHWM)
	}
	h := highWater{limit: binary.LittleEndian.Uint64(b[8:]), clean: b[16]&1 != 0}
	n := binary.LittleEndian.Uint32(b[17:])
	if n > hwmMaxSkips || len(body) != fixed+16*int(n) {
		return highWater{}, fmt.Errorf("%w: wrong length", errBadHWM)
	}
	for i := range int(n) {
		p := body[fixed+16*i:]
		h.skips = append(h.skips, skip{binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])})
	}
	return h, nil
}

func (l *Log) hwmPath() string { return filepath.Join(l.dir, hwmName) }

// readHighWater reads the hwm file; found is false if there is none.
func (l *Log) readHighWater() (h highWater, found bool, err error) {
	f, err := l.opts.fs.OpenFile(l.hwmPath(), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return highWater{}, false, nil
	}
	if err != nil {
		return highWater{}, true, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return highWater{}, true, err
	}
	if st.Size() > 64+16*hwmMaxSkips {
		return highWater{}, true, fmt.Errorf("%w: %d bytes", errBadHWM, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return highWater{}, true, err
	}
	h, err = decodeHighWater(b)
	return h, true, err
}

// writeHighWater replaces the hwm file atomically and durably: a
// temporary file, fsync, rename, fsync of the folder.
func (l *Log) writeHighWater(h highWater) error {
	path := l.hwmPath()
	tmp := path + ".tmp"
	f, err := l.opts.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	_, err = f.WriteAt(h.encode(), 0)
	if err == nil {
		err = l.sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.opts.fs.Rename(tmp, path)
	}
	if err == nil {
		err = l.syncDir()
	}
	if err != nil {
		l.opts.fs.Remove(tmp)
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// reserve durably raises the high-water mark past need before records
// up to need-1 are written. It runs on the flusher, once per block of
// sequence numbers; the block doubles while blocks last under a second.
func (l *Log) reserve(need uint64) error {
	now := time.Now()
	block := l.hwBlock
	if !l.hwAt.IsZero() && now.Sub(l.hwAt) < time.Second && block < hwmMaxBlock {
		block *= 2
	}
	h := l.hw
	h.limit, h.clean = need+block, false
	if err := l.writeHighWater(h); err != nil {
		return fmt.Errorf("cannot reserve sequence numbers: %w", err)
	}
	l.hw, l.hwBlock, l.hwAt = h, block, now
	return nil
}
