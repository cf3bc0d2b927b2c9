package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"syscall"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

func (s *Server) logf(format string, args ...any) { s.opts.Logf(format, args...) }

// shardErr is an error of a shard's log, with the shard it came from and
// that shard's API sequence numbers (num.Seq is set per message).
type shardErr struct {
	shard string
	num   *store.SequenceNumber // nil: show the log's numbers
	err   error
}

func (e *shardErr) Error() string { return e.err.Error() }
func (e *shardErr) Unwrap() error { return e.err }

// inShard tags an error of shard's log with the shard, for failure.
func inShard(shard string, err error) error {
	if err == nil {
		return nil
	}
	return &shardErr{shard: shard, err: err}
}

// inShardNum is inShard for a shard whose API sequence numbers are num's,
// so that replies name records as clients know them.
func inShardNum(shard string, num store.SequenceNumber, err error) error {
	if err == nil {
		return nil
	}
	return &shardErr{shard: shard, num: &num, err: err}
}

// seqText is log sequence number seq as the API shows it.
func (e *shardErr) seqText(seq uint64) string {
	if e == nil || e.num == nil {
		return strconv.FormatUint(seq, 10)
	}
	n := *e.num
	n.Seq = seq
	return n.String()
}

// failure maps an error that is not an API error to the HTTP status, AWS
// error code and message of the reply. The messages never name server
// files: those go to the store's log.
//
//   - A log refusing writes (disk full, no file descriptors, failing
//     fsync): 503 ServiceUnavailable, which AWS SDKs retry.
//   - A read reaching records lost to damage (--on-corruption stop), or a
//     shard made read-only by damage: 500 InternalFailure naming the shard
//     and the sequence numbers.
//   - Any other failure (of a file, a rename, a closed store): 500
//     InternalFailure, "Internal service failure.", and the error goes to
//     the store's log, since its text may name server files.
func (s *Server) failure(err error) (status int, code, msg string) {
	shard := "?"
	var se *shardErr
	if errors.As(err, &se) {
		shard = se.shard
	}
	var ce *slog.CorruptError
	switch {
	case errors.Is(err, slog.ErrUnavailable):
		cause := "storage failure"
		var errno syscall.Errno
		if errors.As(err, &errno) {
			cause = errno.Error()
		}
		return http.StatusServiceUnavailable, "ServiceUnavailable",
			fmt.Sprintf(store.MsgShardUnavailable, shard, cause)
	case errors.Is(err, slog.ErrReadOnly):
		return http.StatusInternalServerError, "InternalFailure",
			fmt.Sprintf(store.MsgShardReadOnly, shard)
	case errors.As(err, &ce) && ce.Next > ce.Seq:
		return http.StatusInternalServerError, "InternalFailure",
			lostRecords(se, ce.Seq, ce.Next-1, shard)
	case errors.As(err, &ce):
		s.logf("shard %s: %v", shard, err)
		return http.StatusInternalServerError, "InternalFailure",
			fmt.Sprintf(store.MsgDamagedRecord, shard)
	}
	if se != nil {
		s.logf("shard %s: %v", shard, err)
	} else {
		s.logf("%v", err)
	}
	return http.StatusInternalServerError, "InternalFailure", store.MsgInternalFailure
}

// lostRecords names the records first to last of shard, as clients know
// their sequence numbers.
func lostRecords(se *shardErr, first, last uint64, shard string) string {
	if first == last {
		return fmt.Sprintf(store.MsgLostRecord, se.seqText(first), shard)
	}
	return fmt.Sprintf(store.MsgLostRecords, se.seqText(first), se.seqText(last), shard)
}
