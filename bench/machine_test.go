package bench

import (
	"testing"
	"time"
)

// TestMachineBusyCountsThisProcess: the machine's busy time grows at least
// by the CPU this process spends, and withOthers sets a run's Others from
// it.
func TestMachineBusyCountsThisProcess(t *testing.T) {
	b0, ok := machineBusy()
	if !ok {
		t.Skip("no /proc/stat here")
	}
	c0 := cpuTime()
	spin := func() {
		for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		}
	}
	spin()
	b1, _ := machineBusy()
	if own := cpuTime() - c0; b1-b0 < own-3*clockTick {
		t.Fatalf("the machine was busy %v while this process used %v", b1-b0, own)
	}
	r, err := withOthers(func() (Result, error) {
		m := startMeter()
		spin()
		wall, cpu := m.stop()
		return Result{Elapsed: wall, CPU: cpu}, nil
	})
	if err != nil || !r.OthersKnown || r.Others < 0 || r.OtherCores() > 2 {
		t.Fatalf("others %v (known %v, %.2f cores), err %v", r.Others, r.OthersKnown, r.OtherCores(), err)
	}
}
