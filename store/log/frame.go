package log

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

const (
	segMagic       = "SLUICEL1"
	segHeaderSize  = 16
	frameHeadSize  = 8  // bodyLen + crc
	bodyFixedSize  = 18 // seq + timestamp + hdrLen
	maxBodySize    = 1 << 26
	maxHeaderBytes = 1<<16 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errShortFrame means the bytes end inside a frame.
var errShortFrame = errors.New("short frame")

// errBadFrame means the frame is malformed or fails its CRC.
var errBadFrame = errors.New("bad frame")

// Record is one record of the log. Header and Data are owned by whoever got
// the Record (Read hands out fresh buffers).
type Record struct {
	Seq       uint64
	Timestamp int64 // arrival time, Unix milliseconds
	Header    []byte
	Data      []byte
	// KeyID names the key the record was encrypted with on disk ("" for
	// a record written in plaintext); Read returns it decrypted.
	KeyID string
}

func frameSize(hdr, data []byte) int {
	return frameHeadSize + bodyFixedSize + len(hdr) + len(data)
}

// appendFrame appends one encoded frame to dst.
func appendFrame(dst []byte, seq uint64, ts int64, hdr, data []byte) []byte {
	dst, start := appendFrameFixed(dst, bodyFixedSize+len(hdr)+len(data), seq, ts, len(hdr))
	dst = append(dst, hdr...)
	dst = append(dst, data...)
	return finishFrame(dst, start)
}

// appendFrameFixed appends a frame's head (its CRC left zero) and the fixed
// part of its body, and returns where the frame starts; the rest of the
// body follows, then finishFrame.
func appendFrameFixed(dst []byte, bodyLen int, seq uint64, ts int64, hdrLen int) ([]byte, int) {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(bodyLen))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(hdrLen))
	return dst, start
}

// finishFrame writes the CRC of the frame starting at start, whose body
// ends dst.
func finishFrame(dst []byte, start int) []byte {
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+frameHeadSize:], castagnoli))
	return dst
}

// frameBodyLen validates a frame head and returns the length of its body.
func frameBodyLen(head []byte) (int, error) {
	n := binary.LittleEndian.Uint32(head)
	if n < bodyFixedSize || n > maxBodySize {
		return 0, errBadFrame
	}
	return int(n), nil
}

// decodeBody checks the CRC of body and splits it into a Record whose slices
// alias body. In an encrypted segment (c not nil) it also authenticates and
// decrypts the record, in body when inPlace is set (the Record then
// aliases body), else into a new buffer.
func decodeBody(head, body []byte, c *segCipher, inPlace bool) (Record, error) {
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
		return Record{}, errBadFrame
	}
	if c != nil {
		hdr, data, err := c.openBody(body, inPlace)
		if err != nil {
			return Record{}, err
		}
		return Record{
			Seq:       binary.LittleEndian.Uint64(body),
			Timestamp: int64(binary.LittleEndian.Uint64(body[8:])),
			Header:    hdr,
			Data:      data,
			KeyID:     c.keyID,
		}, nil
	}
	hl := int(binary.LittleEndian.Uint16(body[16:]))
	if bodyFixedSize+hl > len(body) {
		return Record{}, errBadFrame
	}
	return Record{
		Seq:       binary.LittleEndian.Uint64(body),
		Timestamp: int64(binary.LittleEndian.Uint64(body[8:])),
		Header:    body[bodyFixedSize : bodyFixedSize+hl : bodyFixedSize+hl],
		Data:      body[bodyFixedSize+hl:],
	}, nil
}

// decodeFrame decodes the frame at the start of b and returns it with its
// encoded size. The Record aliases b. It returns errShortFrame when b ends
// inside the frame and errBadFrame when the frame is malformed. In an
// encrypted segment (c not nil) b is left as it was.
func decodeFrame(b []byte, c *segCipher) (Record, int, error) {
	if len(b) < frameHeadSize {
		return Record{}, 0, errShortFrame
	}
	n, err := frameBodyLen(b)
	if err != nil {
		return Record{}, 0, err
	}
	if len(b) < frameHeadSize+n {
		return Record{}, 0, errShortFrame
	}
	rec, err := decodeBody(b[:frameHeadSize], b[frameHeadSize:frameHeadSize+n], c, false)
	if err != nil {
		return Record{}, 0, err
	}
	return rec, frameHeadSize + n, nil
}
