package bench

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of /proc/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// machineBusy returns the CPU time the whole machine has used since boot:
// the user, nice, system, irq, softirq and steal times of /proc/stat's
// cpu line (steal: time the hypervisor gave to other machines while this
// one wanted to run), or false where /proc/stat cannot be read.
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, false
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, false
		}
		busy += v
	}
	return time.Duration(busy) * clockTick, true
}

// withOthers runs run and sets its result's Others: the CPU time the rest
// of the machine used meanwhile (the machine's busy time less the
// process's), when /proc/stat tells.
func withOthers(run func() (Result, error)) (Result, error) {
	b0, ok0 := machineBusy()
	r, err := run()
	if b1, ok1 := machineBusy(); ok0 && ok1 && err == nil {
		r.Others, r.OthersKnown = max(0, b1-b0-r.CPU), true
	}
	return r, err
}

// OtherCores is how many cores' worth of CPU the rest of the machine used
// during the run, on average (0 when not known).
func (r Result) OtherCores() float64 {
	if !r.OthersKnown || r.Elapsed <= 0 {
		return 0
	}
	return r.Others.Seconds() / r.Elapsed.Seconds()
}
