//go:build linux

package agg

import "syscall"

// madviseHuge marks b (2 MB-aligned, part of a Go array) MADV_HUGEPAGE:
// with transparent huge pages in "madvise" mode (a common default) the
// kernel then faults the range in 2 MB at a time. Only a hint: an error (an old kernel, THP disabled) is
// ignored, and the memory stays as it was.
func madviseHuge(b []byte) {
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
