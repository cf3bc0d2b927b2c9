package agg

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestHugePagesMarksTheArray allocates a 9 MB array, asks for huge pages,
// and checks in /proc/self/smaps (linux) that the mappings holding the
// first and the last byte of its 2 MB-aligned interior are marked for
// huge pages ("hg" in VmFlags).
func TestHugePagesMarksTheArray(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("huge page hints are linux only")
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skip("this kernel has no transparent huge pages:", err)
	}
	s := make([]uint64, 9<<20/8)
	before := hugeHints.Load()
	hugePages(s)
	if hugeHints.Load() != before+1 {
		t.Fatal("no hint given")
	}
	p := uintptr(unsafe.Pointer(&s[0]))
	start := (p + hugePageSize - 1) &^ (hugePageSize - 1)
	end := (p + uintptr(len(s))*8) &^ (hugePageSize - 1)
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	runtime.KeepAlive(s)
	for _, at := range []uintptr{start, end - 1} {
		var lo, hi uintptr
		found := false
		for _, line := range strings.Split(string(data), "\n") {
			var a, b uintptr
			if n, _ := fmt.Sscanf(line, "%x-%x", &a, &b); n == 2 && strings.Contains(line, " ") {
				lo, hi = a, b
				continue
			}
			if strings.HasPrefix(line, "VmFlags:") && lo <= at && at < hi {
				found = true
				if !strings.Contains(line, " hg") {
					t.Fatalf("mapping %x-%x holding %x of the array is not marked: %s", lo, hi, at, line)
				}
			}
		}
		if !found {
			t.Fatalf("no mapping holds %x", at)
		}
	}
}
