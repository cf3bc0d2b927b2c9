package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/iterator"
)

// LongPollHeader asks GetRecords to wait for records instead of answering
// an empty page at once (a Sluice extension; AWS has no such header).
//
// Its value is a whole number of milliseconds from 1 to 10000. When the
// iterator is at the end of an open shard, GetRecords waits up to that long
// for the first of: records committed to the shard, the shard closed by a
// split or merge, the stream deleted, the server closed, or the client
// gone; then it answers exactly as GetRecords would at that moment (empty,
// with a NextShardIterator at the same position, if the wait elapsed). In
// every other case the header changes nothing. Any other value is answered
// with ValidationException. The stream stays unlocked while the call waits.
const LongPollHeader = "X-Sluice-Long-Poll"

// MaxLongPoll is the longest wait LongPollHeader may ask for.
const MaxLongPoll = 10 * time.Second

// longPollWait returns the wait LongPollHeader asks for, zero without it.
func longPollWait(h http.Header) (time.Duration, error) {
	vals, ok := h[http.CanonicalHeaderKey(LongPollHeader)]
	if !ok {
		return 0, nil
	}
	var v string
	if len(vals) > 0 {
		v = vals[0]
	}
	ms, err := strconv.Atoi(v)
	if err != nil || len(vals) != 1 || ms < 1 || time.Duration(ms)*time.Millisecond > MaxLongPoll {
		return 0, apiErr(store.ErrValidation, store.MsgValidationErrors, 1, "",
			fmt.Sprintf(store.MsgValueAtHeader, v, LongPollHeader, fmt.Sprintf(store.MsgLongPollHeader, MaxLongPoll.Milliseconds())))
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// waiter is what a long-polling GetRecords waits on: the shard log's next
// commit and the stream's next change of shards or lifecycle.
type waiter struct {
	log    <-chan struct{}
	stream <-chan struct{}
}

// longPoll answers GetRecords at pos, first waiting up to wait while pos is
// at the end of an open shard.
func (s *Server) longPoll(ctx context.Context, pos iterator.Position, limit int, wait time.Duration) (jsonBody, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	mayWait := true
	for {
		out, w, err := s.readShard(pos, limit, mayWait)
		if err != nil || w == nil {
			return out, err
		}
		select {
		case <-w.log:
		case <-w.stream:
		case <-s.stop:
			mayWait = false
		case <-ctx.Done():
			mayWait = false
		case <-timer.C:
			mayWait = false
		}
	}
}

// changed returns a channel closed at the stream's next change of shards
// (split, merge) or lifecycle (deleted, closed), for long-polling readers.
func (st *stream) changed() <-chan struct{} {
	st.waitMu.Lock()
	defer st.waitMu.Unlock()
	if st.wake == nil {
		st.wake = make(chan struct{})
	}
	return st.wake
}

// notify wakes the readers waiting on changed.
func (st *stream) notify() {
	st.waitMu.Lock()
	defer st.waitMu.Unlock()
	if st.wake != nil {
		close(st.wake)
		st.wake = nil
	}
}
