// Package queue is the durable queue engine of the store: queues with the
// semantics of Amazon SQS standard and FIFO queues, without HTTP (store/server
// serves the SQS API over it).
//
// # Semantics
//
// A queue delivers each message at least once. Receive takes up to ten
// visible messages, oldest visible first, makes them invisible for the
// visibility timeout, counts the receive and hands out a receipt handle
// that is new on every receive. Delete with the newest handle of a message
// deletes it; with an older handle (the message was received again since)
// it is accepted and does nothing, as SQS documents. ChangeVisibility needs
// the newest handle of a message in flight. A message may be delayed (the
// queue's DelaySeconds or its own, at most 15 minutes) and expires after
// the queue's MessageRetentionPeriod. Receive may wait (long polling, at
// most 20 s) for a message to become visible: it is woken by sends and
// visibility changes, and by a timer at the next visibility deadline.
// A queue holds at most Limits.MaxInFlight messages in flight (received,
// neither deleted nor visible again; SQS's 120,000): a receive that does
// not wait then fails with ErrOverLimit, one that waits waits for room.
// A FIFO queue holds at most Limits.MaxInFlightFIFO (20,000): a receive
// then returns no more messages.
//
// A FIFO queue (FifoQueue, a name ending in ".fifo") delivers the messages
// of each message group in send order, with at most one batch of a group
// in flight: a receive takes messages in send order from the groups that
// have none in flight. A send names its group and a deduplication id (or
// the queue has ContentBasedDeduplication: the SHA-256 of the body); a
// send whose id was seen in the last 5 minutes is accepted and answered
// with the first message's id and sequence number, and sends nothing. The
// ids of the window survive restarts and rewrites of the log.
//
// # Durability
//
// Each queue lives in a folder of the store folder, named after it:
// queue.json (attributes, tags, creation time) replaced atomically, and
// messages.log, an append-only log of records (message sent, received,
// visibility changed, deleted, purged). Every call that changes a queue
// returns only after its records are fsync'd; concurrent calls share one
// write and one fsync (group commit: the first caller to wait writes what
// all have queued). So a message acknowledged by Send survives kill -9,
// receive counts and visibility deadlines survive restarts, and a message
// whose Delete was acknowledged never comes back. Open replays the log; a
// torn tail (a last frame that is incomplete or fails its checksum, left
// by a crash during a write that was never acknowledged) is cut and
// logged; a bad frame with bytes after it is damage, and Open fails
// naming the file and offset. When the log holds mostly dead
// records, it is rewritten with the live messages only (to a temporary
// file, fsync'd, renamed over the log, the folder fsync'd).
//
//	frame = bodyLen uint32 | crc uint32 (CRC32C of body) | body
//	body  = kind byte | fields (little endian; see record.go)
//
// # Lifecycle
//
// Open returns a *Store that owns its folder; the caller must Close it.
// A *Queue stays valid until the queue is deleted (its calls then return
// ErrQueueDeleted) or the store closed (ErrClosed). All methods are safe
// for concurrent use.
package queue
