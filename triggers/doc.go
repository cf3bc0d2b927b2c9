// Package triggers runs function triggers: Lambda-style event source
// mappings that read a store stream, shard by shard and in order, and invoke
// a function with batches of its records.
//
// A Trigger reads every shard of its stream (a child shard once its parents
// are read to their end), builds batches of up to BatchSize records — waiting
// up to BatchWindow for a batch to fill — and invokes its function (an HTTP
// endpoint or a local command, see Invoker) with Lambda's Kinesis event,
// {"Records":[…]}. Each shard has at most one batch in flight, so the
// function sees a shard's records in order; shards run in parallel, at most
// Concurrency invocations at a time.
//
// A failed invocation (an error, a non-2xx answer, an exit status other than
// 0) is retried with exponential backoff, up to MaxRetryAttempts times (-1:
// until it succeeds). With BisectOnError, a failing batch is first split in
// two halves, each retried on its own, down to the record that fails. With
// ReportBatchItemFailures, the function may answer
// {"batchItemFailures":[{"itemIdentifier":"<sequenceNumber>"}]}: the records
// before the first one named are done, the rest are retried. A batch whose
// retries are exhausted is described (shard, first and last sequence
// numbers, the error: Lambda's on-failure record) to the OnFailure
// destination, and the trigger moves on. Throttles (HTTP 429) are retried
// without counting as attempts.
//
// Positions: after each batch that succeeded or went to the destination,
// the shard's last sequence number is written to the positions file
// (PositionsDir) and fsync'd before the next batch is read (shards that
// finish batches meanwhile share one write); a trigger
// restarted — after kill -9 too — goes on after it. Delivery is
// at-least-once: the batch in flight when a process dies is invoked again.
//
// A trigger on a queue of the store (Config.Queue, see QueueSource) polls
// it as Lambda's SQS event source mapping does: it deletes the messages of
// each batch the function took, and leaves those of a failed one to
// reappear after the queue's visibility timeout — and, past the queue's
// maxReceiveCount, to move to its dead-letter queue.
package triggers
