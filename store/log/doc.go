// Package log is the durable, append-only log of one shard of the stream
// store: a folder of segment files, group-committed with fsync, read by
// sequence number or arrival time, trimmed by retention.
//
// # Lifecycle and ownership
//
// Open returns a *Log that owns its folder and one flusher goroutine; the
// caller must Close it, which drains pending appends, stops the flusher and
// closes the files. A folder must be opened by one Log at a time.
//
// Append returns only after its records are durable (see Options.Fsync).
// Sequence numbers are uint64, start at 1, are strictly increasing and
// gap-free within a log, and follow the order of acknowledgement. Readers may
// call Read, SeekTimestamp, FirstSeq and NextSeq concurrently with writers;
// they see only durable records: a commit is published to readers after its
// fsync and just before its Append calls return. Records returned by Read are owned by
// the caller. AppendAsync queues records the same way without waiting and
// reports the outcome to a callback, so one caller can have appends to
// several logs in one group commit each. A reader that has caught up waits
// on Changed, a channel closed at the next publish (or at Close), instead
// of polling.
//
// Arrival timestamps (Unix milliseconds) are taken by the log when a batch is
// committed and are made non-decreasing (max(clock, previous)), so they can be
// searched by SeekTimestamp and used for retention.
//
// # On-disk format
//
// A log folder holds segment files named "%020d.seg" after the sequence number
// of their first record. All integers are little endian.
//
//	segment  = header frame*
//	header   = magic "SLUICEL1" (8 bytes) | baseSeq uint64        (16 bytes)
//	frame    = bodyLen uint32 | crc uint32 | body
//	body     = seq uint64 | timestampMs int64 | hdrLen uint16 | hdr | payload
//	crc      = CRC32C (Castagnoli) of body
//
// bodyLen counts the body only (18 + hdrLen + len(payload)); the payload
// length is implied. hdr is an opaque, caller-defined field (the Kinesis layer
// keeps the partition key and explicit hash key there), at most 65535 bytes.
// Frames of a segment have consecutive sequence numbers starting at baseSeq,
// and the baseSeq of each segment equals the next sequence number of the
// previous one. The newest segment is the only one written; it is rolled
// when the next Append would take it over Options.SegmentBytes (one Append
// call is never split across segments, so a segment may exceed the size by
// at most one Append).
//
// The sparse index (one entry per Options.IndexInterval bytes, mapping a
// sequence number and its timestamp to a file offset) is kept in memory only.
// Open rebuilds it by streaming through every segment (a 64 KiB buffer),
// which also verifies every CRC, so corruption anywhere is found at Open and
// not first by a reader; the price is that Open reads the whole log.
//
// # Recovery
//
// On Open, a bad frame (short, implausible length, bad CRC or unexpected
// sequence number) in the newest segment with no valid frame after it is a
// torn tail, left by a crash during a write that was never acknowledged: the
// file is truncated at that frame. A bad frame anywhere else — in a sealed
// segment, or followed by a valid frame — is corruption: Open then returns
// BOTH a *CorruptError naming the file and offset and a non-nil, read-only
// *Log that serves every record before the bad frame (and nothing after it).
// The caller must Close that Log. Nothing is deleted or truncated in that
// case, so an operator can inspect or repair the files.
//
// A frame written by a torn un-acknowledged write is normally a tail; if the
// disk persisted a later part of such a write but not an earlier one, Open
// reports corruption rather than guessing (never silently drop data).
//
// # Retention
//
// DeleteBefore removes whole sealed segments, oldest first, whose newest
// record is older than the given time. The newest segment is never deleted,
// so sequence numbers never go backwards even when every record has expired.
package log
