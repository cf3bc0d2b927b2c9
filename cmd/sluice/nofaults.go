//go:build !sluice_faultinject

package main

import "github.com/sluicehq/sluice/runtime"

// injectFaults does nothing: the fault-injection hooks of tests are built
// with -tags sluice_faultinject only.
func injectFaults(*runtime.SupervisorOptions) error { return nil }
