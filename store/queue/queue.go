package queue

import (
	"cmp"
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/atomicfile"
	"github.com/sluicehq/sluice/store"
)

// meta is a queue's queue.json.
type meta struct {
	Name       string            `json:"name"`
	Attributes Attributes        `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
	Created    int64             `json:"created"`        // Unix seconds
	Modified   int64             `json:"modified"`       // Unix seconds
	Move       *moveState        `json:"move,omitempty"` // the newest message move task from the queue (move.go)
}

// Queue is one queue of a Store.
type Queue struct {
	s   *Store
	dir string

	mu      sync.Mutex
	meta    meta
	msgs    map[[16]byte]*msg
	due     dueHeap // messages by the time they become visible, lazily cleaned
	nextSeq uint64
	live    int64 // approximate bytes of the live messages' records
	w       *wal
	waiters int
	// fifoWake is when the first message of a FIFO queue hidden at its
	// last receive shows again (0: none); takeFIFO sets it.
	fifoWake int64
	changed  chan struct{} // closed (and replaced) when a message may have become visible
	deleted  bool
	closed   bool
	purged   time.Time // last PurgeQueue
	scratch  []byte

	// FIFO queues: the live messages in send order (lazily cleaned of
	// deleted ones), and the deduplication ids of the last 5 minutes.
	order   []*msg
	dedups  map[string]dedupEntry
	pruneAt int

	rd redrive // the parsed RedrivePolicy

	// In-flight accounting (inflight.go): the messages marked in flight
	// and their visibility deadlines.
	inflight int
	expiry   dueHeap

	counts counts // since the store opened
}

// counts are what a queue has done since its store opened, for metrics.
type counts struct {
	sent, received, deleted, deadLettered, sentBytes uint64
}

// DedupWindow is how long a FIFO queue remembers a deduplication id.
const DedupWindow = 5 * time.Minute

// dedupEntry is the message a deduplication id was first sent with.
type dedupEntry struct {
	id  [16]byte
	seq uint64
	at  int64 // Unix ms of the send
}

// dedupKey is the key a deduplication id is remembered under: the id, or
// the group and the id when DeduplicationScope is messageGroup.
func (q *Queue) dedupKey(group, dedup string) string {
	if q.meta.Attributes.DeduplicationScope == "messageGroup" {
		return group + "\x00" + dedup
	}
	return dedup
}

// SequenceNumber formats a FIFO message's sequence number as SQS does: a
// decimal string of 20 digits, growing with the send order.
func SequenceNumber(seq uint64) string { return fmt.Sprintf("%020d", seq+1) }

func (q *Queue) fifo() bool { return q.meta.Attributes.FifoQueue }

// rebuildOrder sorts the live messages by sequence number (after replay).
func (q *Queue) rebuildOrder() {
	q.order = q.order[:0]
	for _, m := range q.msgs {
		q.order = append(q.order, m)
	}
	slices.SortFunc(q.order, func(a, b *msg) int { return cmp.Compare(a.seq, b.seq) })
}

// Name is the queue's name.
func (q *Queue) Name() string { return q.meta.Name }

func (q *Queue) now() int64 { return q.s.opts.Now().UnixMilli() }

// usable reports why the queue cannot be used, if it cannot. The caller holds q.mu.
func (q *Queue) usable() error {
	switch {
	case q.closed:
		return ErrClosed
	case q.deleted:
		return ErrQueueDeleted
	}
	return nil
}

// apply replays one record of the log.
func (q *Queue) apply(rec record) error {
	switch rec.kind {
	case recPut:
		m := rec.m
		q.msgs[m.id] = &m
		q.nextSeq = max(q.nextSeq, m.seq+1)
		q.live += m.bytes()
		if m.dedup != "" {
			q.dedups[q.dedupKey(m.group, m.dedup)] = dedupEntry{id: m.id, seq: m.seq, at: m.sentAt}
		}
	case recDedup:
		if e, ok := q.dedups[rec.m.dedup]; !ok || e.at < rec.m.sentAt {
			q.dedups[rec.m.dedup] = dedupEntry{id: rec.m.id, seq: rec.m.seq, at: rec.m.sentAt}
		}
		q.nextSeq = max(q.nextSeq, rec.m.seq+1)
	case recReceive, recVisibility:
		m := q.msgs[rec.m.id]
		if m == nil {
			return nil // deleted later in a log that was rewritten; harmless
		}
		m.visibleAt = rec.m.visibleAt
		if rec.kind == recReceive {
			m.firstRecv, m.receivedAt, m.count, m.nonce = rec.m.firstRecv, rec.m.receivedAt, rec.m.count, rec.m.nonce
		}
	case recDelete:
		if m := q.msgs[rec.m.id]; m != nil {
			delete(q.msgs, m.id)
			q.live -= m.bytes()
		}
	case recPurge:
		for id, m := range q.msgs {
			if m.seq <= rec.seq {
				delete(q.msgs, id)
				q.live -= m.bytes()
			}
		}
		q.nextSeq = max(q.nextSeq, rec.seq+1)
	}
	return nil
}

// rebuildHeap fills due after replay.
func (q *Queue) rebuildHeap() {
	q.due = q.due[:0]
	for _, m := range q.msgs {
		q.due = append(q.due, dueEntry{m: m, at: m.visibleAt, seq: m.seq, gen: m.gen})
	}
	heap.Init(&q.due)
}

func (q *Queue) push(m *msg) {
	m.gen++
	if len(q.due) > 2*len(q.msgs)+64 { // mostly stale entries
		q.rebuildHeap()
		return
	}
	heap.Push(&q.due, dueEntry{m: m, at: m.visibleAt, seq: m.seq, gen: m.gen})
}

// wake wakes long polls. The caller holds q.mu.
func (q *Queue) wake() {
	if q.waiters > 0 {
		close(q.changed)
		q.changed = make(chan struct{})
	}
}

func (q *Queue) retentionMs() int64 { return int64(q.meta.Attributes.MessageRetentionPeriod) * 1000 }

// remove deletes m from memory. The caller holds q.mu and logs the delete.
func (q *Queue) remove(m *msg) {
	delete(q.msgs, m.id)
	m.gone = true
	m.gen++
	q.live -= m.bytes()
	q.unmarkInflight(m)
}

// Send sends messages (one SendMessage, or the entries of a
// SendMessageBatch). A message refused by validation has its Err set and
// the others are sent; the call's error is for the whole call (the queue
// deleted, the store closed or unable to write: then none is acknowledged).
func (q *Queue) Send(ctx context.Context, in []SendInput) ([]SendResult, error) {
	out := make([]SendResult, len(in))
	q.mu.Lock()
	if err := q.usable(); err != nil {
		q.mu.Unlock()
		return nil, err
	}
	now := q.now()
	a := q.meta.Attributes
	buf := q.scratch[:0]
	for i, si := range in {
		if err := checkMessage(si, a); err != nil {
			out[i].Err = err
			continue
		}
		var key, dedup string
		if a.FifoQueue {
			var err error
			if dedup, err = checkFIFOSend(si, a); err != nil {
				out[i].Err = err
				continue
			}
			key = q.dedupKey(si.Group, dedup)
			if e, ok := q.dedups[key]; ok && now < e.at+DedupWindow.Milliseconds() {
				out[i] = SendResult{ID: formatID(e.id), MD5OfBody: MD5OfBody(si.Body), MD5OfAttributes: MD5OfAttributes(si.Attributes),
					MD5OfSystemAttributes: MD5OfTraceHeader(si.TraceHeader), SequenceNumber: SequenceNumber(e.seq)}
				continue
			}
		} else if si.Group != "" || si.DedupID != "" {
			out[i].Err = &ValueError{Name: "MessageDeduplicationId", Reason: "The request includes a parameter that is not valid for this queue type (MessageGroupId and MessageDeduplicationId are for FIFO queues)."}
			continue
		}
		delay := time.Duration(a.DelaySeconds) * time.Second
		if si.HasDelay {
			delay = si.Delay
		}
		m := &msg{id: newID(), seq: q.nextSeq, sentAt: now, visibleAt: now + delay.Milliseconds(), body: si.Body, group: si.Group, dedup: dedup,
			trace: si.TraceHeader}
		if a.FifoQueue {
			q.dedups[key] = dedupEntry{id: m.id, seq: m.seq, at: now}
			q.order = append(q.order, m)
		}
		if len(si.Attributes) > 0 {
			m.attrs = sortedAttrs(si.Attributes)
			for j := range m.attrs {
				if m.attrs[j].BinaryValue != nil {
					m.attrs[j].BinaryValue = append([]byte{}, m.attrs[j].BinaryValue...)
				}
			}
		}
		q.nextSeq++
		q.msgs[m.id] = m
		q.live += m.bytes()
		q.push(m)
		buf = appendPut(buf, m)
		q.counts.sent++
		q.counts.sentBytes += uint64(messageSize(si))
		out[i] = SendResult{ID: formatID(m.id), MD5OfBody: MD5OfBody(m.body), MD5OfAttributes: MD5OfAttributes(m.attrs),
			MD5OfSystemAttributes: MD5OfTraceHeader(m.trace)}
		if a.FifoQueue {
			out[i].SequenceNumber = SequenceNumber(m.seq)
		}
	}
	if a.FifoQueue && len(q.dedups) > q.pruneAt {
		for k, e := range q.dedups {
			if now >= e.at+DedupWindow.Milliseconds() {
				delete(q.dedups, k)
			}
		}
		q.pruneAt = max(1024, 2*len(q.dedups))
	}
	b := q.enqueue(buf, true)
	q.mu.Unlock()
	if err := q.commit(b); err != nil {
		return nil, err
	}
	return out, nil
}

// commit waits for b and then rewrites the log if it is mostly dead records.
// enqueue hands buf, the records of a change made under q.mu, to the log
// and keeps its room for the next change; when buf holds records and wake
// is set, it wakes the long polls. It returns the batch to commit after
// q.mu is released (nil: nothing to write). The caller holds q.mu.
func (q *Queue) enqueue(buf []byte, wake bool) *batch {
	var b *batch
	if len(buf) > 0 {
		b = q.w.enqueue(buf)
		if wake {
			q.wake()
		}
	}
	q.scratch = buf[:0]
	return b
}

// commit waits until batch b (nil: none) is written, then compacts the log
// if it is due.
func (q *Queue) commit(b *batch) error {
	if b == nil {
		return nil
	}
	err := q.w.wait(b)
	q.maybeCompact()
	return err
}

// Compaction: rewrite the log once it is over compactMin bytes and over
// compactRatio times the live messages' records.
const compactRatio = 4

var compactMin int64 = 4 << 20 // a variable for tests

func (q *Queue) maybeCompact() {
	q.w.mu.Lock()
	size := q.w.size
	q.w.mu.Unlock()
	if size < compactMin {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.deleted || size < compactRatio*max(q.live, 1) {
		return
	}
	q.compactLocked()
}

// compactLocked rewrites the log with the live messages. The caller holds q.mu.
func (q *Queue) compactLocked() bool {
	var snap []byte
	if q.nextSeq > 0 { // keep the sequence numbers growing after a purge of everything
		snap = appendPurge(snap, q.nextSeq-1)
	}
	for _, m := range q.msgs {
		snap = appendPut(snap, m)
	}
	now := q.now()
	for k, e := range q.dedups {
		if now < e.at+DedupWindow.Milliseconds() {
			snap = appendDedup(snap, e, k)
		}
	}
	return q.w.rewrite(snap)
}

// ReceiveOptions are the parameters of a receive. Nil pointers take the
// queue's attributes.
type ReceiveOptions struct {
	Max        int            // 1 to 10; 0 means 1
	Visibility *time.Duration // 0 to 12 h
	Wait       *time.Duration // 0 to 20 s
}

// Receive returns up to opt.Max visible messages, oldest visible first,
// making them invisible for the visibility timeout. With a wait, it
// returns as soon as one message is visible, or empty when the wait is
// over (or ctx is done, or the store closes).
func (q *Queue) Receive(ctx context.Context, opt ReceiveOptions) ([]Message, error) {
	n := opt.Max
	if n == 0 {
		n = 1
	}
	if n < 1 || n > MaxReceive {
		return nil, &ValueError{Name: "MaxNumberOfMessages", Reason: "Must be between 1 and 10, if provided."}
	}
	if opt.Visibility != nil && (*opt.Visibility < 0 || *opt.Visibility > MaxVisibility) {
		return nil, &ValueError{Name: "VisibilityTimeout", Reason: "Must be between 0 and 43200, if provided."}
	}
	if opt.Wait != nil && (*opt.Wait < 0 || *opt.Wait > MaxWait) {
		return nil, &ValueError{Name: "WaitTimeSeconds", Reason: "Must be >= 0 and <= 20, if provided."}
	}
	q.mu.Lock()
	if err := q.usable(); err != nil {
		q.mu.Unlock()
		return nil, err
	}
	a := q.meta.Attributes
	vis := time.Duration(a.VisibilityTimeout) * time.Second
	if opt.Visibility != nil {
		vis = *opt.Visibility
	}
	wait := time.Duration(a.ReceiveMessageWaitTimeSeconds) * time.Second
	if opt.Wait != nil {
		wait = *opt.Wait
	}
	deadline := q.now() + wait.Milliseconds()
	for {
		now := q.now()
		room := q.inflightRoom(now)
		if room <= 0 && !q.fifo() && wait == 0 { // short polling; a long poll waits for room, as SQS's
			q.mu.Unlock()
			return nil, ErrOverLimit
		}
		out, b, moving := q.take(now, min(n, max(room, 0)), vis.Milliseconds())
		rd := q.rd
		if len(out) > 0 || now >= deadline {
			q.mu.Unlock()
			if len(moving) > 0 {
				q.moveToDeadLetter(ctx, rd, moving)
			}
			if b != nil {
				if err := q.commit(b); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		next := deadline
		if q.fifo() {
			// A FIFO receive reads messages in send order, not from due,
			// whose top may be long past: wake when the first message
			// hidden now (in flight or delayed) shows again.
			if q.fifoWake > now {
				next = min(next, q.fifoWake)
			}
		} else if len(q.due) > 0 && q.due[0].at > now {
			next = min(next, q.due[0].at)
		}
		ch := q.changed
		q.waiters++
		q.mu.Unlock()
		if len(moving) > 0 {
			q.moveToDeadLetter(ctx, rd, moving)
		}
		if b != nil { // retention deletes only
			_ = q.commit(b)
		}
		t := time.NewTimer(time.Duration(next-now) * time.Millisecond)
		var done bool
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			done = true
		case <-q.s.stop:
			done = true
		}
		t.Stop()
		q.mu.Lock()
		q.waiters--
		if err := q.usable(); err != nil {
			q.mu.Unlock()
			return nil, err
		}
		if done {
			q.mu.Unlock()
			return nil, nil
		}
	}
}

// take receives up to n visible messages at now, and deletes the expired
// ones it meets. The caller holds q.mu.
func (q *Queue) take(now int64, n int, visMs int64) (out []Message, b *batch, moving []*msg) {
	if q.fifo() {
		return q.takeFIFO(now, n, visMs)
	}
	var taken []*msg
	buf := q.scratch[:0]
	ret := q.retentionMs()
	for len(out) < n && len(q.due) > 0 {
		e := q.due[0]
		if e.m.gone || e.gen != e.m.gen {
			heap.Pop(&q.due)
			continue
		}
		if e.at > now {
			break
		}
		heap.Pop(&q.due)
		m := e.m
		if now >= m.sentAt+ret {
			q.remove(m)
			buf = appendDelete(buf, m.id)
			continue
		}
		if q.rd.maxReceive > 0 && m.count >= q.rd.maxReceive {
			m.moving = true
			m.gen++
			moving = append(moving, m)
			continue
		}
		m.received(now, visMs)
		m.gen++
		taken = append(taken, m)
		buf = appendReceive(buf, m)
		out = append(out, m.message())
	}
	for _, m := range taken { // after the loop: a visibility of 0 must not hand it out twice
		q.push(m)
		q.markInflight(m)
	}
	q.counts.received += uint64(len(out))
	return out, q.enqueue(buf, false), moving
}

// takeFIFO receives up to n messages of a FIFO queue at now: in send
// order, from groups without a message in flight, and within a group only
// up to its first message that is not visible (delayed). The caller holds q.mu.
func (q *Queue) takeFIFO(now int64, n int, visMs int64) (out []Message, b *batch, moving []*msg) {
	if len(q.order) > 2*len(q.msgs)+64 {
		q.order = slices.DeleteFunc(q.order, func(m *msg) bool { return m.gone })
	}
	blocked := map[string]bool{}
	q.fifoWake = 0
	for _, m := range q.msgs {
		if m.visibleAt > now {
			if m.count > 0 {
				blocked[m.group] = true
			}
			if q.fifoWake == 0 || m.visibleAt < q.fifoWake {
				q.fifoWake = m.visibleAt
			}
		}
	}
	var taken []*msg
	buf := q.scratch[:0]
	ret := q.retentionMs()
	for _, m := range q.order {
		if len(out) >= n {
			break
		}
		if m.gone || blocked[m.group] {
			continue
		}
		if m.moving {
			blocked[m.group] = true
			continue
		}
		if now >= m.sentAt+ret {
			q.remove(m)
			buf = appendDelete(buf, m.id)
			continue
		}
		if m.visibleAt > now {
			blocked[m.group] = true
			continue
		}
		if q.rd.maxReceive > 0 && m.count >= q.rd.maxReceive {
			m.moving = true
			m.gen++
			moving = append(moving, m)
			blocked[m.group] = true // the rest of the group waits for the move
			continue
		}
		m.received(now, visMs)
		taken = append(taken, m)
		buf = appendReceive(buf, m)
		out = append(out, m.message())
	}
	for _, m := range taken {
		q.push(m)
		q.markInflight(m)
	}
	q.counts.received += uint64(len(out))
	return out, q.enqueue(buf, false), moving
}

// received records a receive of m at now that hides it for visMs: its
// receive count, times and a new receipt handle's nonce.
func (m *msg) received(now, visMs int64) {
	m.count++
	if m.firstRecv == 0 {
		m.firstRecv = now
	}
	m.receivedAt = now
	m.visibleAt = now + visMs
	m.nonce = randU64()
}

func (m *msg) message() Message {
	out := Message{ID: formatID(m.id), Receipt: m.receipt(), Body: m.body, MD5OfBody: MD5OfBody(m.body),
		SentAt: time.UnixMilli(m.sentAt), FirstReceiveAt: time.UnixMilli(m.firstRecv), ReceiveCount: int(m.count),
		Group: m.group, DedupID: m.dedup, TraceHeader: m.trace}
	if m.group != "" {
		out.SequenceNumber = SequenceNumber(m.seq)
	}
	if len(m.attrs) > 0 {
		out.Attributes = make([]MessageAttribute, len(m.attrs))
		for i, a := range m.attrs {
			a.BinaryValue = append([]byte(nil), a.BinaryValue...)
			out.Attributes[i] = a
		}
		out.MD5OfAttributes = MD5OfAttributes(m.attrs)
	}
	return out
}

// A receipt handle is the base64url of the message id, its receive count
// and the receive's random nonce.
const receiptBytes = 16 + 4 + 8

func (m *msg) receipt() string {
	var b [receiptBytes]byte
	copy(b[:], m.id[:])
	binary.BigEndian.PutUint32(b[16:], m.count)
	binary.BigEndian.PutUint64(b[20:], m.nonce)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func parseReceipt(s string) (id [16]byte, count uint32, nonce uint64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != receiptBytes {
		return id, 0, 0, ErrReceiptInvalid
	}
	copy(id[:], b)
	return id, binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint64(b[20:]), nil
}

// Delete deletes the messages the receipts name (one DeleteMessage, or the
// entries of a DeleteMessageBatch), returning one error per receipt
// (ErrReceiptInvalid for a malformed one). A receipt that is not the
// message's newest, or of a message already deleted, is accepted and does
// nothing. The call's error is for the whole call.
func (q *Queue) Delete(ctx context.Context, receipts []string) ([]error, error) {
	errs := make([]error, len(receipts))
	q.mu.Lock()
	if err := q.usable(); err != nil {
		q.mu.Unlock()
		return nil, err
	}
	buf := q.scratch[:0]
	full := q.inflightRoom(q.now()) <= 0 // a delete makes room for long polls
	for i, r := range receipts {
		id, count, nonce, err := parseReceipt(r)
		if err != nil {
			errs[i] = err
			continue
		}
		m := q.msgs[id]
		if m == nil || m.count != count || m.nonce != nonce {
			continue
		}
		q.remove(m)
		q.counts.deleted++
		buf = appendDelete(buf, id)
	}
	b := q.enqueue(buf, q.fifo() || full) // FIFO: the group may have no message in flight now
	q.mu.Unlock()
	if err := q.commit(b); err != nil {
		return nil, err
	}
	return errs, nil
}

// VisibilityChange is one ChangeMessageVisibility.
type VisibilityChange struct {
	Receipt string
	Timeout time.Duration
}

// ChangeVisibility sets the visibility timeouts of messages in flight,
// counted from now, returning one error per change: ErrReceiptInvalid,
// ErrReceiptExpired (not the message's newest receipt, or the message is
// gone), ErrNotInflight, or a *ValueError for a timeout out of range (each
// message stays invisible at most 12 hours after its receive).
func (q *Queue) ChangeVisibility(ctx context.Context, changes []VisibilityChange) ([]error, error) {
	errs := make([]error, len(changes))
	q.mu.Lock()
	if err := q.usable(); err != nil {
		q.mu.Unlock()
		return nil, err
	}
	now := q.now()
	buf := q.scratch[:0]
	wake := false
	for i, c := range changes {
		if c.Timeout < 0 || c.Timeout > MaxVisibility {
			errs[i] = &ValueError{Name: "VisibilityTimeout", Reason: "Must be between 0 and 43200."}
			continue
		}
		id, count, nonce, err := parseReceipt(c.Receipt)
		if err != nil {
			errs[i] = err
			continue
		}
		m := q.msgs[id]
		switch {
		case m == nil || m.count != count || m.nonce != nonce || now >= m.sentAt+q.retentionMs():
			errs[i] = ErrReceiptExpired
			continue
		case m.visibleAt <= now:
			errs[i] = ErrNotInflight
			continue
		case now+c.Timeout.Milliseconds() > m.receivedAt+MaxVisibility.Milliseconds():
			errs[i] = &ValueError{Name: "VisibilityTimeout", Reason: "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"}
			continue
		}
		if now+c.Timeout.Milliseconds() < m.visibleAt {
			wake = true
		}
		m.visibleAt = now + c.Timeout.Milliseconds()
		q.push(m)
		q.markInflight(m)
		buf = appendVisibility(buf, m)
	}
	b := q.enqueue(buf, wake)
	q.mu.Unlock()
	if err := q.commit(b); err != nil {
		return nil, err
	}
	return errs, nil
}

// Purge deletes every message sent before it. As SQS, one purge per 60
// seconds (ErrPurgeInProgress).
func (q *Queue) Purge(ctx context.Context) error {
	q.mu.Lock()
	if err := q.usable(); err != nil {
		q.mu.Unlock()
		return err
	}
	now := q.s.opts.Now()
	if !q.purged.IsZero() && now.Sub(q.purged) < time.Minute {
		q.mu.Unlock()
		return ErrPurgeInProgress
	}
	q.purged = now
	for _, m := range q.msgs {
		q.remove(m)
	}
	q.due = q.due[:0]
	q.order = q.order[:0]
	q.expiry = q.expiry[:0]
	var b *batch
	if q.nextSeq > 0 {
		b = q.w.enqueue(appendPurge(nil, q.nextSeq-1))
	}
	q.mu.Unlock()
	if b != nil {
		return q.commit(b)
	}
	return nil
}

// Attributes returns the queue's attributes by name (all of
// AttributeNames but QueueArn, which the API layer knows); names "All"
// or none mean every one. An unknown name is an *AttributeError.
func (q *Queue) Attributes(names ...string) (map[string]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(); err != nil {
		return nil, err
	}
	all := q.meta.Attributes.strings()
	if q.meta.Attributes.Policy != "" {
		all[AttrPolicy] = q.meta.Attributes.Policy
	}
	all[AttrCreatedTimestamp] = strconv.FormatInt(q.meta.Created, 10)
	all[AttrLastModifiedTimestamp] = strconv.FormatInt(q.meta.Modified, 10)
	now := q.now()
	var visible, inflight, delayed int
	ret := q.retentionMs()
	for _, m := range q.msgs {
		switch {
		case now >= m.sentAt+ret:
		case m.visibleAt <= now:
			visible++
		case m.count > 0:
			inflight++
		default:
			delayed++
		}
	}
	all[AttrApproximateNumberOfMessages] = strconv.Itoa(visible)
	all[AttrApproximateNumberOfMessagesNotVisible] = strconv.Itoa(inflight)
	all[AttrApproximateNumberOfMessagesDelayed] = strconv.Itoa(delayed)
	if len(names) == 0 {
		return all, nil
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all, nil
		}
		v, ok := all[n]
		switch {
		case ok:
			out[n] = v
		case n == AttrPolicy || n == AttrQueueArn || fifoOnly[n]:
		default:
			return nil, &AttributeError{Name: n, Unknown: true}
		}
	}
	return out, nil
}

// Settings returns the queue's settable attributes.
func (q *Queue) Settings() Attributes {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.meta.Attributes
}

// SetAttributes changes attributes (an *AttributeError names the first
// that cannot be set; then none is).
func (q *Queue) SetAttributes(set map[string]string) error {
	if _, ok := set[AttrFifoQueue]; ok {
		return &AttributeError{Name: AttrFifoQueue, Value: set[AttrFifoQueue], Reason: "it is set when a queue is created."}
	}
	if p, ok := set[AttrRedrivePolicy]; ok { // before q.mu: it looks at the target queue
		if err := q.s.checkRedrive(q.meta.Name, q.Settings().FifoQueue, p); err != nil {
			return err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(); err != nil {
		return err
	}
	a, err := q.meta.Attributes.With(set)
	if err != nil {
		return err
	}
	if err := a.checkFIFO(q.meta.Name, set); err != nil {
		return err
	}
	m := q.meta
	m.Attributes = a
	m.Modified = q.s.opts.Now().Unix()
	if err := q.saveMeta(m); err != nil {
		return err
	}
	q.meta = m
	q.rd, _ = parseRedrive(a.RedrivePolicy)
	q.wake() // a shorter delay or retention changes what is visible
	return nil
}

// Limits of tags, as SQS.
const (
	MaxTags        = 50
	MaxTagKeyLen   = 128
	MaxTagValueLen = 256
)

// Tags returns a copy of the queue's tags.
func (q *Queue) Tags() (map[string]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(q.meta.Tags))
	for k, v := range q.meta.Tags {
		out[k] = v
	}
	return out, nil
}

// Tag adds or replaces tags.
func (q *Queue) Tag(tags map[string]string) error {
	if err := checkTags(tags); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(); err != nil {
		return err
	}
	m := q.meta
	m.Tags = make(map[string]string, len(q.meta.Tags)+len(tags))
	for k, v := range q.meta.Tags {
		m.Tags[k] = v
	}
	for k, v := range tags {
		m.Tags[k] = v
	}
	if len(m.Tags) > MaxTags {
		return &ValueError{Name: "Tags", Reason: fmt.Sprintf("Too many tags added for queue %s (at most %d).", m.Name, MaxTags)}
	}
	if err := q.saveMeta(m); err != nil {
		return err
	}
	q.meta = m
	return nil
}

// Untag removes tags by key.
func (q *Queue) Untag(keys []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(); err != nil {
		return err
	}
	m := q.meta
	m.Tags = make(map[string]string, len(q.meta.Tags))
	for k, v := range q.meta.Tags {
		m.Tags[k] = v
	}
	for _, k := range keys {
		delete(m.Tags, k)
	}
	if err := q.saveMeta(m); err != nil {
		return err
	}
	q.meta = m
	return nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return &ValueError{Name: "Tags", Reason: fmt.Sprintf("At most %d tags.", MaxTags)}
	}
	for k, v := range tags {
		if k == "" || len(k) > MaxTagKeyLen || !validChars(k) {
			return &ValueError{Name: "TagKey", Reason: fmt.Sprintf("Tag keys must be 1 to %d characters.", MaxTagKeyLen)}
		}
		if len(v) > MaxTagValueLen || !validChars(v) {
			return &ValueError{Name: "TagValue", Reason: fmt.Sprintf("Tag values must be at most %d characters.", MaxTagValueLen)}
		}
	}
	return nil
}

func (q *Queue) saveMeta(m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(q.dir, metaFile), b, 0o644); err != nil {
		return fmt.Errorf("%w: cannot write %s: %v", ErrUnavailable, filepath.Join(q.dir, metaFile), err)
	}
	return nil
}

// dueHeap orders messages by the time they become visible, then by send order.
type dueEntry struct {
	m   *msg
	at  int64
	seq uint64
	gen uint64
}

type dueHeap []dueEntry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newID() (id [16]byte) {
	_, _ = rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

func randU64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	v := binary.LittleEndian.Uint64(b[:])
	if v == 0 {
		v = math.MaxUint64
	}
	return v
}

// formatID formats a message id as a UUID.
func formatID(id [16]byte) string { return store.FormatUUID(id) }

// Stats are a queue's message counts now and what it has done since its
// store opened.
type Stats struct {
	Visible, InFlight, Delayed int
	// OldestAge is the age of the oldest message in the queue (0 for none).
	OldestAge time.Duration
	// Since the store opened: messages sent (not counting deduplicated
	// sends), received (each receive of a message), deleted by
	// DeleteMessage, moved to the dead-letter queue by receives, and the
	// bytes of the messages sent (bodies and attributes).
	Sent, Received, Deleted, DeadLettered, SentBytes uint64
}

// Stats counts the queue's messages; it looks at each once, under the
// queue's lock.
func (q *Queue) Stats() (Stats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(); err != nil {
		return Stats{}, err
	}
	now := q.now()
	ret := q.retentionMs()
	st := Stats{Sent: q.counts.sent, Received: q.counts.received, Deleted: q.counts.deleted,
		DeadLettered: q.counts.deadLettered, SentBytes: q.counts.sentBytes}
	oldest := now
	for _, m := range q.msgs {
		switch {
		case now >= m.sentAt+ret:
			continue
		case m.visibleAt <= now:
			st.Visible++
		case m.count > 0:
			st.InFlight++
		default:
			st.Delayed++
		}
		oldest = min(oldest, m.sentAt)
	}
	st.OldestAge = time.Duration(now-oldest) * time.Millisecond
	return st, nil
}
