package agg

import (
	"sync/atomic"
	"unsafe"
)

// hugePageSize is the size of a transparent huge page on amd64 and arm64.
const hugePageSize = 2 << 20

// maxHugeHints bounds the ranges a process marks: each can split a
// mapping of the Go heap in up to three, and the kernel limits a process's
// mappings (vm.max_map_count, 65,530 by default). 10,000 ranges of at
// least 2 MB cover 20 GB and more of window state.
const maxHugeHints = 10_000

var hugeHints atomic.Int32

// hugePages asks the kernel to back the 2 MB-aligned interior of a large
// array that has just been allocated, and not yet touched, with huge pages
// (see madviseHuge; a no-op where it is not supported). The state of a
// window of millions of keys is written once, in an order no prefetcher
// follows: on a VM, faulting its memory in 4 KB at a time can cost more
// than the aggregation, and a 2 MB page takes one fault for 512 of them.
// Measured on `sluice bench --suite windows --rows tumble-10mkeys-full`
// (one window of 8.6M keys, interleaved runs with and without): the
// process's system time 3.8 s → 1.5 s, its CPU time 10.2 s → 5.6 s,
// events/s 1.9×. Memory Go hands out again after zeroing it is already
// touched, and stays as it is. Arrays smaller than two huge pages are left
// alone.
func hugePages[T int64 | float64 | uint64](s []T) {
	var x T
	n := uintptr(cap(s)) * unsafe.Sizeof(x)
	if n < 2*hugePageSize {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), n)
	p := uintptr(unsafe.Pointer(&b[0]))
	start := (p+hugePageSize-1)&^(hugePageSize-1) - p
	end := (p+n)&^(hugePageSize-1) - p
	if end > start && hugeHints.Add(1) <= maxHugeHints {
		madviseHuge(b[start:end])
	}
}
