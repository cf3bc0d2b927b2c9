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
// Sequence numbers are uint64, start at 1, are strictly increasing, follow
// the order of acknowledgement and are never handed out twice, whatever
// recovery finds. They are gap-free except where damage found at Open lost
// records (see Recovery): readers must not assume next = seq + 1. Readers may
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
// Frames of a segment have increasing sequence numbers starting at baseSeq,
// consecutive except across damage, and the baseSeq of each segment equals
// the next sequence number of the previous one, except after sequence
// numbers skipped at Open (see below). The newest segment is the
// only one written; it is rolled
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
// # Encryption at rest
//
// SetEncryption gives the log a key (an id of at most 36 printable bytes
// and 32 bytes of AES-256 material); records appended after it are
// encrypted on disk with AES-256-GCM, in segments of their own: the first
// Append after a change of key rolls to a new segment (an empty newest
// segment is replaced instead, by a new file renamed over it). Segments
// written before stay as they are and stay readable, plaintext or under
// their own key, so a log may hold segments of several keys. Options.Keys
// gives Open the material of each key id it finds; a segment whose key it
// cannot give makes Open fail with ErrKey naming the segment and the key.
// Read returns records decrypted, each with the id of its key
// (Record.KeyID).
//
// An encrypted segment has another header; its frames keep the frame
// layout above, with the header and payload sealed:
//
//	header = magic "SLUICEE1" | baseSeq uint64 | salt [32] |
//	         keyID [36] (zero-padded) | crc uint32          (88 bytes)
//	body   = seq uint64 | timestampMs int64 | hdrLen uint16 |
//	         nonce [12] | AES-256-GCM(hdr | payload) | tag [16]
//
// crc is CRC32C of the header before it. Each segment is encrypted with
// its own key, derived from the master key and the segment's random salt
// with HKDF-SHA256, and the nonce of each frame is 12 fresh random bytes
// (read once per group commit for all its frames). The fixed part of the
// body (seq, timestamp, hdrLen) is authenticated with the sealed part, so
// a frame cannot be moved to another place or segment unnoticed.
//
// Nonces are never reused under one key: a (salt, nonce) pair would have
// to repeat, and with 256-bit random salts no two segments share a
// derived key, while within a segment a repeat among n frames has
// probability about n²/2^97 (under 2^-50 for a full 64 MiB segment).
// Random nonces, rather than nonces derived from sequence numbers, stay
// unique even where a sequence number is written twice into a segment
// (an append refused after a failed write, then retried).
//
// The CRC covers the sealed bytes, so torn tails, damage, resync and
// group commit work on encrypted segments as on plaintext ones. Open
// also authenticates every frame: a frame whose CRC holds but whose tag
// fails (bytes changed, with the CRC fixed, or material that is not the
// key's) is damage at its place, reported as "authentication failed". A
// frame that fails after Open is a *CorruptError from Read. An encrypted
// segment whose header fails its CRC is damage as a whole; when it is the
// newest segment, writes go on in a new one. An encrypted header cut
// short in the newest segment (a crash while creating it) is rewritten as
// an empty plaintext segment.
//
// # Recovery
//
// On Open, a bad frame (short, implausible length, bad CRC or unexpected
// sequence number) is one of two things:
//
//   - A torn tail: in the newest segment, the bytes from the bad frame to
//     the end of the file are an incomplete frame (they end inside the frame
//     its length announces, or hold no plausible length, as a zero-filled
//     tail), no valid frame follows, and they do not start with the intact
//     body of the expected record behind a damaged length field. It is left by a crash during a write
//     that was never acknowledged, so no reader ever saw its sequence
//     numbers: the file is cut there and the cut is logged (Options.Logf,
//     naming file and offset).
//   - Damage: anything else, in particular a complete frame whose CRC fails,
//     even as the last frame of the newest segment (it may have been
//     acknowledged). Nothing is cut or deleted, so an operator can inspect
//     the files. Open looks for the next valid frame (one whose sequence
//     number the damaged bytes could precede: at most one per 26 bytes, the
//     smallest frame) and goes on from there, so one bad byte loses one
//     record, not the rest of the log. Each damaged region is logged and
//     listed by Damage (file, offset, length, the records lost).
//
// The records lost to damage are the sequence numbers between the last
// good frame before it and the first after it; in a sealed segment with no
// valid frame after the damage, the next segment's baseSeq ends them; and
// records missing between two segments (a lost file) are damage of the
// first. Damage at the end of the newest segment has nothing after it to
// say how many records it held, so the log gives up as many sequence
// numbers as the damaged bytes could hold (ceil(length/26), at least one)
// and appends after the damaged bytes: a sequence number a consumer may
// have checkpointed is never handed out again. Writes go on after damage.
//
// Readers meet damage where it is: with Options.OnCorruption
// CorruptionStop (the default) Read returns the records before it and then
// a *CorruptError naming file, offset and the lost sequence numbers; with
// CorruptionSkip it continues at the next intact record and logs the skip
// (at most once a minute per damaged region). A frame that goes bad after
// Open is a *CorruptError from Read in either mode.
//
// Segments whose files overlap (a segment starting before the previous
// one ends) cannot be reconciled: Open then returns BOTH a *CorruptError
// naming the file and a non-nil, read-only *Log that serves the segments
// before it. The caller must Close that Log.
//
// # Sequence numbers that are never reused
//
// Recovery alone cannot see records lost from the end of the log: a
// deleted newest segment, or one truncated at a frame boundary or inside a
// frame (which would look like a torn tail). So the folder also holds a
// high-water mark file "hwm", meaning "no sequence number >= H was handed
// out":
//
//	hwm  = magic "SLUICEH1" | H uint64 | flags uint8 (1: clean) |
//	       nskips uint32 | (from uint64 | to uint64)* | crc uint32
//
// (crc is CRC32C of everything before it). It is replaced atomically:
// written to "hwm.tmp", fsync'd, renamed, and the folder fsync'd.
// Sequence numbers are reserved in blocks: before a group commit writes a
// record with a sequence number >= H, the flusher raises H past the batch
// by a block (65536, doubling up to 1<<20 while blocks last under a
// second), so the extra fsyncs come once per block, never per record. A
// failure to write the file refuses that group commit with ErrUnavailable
// like any write failure. Close writes H = NextSeq exactly, marked clean.
//
// Open compares the recovered next sequence number N with H. If N >= H
// nothing is missing. If the file says clean and N < H, acknowledged
// records [N, H) are gone (newest segment truncated or deleted): this is
// logged as records missing, naming the folder and the range, listed by
// Damage as damage at the end of the newest remaining segment (readers
// meet it as any damage), and a cut frame is not called a torn tail. If
// the log was not closed cleanly, [N, H) were reserved but perhaps never
// used: Open skips them, logs one line, and records the skip in the file.
// Either way the log goes on in a new segment with baseSeq H, so no number
// is handed out twice. A skip is not damage: Read passes from the end of
// one segment straight to the next, and a reader positioned inside the gap
// continues at the next record; the skip ranges let later Opens tell such
// a gap from a lost segment (skips before the oldest segment are dropped).
// A missing or unreadable hwm file on a folder with segments (a log from
// before this file existed, or a deleted file) falls back to N, is logged
// once, and a new file is written. Only records lost while the log was
// not closed cleanly, or without an hwm file, go undetected; their numbers
// are still not reused as long as the file is there.
//
// # Write failures
//
// A failed write, fsync or segment creation (a full disk, an exhausted
// descriptor table) fails the Append calls of that group commit with
// ErrUnavailable and nothing else: the bytes written for them are cut off
// again (retried before the next write if the cut fails too), nothing
// acknowledged is touched, and the next Append tries again. The log says
// once when it starts refusing appends and once when writing works again.
//
// # Retention
//
// DeleteBefore removes whole sealed segments, oldest first, whose newest
// record is older than the given time. The newest segment is never deleted,
// so sequence numbers never go backwards even when every record has expired.
package log
