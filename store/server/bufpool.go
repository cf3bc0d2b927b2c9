package server

import (
	"io"
	"math/bits"
	"sync"
)

// Pooled byte buffers for request bodies, decoded record data and encoded
// responses, in power-of-two size classes from 1 KiB to 16 MiB (a full
// GetRecords answer). Larger buffers are not pooled.
const (
	minPoolShift = 10
	maxPoolShift = 24
)

var bufPools [maxPoolShift - minPoolShift + 1]sync.Pool

// poolClass returns the size class holding buffers of at least n bytes, or
// -1 when n is too big to pool.
func poolClass(n int) int {
	if n <= 1<<minPoolShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minPoolShift
	if c >= len(bufPools) {
		return -1
	}
	return c
}

// bufCap is the capacity of the buffer getBuf(n) returns.
func bufCap(n int) int {
	c := poolClass(n)
	if c < 0 {
		return n
	}
	return 1 << (c + minPoolShift)
}

// getBuf returns an empty buffer with room for at least n bytes. The caller
// owns it and may hand it back with putBuf once nothing refers to it.
func getBuf(n int) []byte {
	c := poolClass(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if b, ok := bufPools[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<(c+minPoolShift))
}

// putBuf returns b to its pool; b must not be used afterwards.
func putBuf(b []byte) {
	n := cap(b)
	if n < 1<<minPoolShift {
		return
	}
	// The class whose buffers b can serve: the largest power of two ≤ cap.
	c := bits.Len(uint(n)) - 1 - minPoolShift
	if c >= len(bufPools) {
		return
	}
	bufPools[c].Put(&b)
}

// readBody reads r to its end into a pooled buffer sized from size (the
// request's Content-Length, or -1 when unknown). The caller owns the result
// and hands it back with putBuf; on error there is nothing to hand back.
func readBody(r io.Reader, size int64) ([]byte, error) {
	n := 512
	if size > 0 {
		n = int(size) + 1 // room to see the end without growing
	}
	b := getBuf(n)
	for {
		if len(b) == cap(b) {
			bigger := getBuf(2 * cap(b))
			bigger = append(bigger, b...)
			putBuf(b)
			b = bigger
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			putBuf(b)
			return nil, err
		}
	}
}

// dropPooledBufs empties the pools (but for buffers held in other Ps'
// private slots, which the next collections free), so that a collection
// frees the buffers of a past burst of requests.
func dropPooledBufs() {
	for c := range bufPools {
		for bufPools[c].Get() != nil {
		}
	}
}
