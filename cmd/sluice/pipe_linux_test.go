//go:build linux

package main

import (
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// waitPipeFull waits (10 s at most) until the pipe whose read end is r
// holds as many bytes as it can: its writer is then blocked, or will be at
// its next write.
func waitPipeFull(t *testing.T, r *os.File) {
	t.Helper()
	rc, err := r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	held := func() (n, size int) {
		var errno syscall.Errno
		if err := rc.Control(func(fd uintptr) {
			var v int32
			if _, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); errno != 0 {
				return
			}
			var c uintptr
			c, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETPIPE_SZ, 0)
			n, size = int(v), int(c)
		}); err != nil {
			t.Fatal(err)
		}
		if errno != 0 {
			t.Fatalf("the pipe's size: %v", errno)
		}
		return n, size
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, size := held()
		if n >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipe holds %d of %d bytes after 10 s", n, size)
		}
	}
}
