// Package store is Sluice's own sharded, durable stream store with the
// semantics and wire API of Amazon Kinesis Data Streams; it is the embedded
// default that producers write to and jobs read from.
//
// Its parts:
//
//   - this package: streams and their shards — 128-bit hash keys (MD5 of
//     the partition key), even ranges at creation, split and merge (parents
//     close, children take their ranges) — and the API's limits and
//     validation with AWS's error names;
//   - store/log: the append-only, CRC-framed segment log of one shard, with
//     group-commit fsync (a write is acknowledged only once it is durable)
//     and recovery that truncates a torn tail but reports corruption;
//   - store/sigv4: verification of AWS Signature Version 4 on requests;
//   - store/iterator: opaque, MAC'd shard iterators that expire.
//
// The HTTP server speaking the Kinesis JSON 1.1 protocol, the store
// connector and `sluice store` build on these.
package store
