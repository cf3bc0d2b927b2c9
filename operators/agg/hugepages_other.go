//go:build !linux

package agg

// madviseHuge does nothing where huge pages cannot be asked for.
func madviseHuge([]byte) {}
