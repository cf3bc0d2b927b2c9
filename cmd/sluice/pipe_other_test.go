//go:build !linux

package main

import (
	"os"
	"testing"
	"time"
)

// waitPipeFull gives the pipe whose read end is r time to fill: without
// Linux's FIONREAD and F_GETPIPE_SZ, a fixed half second.
func waitPipeFull(t *testing.T, r *os.File) {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
}
