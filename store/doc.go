// Package store is Sluice's own sharded, durable stream store with the
// semantics and wire API of Amazon Kinesis Data Streams; it is the embedded
// default that producers write to and jobs read from.
package store
