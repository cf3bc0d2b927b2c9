package queue

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Record kinds of messages.log.
//
//	put        = 1 | id [16] | seq u64 | sentAt i64 | visibleAt i64 | firstReceiveAt i64 |
//	             receivedAt i64 | receiveCount u32 | nonce u64 | bodyLen u32 | body |
//	             nattrs u16 | (nameLen u16 | name | typeLen u16 | type | valueLen u32 | value)* |
//	             [groupLen u16 | group | dedupLen u16 | dedup | srcLen u16 | src [traceLen u16 | trace]]
//	             (FIFO queues, messages moved to a dead-letter queue from src,
//	             and messages sent with an AWSTraceHeader)
//	receive    = 2 | id [16] | visibleAt i64 | firstReceiveAt i64 | receivedAt i64 | receiveCount u32 | nonce u64
//	visibility = 3 | id [16] | visibleAt i64
//	delete     = 4 | id [16]
//	purge      = 5 | seq u64 (deletes every message with a sequence number <= seq)
//	dedup      = 6 | id [16] | seq u64 | at i64 | dedupLen u16 | dedup
//	             (a FIFO deduplication id still in its 5-minute window, in a rewritten log)
//
// Times are Unix milliseconds. A put records a whole message: sends write
// one, and a compacted log holds one per live message.
const (
	recPut        = 1
	recReceive    = 2
	recVisibility = 3
	recDelete     = 4
	recPurge      = 5
	recDedup      = 6
)

const frameHeader = 8

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var errShortRecord = errors.New("record too short")

// msg is a message in a queue's memory.
type msg struct {
	id         [16]byte
	seq        uint64
	sentAt     int64
	visibleAt  int64
	firstRecv  int64
	receivedAt int64
	count      uint32
	nonce      uint64
	body       string
	attrs      []MessageAttribute
	group      string // FIFO: MessageGroupId
	dedup      string // FIFO: MessageDeduplicationId (given or content-based)
	src        string // the queue a dead-letter message was moved from
	trace      string // the message system attribute AWSTraceHeader
	moving     bool   // being moved to the dead-letter queue (memory only)
	inflight   bool   // counted in flight (memory only; inflight.go)
	gen        uint64 // bumped on every change; heap entries of older gens are stale
	gone       bool
}

func (m *msg) bytes() int64 {
	n := int64(len(m.body)+len(m.trace)) + 80
	for _, a := range m.attrs {
		n += int64(len(a.Name)+len(a.DataType)+len(a.StringValue)+len(a.BinaryValue)) + 8
	}
	return n
}

// beginFrame appends a frame header to b, to be completed by endFrame.
func beginFrame(b []byte) ([]byte, int) {
	return append(b, make([]byte, frameHeader)...), len(b)
}

func endFrame(b []byte, at int) []byte {
	body := b[at+frameHeader:]
	binary.LittleEndian.PutUint32(b[at:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[at+4:], crc32.Checksum(body, crcTable))
	return b
}

func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

func appendPut(b []byte, m *msg) []byte {
	b, at := beginFrame(b)
	b = append(b, recPut)
	b = append(b, m.id[:]...)
	b = appendU64(b, m.seq)
	b = appendU64(b, uint64(m.sentAt))
	b = appendU64(b, uint64(m.visibleAt))
	b = appendU64(b, uint64(m.firstRecv))
	b = appendU64(b, uint64(m.receivedAt))
	b = binary.LittleEndian.AppendUint32(b, m.count)
	b = appendU64(b, m.nonce)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.body)))
	b = append(b, m.body...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.attrs)))
	for _, a := range m.attrs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(a.Name)))
		b = append(b, a.Name...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(a.DataType)))
		b = append(b, a.DataType...)
		v := a.BinaryValue
		if !a.isBinary() {
			v = []byte(a.StringValue)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	if m.group != "" || m.dedup != "" || m.src != "" || m.trace != "" {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(m.group)))
		b = append(b, m.group...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(m.dedup)))
		b = append(b, m.dedup...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(m.src)))
		b = append(b, m.src...)
		if m.trace != "" {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(m.trace)))
			b = append(b, m.trace...)
		}
	}
	return endFrame(b, at)
}

