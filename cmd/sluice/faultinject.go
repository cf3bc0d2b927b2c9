//go:build sluice_faultinject

package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/sluicehq/sluice/runtime"
)

// injectFaults arms the fault-injection hooks of tests (built with -tags
// sluice_faultinject only): SLUICE_FAULT_KILL_BEFORE_COMMIT=N SIGKILLs this
// process once checkpoint N is durable, before its output is published.
func injectFaults(sup *runtime.SupervisorOptions) error {
	v := os.Getenv("SLUICE_FAULT_KILL_BEFORE_COMMIT")
	if v == "" {
		return nil
	}
	at, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("SLUICE_FAULT_KILL_BEFORE_COMMIT=%q: not a checkpoint id", v)
	}
	sup.BeforeCommit = func(id int64) {
		if id == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	return nil
}