func appendDedup(b []byte, d dedupEntry, key string) []byte {
	b, at := beginFrame(b)
	b = append(b, recDedup)
	b = append(b, d.id[:]...)
	b = appendU64(b, d.seq)
	b = appendU64(b, uint64(d.at))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	return endFrame(b, at)
}

func appendReceive(b []byte, m *msg) []byte {
	b, at := beginFrame(b)
	b = append(b, recReceive)
	b = append(b, m.id[:]...)
	b = appendU64(b, uint64(m.visibleAt))
	b = appendU64(b, uint64(m.firstRecv))
	b = appendU64(b, uint64(m.receivedAt))
	b = binary.LittleEndian.AppendUint32(b, m.count)
	b = appendU64(b, m.nonce)
	return endFrame(b, at)
}

func appendVisibility(b []byte, m *msg) []byte {
	b, at := beginFrame(b)
	b = append(b, recVisibility)
	b = append(b, m.id[:]...)
	b = appendU64(b, uint64(m.visibleAt))
	return endFrame(b, at)
}

func appendDelete(b []byte, id [16]byte) []byte {
	b, at := beginFrame(b)
	b = append(b, recDelete)
	b = append(b, id[:]...)
	return endFrame(b, at)
}

func appendPurge(b []byte, seq uint64) []byte {
	b, at := beginFrame(b)
	b = append(b, recPurge)
	b = appendU64(b, seq)
	return endFrame(b, at)
}

// reader decodes the fields of one record body.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errShortRecord
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) id() (id [16]byte) {
	copy(id[:], r.take(16))
	return id
}

// record is a decoded record of messages.log.
type record struct {
	kind byte
	m    msg // put: the message; receive, visibility, delete: id and the fields they carry
	seq  uint64
}

func decodeRecord(body []byte) (record, error) {
	var rec record
	if len(body) == 0 {
		return rec, errShortRecord
	}
	rec.kind = body[0]
	r := &reader{b: body[1:]}
	m := &rec.m
	switch rec.kind {
	case recPut:
		m.id = r.id()
		m.seq = r.u64()
		m.sentAt = int64(r.u64())
		m.visibleAt = int64(r.u64())
		m.firstRecv = int64(r.u64())
		m.receivedAt = int64(r.u64())
		m.count = r.u32()
		m.nonce = r.u64()
		m.body = string(r.take(int(r.u32())))
		n := int(r.u16())
		for range n {
			var a MessageAttribute
			a.Name = string(r.take(int(r.u16())))
			a.DataType = string(r.take(int(r.u16())))
			v := r.take(int(r.u32()))
			if a.isBinary() {
				a.BinaryValue = append([]byte{}, v...)
			} else {
				a.StringValue = string(v)
			}
			m.attrs = append(m.attrs, a)
		}
		if r.err == nil && len(r.b) > 0 {
			m.group = string(r.take(int(r.u16())))
			m.dedup = string(r.take(int(r.u16())))
		}
		if r.err == nil && len(r.b) > 0 {
			m.src = string(r.take(int(r.u16())))
		}
		if r.err == nil && len(r.b) > 0 {
			m.trace = string(r.take(int(r.u16())))
		}
	case recReceive:
		m.id = r.id()
		m.visibleAt = int64(r.u64())
		m.firstRecv = int64(r.u64())
		m.receivedAt = int64(r.u64())
		m.count = r.u32()
		m.nonce = r.u64()
	case recVisibility:
		m.id = r.id()
		m.visibleAt = int64(r.u64())
	case recDelete:
		m.id = r.id()
	case recPurge:
		rec.seq = r.u64()
	case recDedup:
		m.id = r.id()
		m.seq = r.u64()
		m.sentAt = int64(r.u64())
		m.dedup = string(r.take(int(r.u16())))
	default:
		return rec, errors.New("unknown record kind")
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("record longer than its fields")
	}
	return rec, r.err
}
